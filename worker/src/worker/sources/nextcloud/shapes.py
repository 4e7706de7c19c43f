"""The three places a server serves a public share over WebDAV, and how each takes a password.

- `nextcloud`: Nextcloud 29 and later, `/public.php/dav/files/<token>/`. The token is in the
  path; a password goes as HTTP Basic with any user name (the server reads only the password,
  `apps/dav/lib/Connector/Sabre/PublicAuth.php`): `anonymous:<password>`.
- `legacy`: older Nextcloud and ownCloud 10 (and Nextcloud still), `/public.php/webdav/`, the
  token as the Basic user name and the password (empty without one) as its password
  (`LegacyPublicAuth.php`).
- `ocis`: oCIS (and ownCloud Infinite Scale's successors), `/dav/public-files/<token>/`, a
  password as Basic `public:<password>` (ownCloud Web and owncloud-sdk send it so).

Nextcloud refuses every method but GET on its public WebDAV unless the request says it comes
from its own web page (`X-Requested-With: XMLHttpRequest`, `publicremote.php`) or the server
allows federated sharing; every request carries that header, as the share's page does.
"""

from base64 import b64encode
from dataclasses import dataclass
from urllib.parse import quote

AJAX_HEADERS = {"X-Requested-With": "XMLHttpRequest"}


@dataclass(frozen=True)
class DavShape:
    name: str
    # Below the server's base path; `{token}` is replaced by the share's token.
    root_template: str
    # The Basic user name sent with a password; `{token}` for the token itself.
    user: str
    # Whether Basic credentials go even without a password (the token is the user name).
    always_basic: bool = False

    def root_path(self, base_path: str, token: str) -> str:
        """The share's root as a path on the server: `/<base>/public.php/dav/files/<token>`."""
        return base_path.rstrip("/") + self.root_template.format(token=quote(token, safe=""))

    def authorization(self, token: str, password: str | None) -> str | None:
        if password is None and not self.always_basic:
            return None
        user = self.user.format(token=token)
        credentials = f"{user}:{password or ''}".encode()
        return "Basic " + b64encode(credentials).decode()


NEXTCLOUD = DavShape("nextcloud", "/public.php/dav/files/{token}", "anonymous")
LEGACY = DavShape("legacy", "/public.php/webdav", "{token}", always_basic=True)
OCIS = DavShape("ocis", "/dav/public-files/{token}", "public")

# In the order they are tried on a server not met before.
SHAPES = (NEXTCLOUD, LEGACY, OCIS)


def dav_path(root: str, path: str) -> str:
    """The server path of `path` below a share's root, percent-encoded: `/a b/c.jpg` →
    `<root>/a%20b/c.jpg`; a folder's ends with `/`."""
    encoded = quote(path, safe="/")
    return root + (encoded if encoded.startswith("/") else f"/{encoded}")
