"""The object store: streaming uploads and reads (`object_store.py`), large files through
boto3's transfer manager (`multipart_upload.py`), the checks on bytes in flight
(`upload_tally.py`), and waiting out an outage (`outage.py`)."""
