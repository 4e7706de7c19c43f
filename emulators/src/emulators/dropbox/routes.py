"""The Dropbox API v2 routes a public-folder importer uses (reference notes B2 to B5):
`sharing/get_shared_link_metadata`, `files/list_folder`, `files/list_folder/continue` (RPC), and
`sharing/get_shared_link_file` (content download).

Choices the notes leave open are marked *chosen* here and in the emulator README.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from emulators.common.asgi import Request, Send
from emulators.common.downloads import parse_range, send_file_bytes
from emulators.dropbox import errors
from emulators.dropbox.faults import FaultRule
from emulators.dropbox.fixture import DropboxItem, SharedFolder, format_time
from emulators.dropbox.state import Cursor, EmulatorState

LIST_FOLDER = "files/list_folder"
LIST_CONTINUE = "files/list_folder/continue"
METADATA = "sharing/get_shared_link_metadata"
GET_FILE = "sharing/get_shared_link_file"

MAX_LIMIT = 2000
DEFAULT_LIMIT = 500  # *chosen*: Dropbox does not document its default page size
_LIST_FIELDS = {
    "path",
    "recursive",
    "include_media_info",
    "include_deleted",
    "include_has_explicit_shared_members",
    "include_mounted_folders",
    "limit",
    "shared_link",
    "include_property_groups",
    "include_non_downloadable_files",
}
_PATH_PATTERN = r"(/(.|[\r\n])*)?|id:.*|(ns:[0-9]+(/.*)?)"


def header_safe_json(value: Any) -> str:
    """JSON fit for an HTTP header: non-ASCII and DEL escaped as \\uXXXX (reference B2)."""
    return json.dumps(value, ensure_ascii=True).replace("\x7f", "\\u007f")


def _check_fields(arg: dict[str, Any], allowed: set[str], route: str) -> None:
    for name in arg:
        if name not in allowed:
            raise errors.bad_input(route, f'request body: unknown field "{name}"')


def _text(arg: dict[str, Any], name: str, route: str, *, required: bool = True) -> str | None:
    value = arg.get(name)
    if value is None:
        if required:
            raise errors.bad_input(route, f"request body: missing required field '{name}'")
        return None
    if not isinstance(value, str):
        raise errors.bad_input(route, f"request body: {name}: expected string, got {value!r}")
    return value


def _shared_folder(
    state: EmulatorState, url: str, password: str | None, *, for_list: bool
) -> SharedFolder:
    shared = state.fixture.resolve_link(url)
    if shared is None:
        # *chosen*: list_folder has no shared-link error member, so a dead link is path/not_found.
        raise (
            errors.path_error("not_found")
            if for_list
            else errors.route_error("shared_link_not_found")
        )
    if shared.link.password is not None and password != shared.link.password:
        raise (
            errors.path_error("restricted_content")
            if for_list
            else errors.route_error("shared_link_access_denied")
        )
    return shared


def _check_path(path: str, route: str) -> None:
    if path and not path.startswith("/"):
        raise errors.bad_input(
            route, f"request body: path: '{path}' did not match pattern '{_PATH_PATTERN}'"
        )


def _entry(state: EmulatorState, item: DropboxItem) -> dict[str, Any]:
    """A `Metadata` entry as a non-owner sees it: no path_lower / path_display (reference B4)."""
    if item.is_folder:
        return {".tag": "folder", "name": item.name, "id": item.id}
    entry: dict[str, Any] = {
        ".tag": "file",
        "name": item.name,
        "id": item.id,
        "client_modified": format_time(item.client_modified),
        "server_modified": format_time(item.server_modified),
        "rev": item.rev,
        "size": item.size or 0,
        "is_downloadable": item.is_downloadable,
    }
    if item.is_downloadable:
        entry["content_hash"] = state.fixture.content_hash(item.id)
    else:
        entry["export_info"] = {"export_as": "pdf", "export_options": ["pdf"]}
    return entry


async def _page(
    state: EmulatorState, shared: SharedFolder, folder: DropboxItem, cursor: Cursor
) -> dict[str, Any]:
    children = [
        child
        for child in folder.children
        if cursor.include_non_downloadable or child.is_folder or child.is_downloadable
    ]
    short_pages = folder.short_pages or state.settings.short_pages
    limit = short_pages.limit(cursor.limit, cursor.page) if short_pages else cursor.limit
    page = children[cursor.offset : cursor.offset + limit]
    end = cursor.offset + len(page)
    # Hashing is the slow part of a page; keep it off the event loop.
    entries = await asyncio.to_thread(lambda: [_entry(state, item) for item in page])
    following = Cursor(
        link=shared.link.path,
        folder_id=folder.id,
        offset=end,
        page=cursor.page + 1,
        limit=cursor.limit,
        include_non_downloadable=cursor.include_non_downloadable,
        generation=state.settings.cursor_generation,
    )
    return {
        "entries": entries,
        "cursor": state.issue_cursor(following),
        "has_more": end < len(children),
    }


async def list_folder(state: EmulatorState, arg: dict[str, Any]) -> dict[str, Any]:
    _check_fields(arg, _LIST_FIELDS, LIST_FOLDER)
    path = _text(arg, "path", LIST_FOLDER) or ""
    _check_path(path, LIST_FOLDER)
    limit = arg.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
        raise errors.bad_input(
            LIST_FOLDER, f"request body: limit: {limit!r} is not within range [1, {MAX_LIMIT}]"
        )
    shared_link = arg.get("shared_link")
    if shared_link is None:
        # The caller's own Dropbox is empty here: only shared links have content.
        if path:
            raise errors.path_error("not_found")
        return {"entries": [], "cursor": "", "has_more": False}
    if not isinstance(shared_link, dict) or set(shared_link) - {"url", "password"}:
        raise errors.bad_input(LIST_FOLDER, "request body: shared_link: expected {url, password}")
    if arg.get("recursive"):
        # Shared links list one level at a time (reference B4); *chosen*: refused as bad input.
        raise errors.bad_input(
            LIST_FOLDER, "request body: recursive: not supported together with shared_link"
        )
    url = _text(shared_link, "url", LIST_FOLDER) or ""
    shared = _shared_folder(
        state, url, _text(shared_link, "password", LIST_FOLDER, required=False), for_list=True
    )
    folder = shared.find(path)
    if folder is None:
        raise errors.path_error("not_found")
    if not folder.is_folder:
        raise errors.path_error("not_folder")
    start = Cursor(
        link=shared.link.path,
        folder_id=folder.id,
        offset=0,
        page=0,
        limit=limit,
        include_non_downloadable=bool(arg.get("include_non_downloadable_files", True)),
        generation=state.settings.cursor_generation,
    )
    return await _page(state, shared, folder, start)


async def list_folder_continue(state: EmulatorState, arg: dict[str, Any]) -> dict[str, Any]:
    _check_fields(arg, {"cursor"}, LIST_CONTINUE)
    token = _text(arg, "cursor", LIST_CONTINUE) or ""
    cursor = state.read_cursor(token)
    if cursor is None:
        raise errors.bad_input(LIST_CONTINUE, 'Invalid "cursor" parameter')
    if cursor.generation != state.settings.cursor_generation:
        raise errors.route_error("reset")
    shared = next((s for s in state.fixture.shared if s.link.path == cursor.link), None)
    folder = state.fixture.get(cursor.folder_id)
    if shared is None or folder is None:
        raise errors.route_error("reset")
    return await _page(state, shared, folder, cursor)


def _link_metadata(shared: SharedFolder, item: DropboxItem) -> dict[str, Any]:
    link = shared.link
    body: dict[str, Any] = {
        ".tag": "folder" if item.is_folder else "file",
        "url": link.url(),
        "id": item.id,
        "name": item.name,
        "link_permissions": {
            "can_revoke": False,
            "resolved_visibility": {".tag": "password" if link.password else "public"},
            "revoke_failure_reason": {".tag": "owner_only"},
            "allow_download": True,
            "require_password": link.password is not None,
        },
    }
    if not item.is_folder:
        body |= {
            "client_modified": format_time(item.client_modified),
            "server_modified": format_time(item.server_modified),
            "rev": item.rev,
            "size": item.size or 0,
        }
    return body


async def get_shared_link_metadata(state: EmulatorState, arg: dict[str, Any]) -> dict[str, Any]:
    _check_fields(arg, {"url", "path", "link_password"}, METADATA)
    url = _text(arg, "url", METADATA) or ""
    shared = _shared_folder(
        state, url, _text(arg, "link_password", METADATA, required=False), for_list=False
    )
    path = _text(arg, "path", METADATA, required=False) or ""
    _check_path(path, METADATA)
    item = shared.find(path)
    if item is None:
        raise errors.route_error("shared_link_not_found")
    return _link_metadata(shared, item)


def download_arg(request: Request, body: bytes) -> dict[str, Any]:
    """The JSON argument of a download-style call: `Dropbox-API-Arg` (header-safe JSON) or the
    `arg` URL parameter, with an empty request body (reference B2)."""
    raw = request.headers.get("dropbox-api-arg")
    if raw is None:
        raw = request.query.get("arg")
    elif any(ord(character) > 0x7E for character in raw):
        raise errors.bad_input(
            GET_FILE,
            'HTTP header "Dropbox-API-Arg": could not decode input as JSON: non-ASCII characters'
            " must be escaped as \\uXXXX",
        )
    if raw is None:
        raise errors.bad_input(
            GET_FILE, 'Must provide HTTP header "Dropbox-API-Arg" or URL parameter "arg".'
        )
    if body:
        raise errors.bad_input(
            GET_FILE,
            f"The request body is supposed to be empty, but it isn't; got {body[:40]!r}",
        )
    try:
        arg = json.loads(raw)
    except ValueError:
        raise errors.bad_input(GET_FILE, "could not decode input as JSON") from None
    if not isinstance(arg, dict):
        raise errors.bad_input(GET_FILE, "input must be a JSON object")
    return arg


def _unsatisfiable(total: int) -> errors.DropboxError:
    """Dropbox's 416 for a range that starts past the end."""
    return errors.DropboxError(416, "Range Not Satisfiable", {"content-range": f"bytes */{total}"})


