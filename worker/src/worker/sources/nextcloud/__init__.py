"""Nextcloud, ownCloud and oCIS public shares, read anonymously over WebDAV.

A share link (`https://<host>/s/<token>`, see `domain.sources.nextcloud`) names a folder the
server serves over WebDAV in one of three shapes (`shapes`), found once per server by trying
them in order and remembered for the process. A folder is listed with one `PROPFIND Depth: 1`,
whose answer is parsed as it streams (`multistatus`) into a listing on disk that the pipeline
reads page by page (`spool`); a file is one GET. `connector` makes the pipeline's calls of
these, `dav` sends every request, and `failures` reads an error answer. Every request goes to
an address of the host that the address policy allows, checked at that moment
(`worker.sources.addresses`, shared with public buckets).

How the pipeline's records carry a share's folders and files (`records`):
- `FolderRef.folder_id` is the import's folder id for the link's folder, and the path in the
  share for a subfolder (`/2024/summer`): an id that starts with `/` is such a path.
- `SourceFile.file_id` is `nc:` + a hash of the server and its own file id (`oc:fileid`, which
  a rename keeps), or of the share and the file's path when the server gives none.
- `SourceFile.resource_key` is the file's path in the share; the link and its password stay
  the import's (`ImportLink`), never copied into a file's row.
- `SourceFile.checksums` are the server's `oc:checksums` of the kinds a hasher is registered for
  (MD5, SHA-1, SHA-256), when it has them: the transfer is checked against them and a re-import
  finds the file unchanged by them;
- `SourceFile.version` is the file's ETag (`d:getetag`), which the server changes with the
  file's content: with the size, it finds a file without checksums unchanged on a re-import
  or sync. It vouches for nothing about the bytes, and no transfer is checked against it.
"""

from domain.sources.nextcloud import ALLOWED_NETWORKS_SETTING, NextcloudSettings
from worker.sources.addresses import guarded_client
from worker.sources.base import ConnectorDeps, SourceConnector
from worker.sources.nextcloud.connector import NextcloudConnector
from worker.sources.nextcloud.failures import classify_error
from worker.sources.nextcloud.records import share_file_id

__all__ = ["NextcloudConnector", "build_connector", "classify_error", "share_file_id"]


def build_connector(settings: NextcloudSettings, deps: ConnectorDeps) -> SourceConnector:
    return NextcloudConnector(
        guarded_client(deps, settings.networks(), setting=ALLOWED_NETWORKS_SETTING),
        pacer_for=lambda host: deps.pacer("nextcloud", host),
        allowed_networks=settings.networks(),
        page_size=deps.page_size,
        spool_dir=settings.spool_dir,
    )
