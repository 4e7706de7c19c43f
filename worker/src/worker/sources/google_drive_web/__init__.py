"""Google Drive without an API key, through the public web pages a signed-out browser uses.

Listing reads `{web_url}/embeddedfolderview?id=<folder>`: an HTML page with every child of the
folder (no paging, no sizes, no checksums). Downloads ask
`{download_url}/download?id=<file>&export=download&confirm=t` and follow the "virus scan
warning" form Google puts in front of large files. Neither endpoint is documented, so parsing is
lenient and anything unrecognised fails loudly rather than importing nothing.

- `pages`: what the HTML pages say (folder entries, the download page), as plain data;
- `session`: GETs on Google's hosts, with redirects followed and rebased by hand;
- `connector`: the `SourceConnector` on top of the two.
"""

from worker.sources.google_drive_web.connector import GoogleDriveWebConnector
from worker.sources.google_drive_web.session import classify_error

__all__ = ["GoogleDriveWebConnector", "classify_error"]