async def get_shared_link_file(
    request: Request, send: Send, state: EmulatorState, arg: dict[str, Any], cut: FaultRule | None
) -> None:
    _check_fields(arg, {"url", "path", "link_password"}, GET_FILE)
    url = _text(arg, "url", GET_FILE) or ""
    shared = _shared_folder(
        state, url, _text(arg, "link_password", GET_FILE, required=False), for_list=False
    )
    path = _text(arg, "path", GET_FILE, required=False)
    if not path:
        raise errors.route_error("shared_link_is_directory")
    _check_path(path, GET_FILE)
    item = shared.find(path)
    if item is None:
        raise errors.route_error("shared_link_not_found")
    if item.is_folder:
        raise errors.route_error("shared_link_is_directory")
    if not item.is_downloadable:
        raise errors.route_error("unsupported_link_type")
    await send_file(request, send, state, shared, item, cut)


async def send_file(
    request: Request,
    send: Send,
    state: EmulatorState,
    shared: SharedFolder,
    item: DropboxItem,
    cut: FaultRule | None,
) -> None:
    """The file's bytes (honouring `Range` and `If-None-Match`), with `Dropbox-API-Result`."""
    total = item.size or 0
    etag = f'W/"{item.rev}"'
    result = header_safe_json(_link_metadata(shared, item))
    if request.headers.get("if-none-match") == etag:
        await send(
            {
                "type": "http.response.start",
                "status": 304,
                "headers": [(b"etag", etag.encode()), (b"dropbox-api-result", result.encode())],
            }
        )
        await send({"type": "http.response.body", "body": b""})
        return
    await send_file_bytes(
        send,
        file_id=item.id,
        total=total,
        byte_range=parse_range(request.headers.get("range"), total, _unsatisfiable),
        read=lambda start, stop: state.fixture.iter_bytes(
            item.id, start, stop, state.settings.chunk_size
        ),
        content_type=b"application/octet-stream",
        extra_headers=[
            (b"dropbox-api-result", result.encode()),
            (b"etag", etag.encode()),
            (b"accept-ranges", b"bytes"),
        ],
        stats=state.stats,
        cut=cut,
    )
