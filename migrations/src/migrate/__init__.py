"""Applies the database schema: Procrastinate's job tables and the app's own, in order, once."""
