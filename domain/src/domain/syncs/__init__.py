"""Syncs: a folder imported again on a schedule (`repository.py`)."""
