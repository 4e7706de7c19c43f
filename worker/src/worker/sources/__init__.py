"""Source connectors behind one contract (`base.py`), declared in the registry (`registry.py`,
one module per source in `specs/`)."""
