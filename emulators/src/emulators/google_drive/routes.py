"""The Drive v3 endpoints: files.list, files.get, and files.get with `alt=media`."""

from __future__ import annotations

import asyncio
from typing import Any

from emulators.common.asgi import Request, Send
from emulators.common.downloads import parse_range, send_file_bytes
from emulators.google_drive import errors
from emulators.google_drive.faults import FaultRule
from emulators.google_drive.fieldmask import ALL, parse_file_fields, parse_list_fields
from emulators.google_drive.fixture import DriveItem
from emulators.google_drive.query import parse_query
from emulators.google_drive.state import EmulatorState, parse_order_by

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _flag(request: Request, *names: str) -> bool:
    """A boolean query parameter; deprecated aliases may be listed after the current name."""
    result = False
    for name in names:
        value = request.query.get(name)
        if value is None:
            continue
        lowered = value.strip().lower()
        if lowered not in ("true", "false"):
            raise errors.invalid_value(name, f"Invalid value '{value}'.")
        result = result or lowered == "true"
    return result


def _page_size(request: Request, policy: str) -> int:
    raw = request.query.get("pageSize")
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    bounds = f"Invalid value '{raw}'. Values must be within the range: [1, {MAX_PAGE_SIZE}]"
    try:
        value = int(raw)
    except ValueError:
        raise errors.invalid_value("pageSize", f"Invalid value '{raw}'.") from None
    if value > MAX_PAGE_SIZE and policy == "clamp":
        return MAX_PAGE_SIZE
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise errors.invalid_value("pageSize", bounds)
    return value


def resource_keys(request: Request) -> dict[str, str]:
    """`X-Goog-Drive-Resource-Keys: id1/key1,id2/key2` as a mapping."""
    keys: dict[str, str] = {}
    for pair in request.headers.get("x-goog-drive-resource-keys", "").split(","):
        file_id, slash, key = pair.strip().partition("/")
        if slash and file_id and key:
            keys[file_id] = key
    return keys


def can_see(item: DriveItem, keys: dict[str, str], all_drives: bool) -> bool:
    """Drive hides shared-drive items from callers that did not opt in, and keyed items from
    callers that do not present the key (a 404, never a 403)."""
    if item.drive_id and not all_drives:
        return False
    return item.resource_key is None or keys.get(item.id) == item.resource_key


async def list_files(request: Request, state: EmulatorState) -> dict[str, Any]:
    """files.list: one page of a folder's children."""
    mask = parse_list_fields(request.query.get("fields"))
    page_size = _page_size(request, state.settings.page_size_policy)
    order = parse_order_by(request.query.get("orderBy"))
    if order is None:
        raise errors.invalid_value("orderBy")
    query = parse_query(request.query.get("q"))
    query_key = f"{request.query.get('q', '')}\x00{request.query.get('orderBy', '')}"
    offset, page_number = 0, 0
    token = request.query.get("pageToken")
    if token:
        offset, page_number = state.tokens.read(token, query_key)
    supports_all_drives = _flag(request, "supportsAllDrives", "supportsTeamDrives")
    include_all_drives = _flag(request, "includeItemsFromAllDrives", "includeTeamDriveItems")
    all_drives = supports_all_drives and include_all_drives
    keys = resource_keys(request)

    # An anonymous caller has no corpus of its own, so a query naming no parent finds nothing.
    children: list[DriveItem] = []
    short_pages = state.settings.short_pages
    folder = state.fixture.get(query.parents[0]) if query.parents else None
    if folder is not None and folder.is_folder and can_see(folder, keys, all_drives):
        children = state.ordered_children(folder, order)
        short_pages = folder.short_pages or short_pages

    def wanted(item: DriveItem) -> bool:
        return (all_drives or item.drive_id is None) and query.matches(item)

    limit = short_pages.limit(page_size, page_number) if short_pages else page_size
    page: list[DriveItem] = []
    position = min(offset, len(children))
    while position < len(children) and len(page) < limit:
        if wanted(children[position]):
            page.append(children[position])
        position += 1
    more = any(wanted(children[i]) for i in range(position, len(children)))

    def want(name: str) -> bool:
        return ALL in mask or name in mask

    body: dict[str, Any] = {}
    if want("kind"):
        body["kind"] = "drive#fileList"
    if more and want("nextPageToken"):
        body["nextPageToken"] = state.tokens.issue(query_key, position, page_number + 1)
    if want("incompleteSearch"):
        body["incompleteSearch"] = False
    if want("files"):
        file_mask = mask.get("files")
        render = state.renderer.render
        if page and state.renderer.needs_hashing(file_mask):
            body["files"] = await asyncio.to_thread(lambda: [render(i, file_mask) for i in page])
        else:
            body["files"] = [render(item, file_mask) for item in page]
    return body


def _visible_item(request: Request, state: EmulatorState, file_id: str) -> DriveItem:
    item = state.fixture.get(file_id)
    all_drives = _flag(request, "supportsAllDrives", "supportsTeamDrives")
    if item is None or not can_see(item, resource_keys(request), all_drives):
        raise errors.not_found(file_id)
    return item


async def get_file(request: Request, state: EmulatorState, file_id: str) -> dict[str, Any]:
    """files.get: one file's metadata."""
    mask = parse_file_fields(request.query.get("fields"))
    item = _visible_item(request, state, file_id)
    if state.renderer.needs_hashing(mask):
        return await asyncio.to_thread(state.renderer.render, item, mask)
    return state.renderer.render(item, mask)


async def download(
    request: Request,
    send: Send,
    state: EmulatorState,
    file_id: str,
    cut: FaultRule | None,
) -> None:
    """files.get?alt=media: the file's bytes, whole or one range."""
    item = _visible_item(request, state, file_id)
    if not item.has_content:
        raise errors.file_not_downloadable()
    flags = state.file_flags(item)
    # acknowledgeAbuse only helps owners; an API-key caller never is one.
    if flags["abusive"]:
        raise errors.abusive_file()
    if state.download_quota_exceeded(item):
        raise errors.download_quota_exceeded()
    headers = [(b"cache-control", b"private, max-age=0, must-revalidate")]
    await send_content(request, send, state, item, headers, cut)


async def send_content(
    request: Request,
    send: Send,
    state: EmulatorState,
    item: DriveItem,
    extra_headers: list[tuple[bytes, bytes]],
    cut: FaultRule | None,
) -> None:
    """Stream a file's bytes (honouring `Range`), cutting the connection where `cut` says."""
    total = item.size or 0
    await send_file_bytes(
        send,
        file_id=item.id,
        total=total,
        byte_range=parse_range(request.headers.get("range"), total, errors.range_not_satisfiable),
        read=lambda start, stop: state.fixture.content.chunks(
            item, start, stop, state.settings.chunk_size
        ),
        content_type=item.mime_type.encode("latin-1"),
        extra_headers=extra_headers,
        stats=state.stats,
        cut=cut,
    )
