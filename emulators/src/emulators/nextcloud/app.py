"""The ASGI application: a Nextcloud (or ownCloud 10, or oCIS) server's public share WebDAV.

Served as the server's flavour says (`EmulatorSettings.flavour`):
- `/public.php/dav/files/<token>/<path>` (Nextcloud 29+): a password as Basic auth with any
  user name; an unknown token is 404 (`PublicAuth.php`);
- `/public.php/webdav/<path>` (every Nextcloud, ownCloud 10): Basic auth `<token>:<password>`
  always, an unknown token or a wrong password 401 (`LegacyPublicAuth.php`);
- `/dav/public-files/<token>/<path>` (oCIS): a password as Basic `public:<password>`.

Every failed attempt (wrong password, unknown token) counts towards the brute-force protection:
past `brute_force_max_attempts`, every request is answered 429 without Retry-After, as
Nextcloud's throttler does. Nextcloud answers methods other than GET with 401 unless the request
carries `X-Requested-With: XMLHttpRequest` (or federation is enabled). PROPFIND answers stream,
children in name order; `Depth: infinity` is refused (403), as Sabre does by default.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from emulators.common.app import BaseEmulatorApp
from emulators.common.asgi import Receive, Request, Send, counting_responses, read_body, send_bytes
from emulators.common.downloads import parse_range, send_file_bytes
from emulators.nextcloud import errors
from emulators.nextcloud.errors import SabreError
from emulators.nextcloud.faults import FaultPlan, FaultRule
from emulators.nextcloud.fixture import NextcloudFixture, Share, ShareItem
from emulators.nextcloud.state import EmulatorSettings, EmulatorState

MULTISTATUS_TYPE = b"application/xml; charset=utf-8"
_NC29 = "/public.php/dav/files/"
_LEGACY = "/public.php/webdav"
_OCIS = "/dav/public-files/"
_SHAPES_BY_FLAVOUR = {
    "nextcloud": ("nextcloud", "legacy"),
    "legacy": ("legacy",),
    "ocis": ("ocis",),
}


def _split(path: str) -> tuple[str, str | None, str, str] | None:
    """(shape, token or None for the legacy shape, the root's href prefix, the path in the
    share) for a public WebDAV path; None for any other path."""
    for shape, prefix in (("nextcloud", _NC29), ("ocis", _OCIS)):
        if path.startswith(prefix):
            token, _, rest = path[len(prefix) :].partition("/")
            return shape, token, f"{prefix}{quote(token)}", "/" + rest
    if path == _LEGACY or path.startswith(_LEGACY + "/"):
        return "legacy", None, _LEGACY, "/" + path[len(_LEGACY) :].lstrip("/")
    return None


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if colon else None


class NextcloudEmulatorApp(BaseEmulatorApp[EmulatorState]):
    """A public-share WebDAV server as a plain ASGI callable; `state` is its whole world."""

    fault_rule = FaultRule

    async def own_control_endpoint(self, path: str, method: str, receive: Receive) -> Any:
        if path == "/fixture" and method == "GET":
            fixture = self.state.fixture
            return {
                "seed": fixture.seed,
                "generation": fixture.generation,
                "shares": [
                    {
                        "name": share.name,
                        "token": share.token,
                        "password": share.password is not None,
                    }
                    for share in fixture.shares
                ],
            }
        if path == "/fixture/touch" and method == "POST":
            # Every file gets a new ETag, as after an edit (the bytes stay the same).
            self.state.fixture.generation += 1
            return {"generation": self.state.fixture.generation}
        return None

    async def serve(self, request: Request, receive: Receive, send: Send) -> None:
        stats = self.state.stats
        kind = "propfind" if request.method == "PROPFIND" else "get"
        stats.requests[f"{request.method} {kind}"] += 1
        counted = counting_responses(send, stats.responses, kind)
        split = _split(request.path)
        settings = self.state.settings
        if split is None or split[0] not in _SHAPES_BY_FLAVOUR[settings.flavour]:
            await send_bytes(counted, 404, b"Not Found", b"text/plain; charset=utf-8")
            return
        shape, token, root_href, path = split
        await read_body(receive)
        try:
            share = self._authenticate(request, shape, token)
            cut = self._fault(kind, share, path)
            if request.method == "PROPFIND":
                await self._propfind(request, counted, share, root_href, path)
            elif request.method in ("GET", "HEAD"):
                await self._get(request, counted, share, path, cut)
            else:
                raise errors.not_implemented(f"{request.method} is not served here")
        except SabreError as error:
            await errors.send_error(counted, error)

    # -- who may read

    def _authenticate(self, request: Request, shape: str, token: str | None) -> Share:
        state = self.state
        settings = state.settings
        if state.stats.failed_attempts >= settings.brute_force_max_attempts:
            raise errors.too_many_requests()
        credentials = _basic(request)
        ajax = "XMLHttpRequest" in request.headers.get("x-requested-with", "")
        if shape == "legacy":
            if credentials is None:
                raise errors.not_authenticated("No 'Authorization: Basic' header found")
            token, password = credentials
            share = state.fixture.by_token(token)
            if share is None or (share.password is not None and password != share.password):
                self._failed()
                raise errors.not_authenticated("Username or password was incorrect")
        else:
            share = state.fixture.by_token(token or "")
            if share is None:
                self._failed()
                raise errors.not_found()
            if share.password is not None:
                expected_user = "public" if shape == "ocis" else None
                if credentials is None:
                    self._failed()
                    raise errors.not_authenticated("Share is password protected")
                user, password = credentials
                if password != share.password or (expected_user and user != expected_user):
                    self._failed()
                    raise errors.not_authenticated("Username or password was incorrect")
        if (
            shape != "ocis"
            and request.method not in ("GET", "HEAD")
            and not ajax
            and not settings.federation_enabled
        ):
            # What publicremote.php throws "when trying to access a non-existing share".
            raise errors.not_authenticated()
        return share

    def _failed(self) -> None:
        self.state.stats.failed_attempts += 1

    def _fault(self, kind: str, share: Share, path: str) -> FaultRule | None:
        item = share.find(path)
        file_id = item.id if item is not None else None
        return self.state.faults.inject(kind, file_id, self.state.stats.faults_injected)

    # -- PROPFIND

    async def _propfind(
        self, request: Request, send: Send, share: Share, root_href: str, path: str
    ) -> None:
        depth = request.headers.get("depth", "infinity").strip().lower()
        if depth not in ("0", "1"):
            raise errors.forbidden("PROPFIND requests with a Depth of Infinity are not allowed")
        item = share.find(path)
        if item is None:
            raise errors.not_found(f"File with name {path.lstrip('/')} could not be located")
        items = [item, *(item.children if depth == "1" and item.is_folder else [])]
        await send(
            {
                "type": "http.response.start",
                "status": 207,
                "headers": [(b"content-type", MULTISTATUS_TYPE), (b"dav", b"1, 3")],
            }
        )
        for chunk in self._multistatus(items, root_href):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _multistatus(self, items: list[ShareItem], root_href: str) -> Iterator[bytes]:
        yield (
            b'<?xml version="1.0"?>\n<d:multistatus xmlns:d="DAV:" '
            b'xmlns:s="http://sabredav.org/ns" xmlns:oc="http://owncloud.org/ns" '
            b'xmlns:nc="http://nextcloud.org/ns">'
        )
        per_chunk = self.state.settings.entries_per_chunk
        for start in range(0, len(items), per_chunk):
            yield "".join(
                self._response(item, root_href) for item in items[start : start + per_chunk]
            ).encode()
        yield b"</d:multistatus>\n"

    def _response(self, item: ShareItem, root_href: str) -> str:
        fixture = self.state.fixture
        ocis = self.state.settings.flavour == "ocis"
        href = root_href + quote(item.relative_path, safe="/")
        if item.is_folder and not href.endswith("/"):
            href += "/"
        file_id = f"storage-users-1$space-1!{item.id}" if ocis else str(item.file_id)
        found = [
            f"<d:getetag>&quot;{fixture.etag(item)}&quot;</d:getetag>",
            f"<d:getlastmodified>{formatdate(item.modified, usegmt=True)}</d:getlastmodified>",
            # Nextcloud's FilesPlugin answers every node's name (a share's root: its folder's).
            f"<d:displayname>{escape(item.name)}</d:displayname>",
            f"<oc:fileid>{escape(file_id)}</oc:fileid>",
        ]
        missing = []
        if item.is_folder:
            found.append("<d:resourcetype><d:collection/></d:resourcetype>")
            missing += ["<d:getcontentlength/>", "<d:getcontenttype/>", "<oc:checksums/>"]
        else:
            found += [
                "<d:resourcetype/>",
                f"<d:getcontentlength>{item.size}</d:getcontentlength>",
                f"<d:getcontenttype>{escape(item.mime_type)}</d:getcontenttype>",
            ]
            if item.checksum_kinds:
                pairs = " ".join(
                    f"{kind}:{fixture.checksum(item, kind)}" for kind in item.checksum_kinds
                )
                found.append(f"<oc:checksums><oc:checksum>{pairs}</oc:checksum></oc:checksums>")
            else:
                missing.append("<oc:checksums/>")
        body = (
            f"<d:response><d:href>{escape(href)}</d:href>"
            f"<d:propstat><d:prop>{''.join(found)}</d:prop>"
            "<d:status>HTTP/1.1 200 OK</d:status></d:propstat>"
        )
        if missing:
            body += (
                f"<d:propstat><d:prop>{''.join(missing)}</d:prop>"
                "<d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>"
            )
        return body + "</d:response>"

    # -- GET

    async def _get(
        self, request: Request, send: Send, share: Share, path: str, cut: FaultRule | None
    ) -> None:
        item = share.find(path)
        if item is None:
            raise errors.not_found(f"File with name {path.lstrip('/')} could not be located")
        if item.is_folder:
            raise errors.not_implemented("GET is only implemented on File objects")
        fixture = self.state.fixture

        def unsatisfiable(total: int) -> SabreError:
            return SabreError(
                416,
                "Sabre\\DAV\\Exception\\RequestedRangeNotSatisfiable",
                f"The start offset should be less than the file size {total}",
            )

        byte_range = parse_range(request.headers.get("range"), item.size, unsatisfiable)
        chunk_size = self.state.settings.chunk_size
        await send_file_bytes(
            send,
            file_id=item.id,
            total=item.size,
            byte_range=byte_range,
            read=lambda start, stop: fixture.iter_bytes(item, start, stop, chunk_size),
            content_type=item.mime_type.encode(),
            extra_headers=[
                (b"etag", f'"{fixture.etag(item)}"'.encode()),
                (b"oc-etag", f'"{fixture.etag(item)}"'.encode()),
                (b"oc-fileid", str(item.file_id).encode()),
                (b"accept-ranges", b"bytes"),
            ],
            stats=self.state.stats,
            cut=cut,
        )


def build_app(
    fixture: NextcloudFixture,
    settings: EmulatorSettings | None = None,
    faults: FaultPlan[FaultRule] | None = None,
) -> NextcloudEmulatorApp:
    """An emulator app serving `fixture`; reach its state through `app.state`."""
    return NextcloudEmulatorApp(EmulatorState(fixture, settings, faults))
