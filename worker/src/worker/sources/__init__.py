"""Source connectors behind one contract (`base.py`), each named by its entry in the registry
(`domain.sources`)."""
