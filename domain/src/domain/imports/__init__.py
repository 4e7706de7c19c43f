"""Imports: the rows (`repository.py`), their listing (`listing.py`) and their files
(`files.py`), and what a stored file is (`stored.py`)."""
