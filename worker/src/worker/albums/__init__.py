"""Albums for the images stored before albums existed: the backfill that lists their imports'
folders again (`backfill.py`); its periodic job in `tasks.py`. New imports place their images
themselves, as they list (worker/imports/listing.py)."""
