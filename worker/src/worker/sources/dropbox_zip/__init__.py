"""Dropbox shared folders without credentials: through the zip Dropbox's web link downloads.

A shared folder's link with `dl=1` (on `DROPBOX_WEB_URL`, default https://www.dropbox.com)
answers with a zip of the whole folder, built as it is sent; that is the only key-less way to
its files (Dropbox gives no per-file links inside a folder link). So the zip is spooled to disk
and read from there:

- The root folder's first listing page downloads a fresh copy and names it (a `snapshot`).
  Every later page, subfolder and file of the import carries that name in its `LinkRef`, and a
  worker process reuses a copy it already holds under that name, or downloads one and keeps it
  under that name. So each worker process downloads the zip once per import (plus retries), a
  re-import always lists today's folder, and every job, wherever it runs, can still do its work
  alone.
- A file is identified by its path below the link's root (`zip:` + a hash of the link and the
  path: the zip has no Dropbox ids). Listing reads each file's bytes from the copy to give its
  size and MD5, so a transfer, reading the same entry from any copy, is checked against them,
  and a re-import finds unchanged files without uploading them again.

A crash mid-download leaves only a `.part` file, which nobody reads; a job that runs again
downloads again. A crash mid-transfer changes nothing either: the transfer reads its entry again.
Memory stays bounded: the zip goes to disk in chunks, and entries are read in chunks.

- `download`: asking Dropbox for the zip and spooling it to disk;
- `snapshots`: the process's copies on disk, shared by its jobs, and their clean-up;
- `connector`: the `SourceConnector` listing and reading a copy.
"""

from worker.sources.dropbox_zip.connector import DropboxZipConnector, zip_file_id

__all__ = ["DropboxZipConnector", "zip_file_id"]
