"""Contents stored once: the backfill of images stored before them (`backfill.py`)."""
