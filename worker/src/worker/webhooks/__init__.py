"""Webhooks: sending each recorded delivery, signed, to an address the policy allows
(`delivery.py`); their jobs in `tasks.py`."""
