"""Which sources exist (`registry.py`, one module per source declaring its links, settings and
capabilities) and the records their folders are listed as (`records.py`)."""
