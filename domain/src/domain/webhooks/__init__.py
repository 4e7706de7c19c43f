"""Webhooks: which notify URLs are allowed (`address_policy.py`)."""
