"""Derivatives of stored images: thumbnails and facts made in threads (`making.py`,
`imaging.py`), the backfill for images stored without them (`backfill.py`); their jobs in
`tasks.py`."""
