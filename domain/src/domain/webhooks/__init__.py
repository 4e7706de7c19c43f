"""Webhooks: which notify URLs are allowed (`address_policy.py`) and the deliveries recorded for
them (`repository.py`)."""
