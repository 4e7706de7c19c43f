"""The key-less web endpoints: `drive.google.com/embeddedfolderview`, `drive.google.com/uc` and
`drive.usercontent.google.com/download`, all served from the emulator's one address.

Visibility differs from the API: there is no shared-drive opt-in (a public page shows everything),
trashed items are gone, and an item that needs a resource key is only reachable with
`resourcekey=` in the query. Choices the reference notes leave open (A12, "UNVERIFIED") are
documented in the emulator README.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from urllib.parse import quote, urlencode

from emulators.common.asgi import Request, Send, send_bytes
from emulators.google_drive import web_pages
from emulators.google_drive.faults import FaultRule
from emulators.google_drive.fixture import DriveItem
from emulators.google_drive.routes import send_content
from emulators.google_drive.state import SELF, USERCONTENT_BASE, EmulatorState

# Above this many children the page is rendered off the event loop.
_RENDER_IN_THREAD = 2_000


async def send_html(
    send: Send, status: int, page: bytes, headers: dict[str, str] | None = None
) -> None:
    await send_bytes(
        send,
        status,
        page,
        web_pages.HTML_TYPE,
        {"cache-control": "no-cache, no-store, max-age=0, must-revalidate", **(headers or {})},
    )


async def send_error_page(send: Send, status: int, headers: dict[str, str] | None = None) -> None:
    await send_html(send, status, web_pages.error_page(status), headers)


async def _send_redirect(send: Send, location: str) -> None:
    await send_html(
        send,
        302,
        b"<HTML><HEAD><TITLE>Moved Temporarily</TITLE></HEAD><BODY>Moved Temporarily</BODY></HTML>",
        {"location": location},
    )


def _key_given(item: DriveItem, request: Request) -> bool:
    return item.resource_key is None or request.query.get("resourcekey") == item.resource_key


def _continue_url(base: str, path: str, request: Request, *names: str) -> str:
    params = {name: request.query[name] for name in names if name in request.query}
    return f"{base}{path}?{urlencode(params)}"


def _folder_order(item: DriveItem) -> tuple[bool, str]:
    return (not item.is_folder, item.name.casefold())


async def folder_view(request: Request, send: Send, state: EmulatorState) -> None:
    """embeddedfolderview?id=…[&resourcekey=…]: the folder's live children as one HTML page."""
    folder = state.fixture.get(request.query.get("id", ""))
    if folder is None or folder.trashed or not _key_given(folder, request):
        # Signed out and not shared with "anyone with the link": Google asks to sign in.
        continue_url = _continue_url(
            web_pages.WEB_BASE, "/embeddedfolderview", request, "id", "resourcekey"
        )
        await _send_redirect(send, web_pages.login_location(continue_url))
        return
    if not folder.is_folder:
        await send_error_page(send, 404)
        return
    children = sorted((child for child in folder.children if not child.trashed), key=_folder_order)
    if len(children) > _RENDER_IN_THREAD:
        page = await asyncio.to_thread(web_pages.folder_view, folder, children)
    else:
        page = web_pages.folder_view(folder, children)
    await send_html(send, 200, page)


def scan_uuid(state: EmulatorState, item: DriveItem) -> str:
    """The `uuid` the warning page hands out for a file; stable, so no state is kept."""
    digest = hashlib.sha256(f"virus-scan:{state.fixture.seed}:{item.id}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def content_disposition(name: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name in RFC 5987 form."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _form_action(request: Request, state: EmulatorState) -> str:
    base = state.settings.form_action_base
    if base == SELF:
        base = f"http://{request.headers.get('host', '127.0.0.1')}"
    return f"{base}/download"


async def download(
    request: Request, send: Send, state: EmulatorState, cut: FaultRule | None
) -> None:
    """uc?export=download&id=… and download?id=…&export=download[&confirm=t&uuid=…]."""
    file_id = request.query.get("id", "")
    if not file_id:
        await send_error_page(send, 400)
        return
    item = state.fixture.get(file_id)
    if item is None or item.trashed:
        await send_error_page(send, 404)
        return
    if not _key_given(item, request):
        continue_url = _continue_url(
            USERCONTENT_BASE, "/download", request, "id", "export", "resourcekey"
        )
        await _send_redirect(send, web_pages.login_location(continue_url))
        return
    if item.is_google_type:
        editor = web_pages.EDITOR_PATHS.get(item.mime_type)
        if editor is None:
            await send_error_page(send, 500)
        else:
            await _send_redirect(
                send, f"{web_pages.DOCS_BASE}/{editor}/d/{item.id}/edit?usp=drive_web"
            )
        return
    flags = state.file_flags(item)
    if flags["abusive"]:
        await send_html(send, 200, web_pages.abusive_file())
        return
    if state.download_quota_exceeded(item):
        await send_html(send, 200, web_pages.quota_exceeded())
        return
    expected_uuid = scan_uuid(state, item)
    confirmed = request.query.get("confirm") == "t" and request.query.get("uuid") == expected_uuid
    if (item.size or 0) > state.settings.virus_scan_threshold and not confirmed:
        fields = {"id": item.id, "export": "download"}
        if item.resource_key:
            fields["resourcekey"] = item.resource_key
        fields |= {"confirm": "t", "uuid": expected_uuid}
        page = web_pages.virus_scan_warning(item, _form_action(request, state), fields)
        await send_html(send, 200, page)
        return
    headers = [
        (b"content-disposition", content_disposition(item.name).encode("ascii")),
        (b"accept-ranges", b"bytes"),
        (b"cache-control", b"no-cache, no-store, max-age=0, must-revalidate"),
    ]
    await send_content(request, send, state, item, headers, cut)
