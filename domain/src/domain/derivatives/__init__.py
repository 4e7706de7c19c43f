"""Derivatives of stored images: thumbnails and facts (`repository.py`)."""
