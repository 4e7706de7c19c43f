"""Contents: the bytes of images, stored once each whatever the files holding them
(`repository.py`)."""
