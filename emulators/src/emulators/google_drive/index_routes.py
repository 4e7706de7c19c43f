"""A plain HTML directory index of a fixture folder, at `/_emulator/index/<folder id>/...`.

Not part of Drive's API: it exists so that generic HTTP tools (rclone's `http` backend) can copy
the same files, with the same bytes, from the same emulator process as the importer does, and
the two can be compared. A folder page lists its subfolders as `<folder id>/` and its image files
as `<file id>` (ids, so names never collide and a copied object can be checked against the
fixture); a file answers GET (with `Range`) and HEAD with `Content-Length` and `Last-Modified`,
serving exactly the bytes `alt=media` serves for that id. No key is checked and no faults apply.
"""

from __future__ import annotations

import asyncio
import html
from email.utils import formatdate

from emulators.common.asgi import Request, Send, send_bytes
from emulators.common.control import PREFIX
from emulators.google_drive import errors
from emulators.google_drive.fixture import DriveItem
from emulators.google_drive.routes import send_content
from emulators.google_drive.state import EmulatorState

INDEX_PREFIX = PREFIX + "/index/"
_HTML_TYPE = b"text/html; charset=utf-8"
_TEXT_TYPE = b"text/plain; charset=utf-8"
# Above this many children the page is built off the event loop.
_RENDER_IN_THREAD = 2_000


def is_listed_file(item: DriveItem) -> bool:
    """Whether a folder page lists this file: what an importer of the folder brings back (live,
    downloadable images; shortcuts are left out, they have no bytes of their own)."""
    return (
        not item.trashed
        and item.is_image
        and item.has_content
        and not item.abusive
        and not item.download_quota_exceeded
    )


def listed_files(folder: DriveItem) -> list[DriveItem]:
    return [child for child in folder.children if is_listed_file(child)]


def listed_folders(folder: DriveItem) -> list[DriveItem]:
    return [child for child in folder.children if child.is_folder and not child.trashed]


def _resolve(state: EmulatorState, path: str) -> tuple[DriveItem, bool] | None:
    """The item a path below the prefix names (each segment a child id of the one before) and
    whether the path asked for a directory (trailing `/`); None for anything else."""
    is_dir = path.endswith("/")
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return None
    item = state.fixture.get(segments[0])
    if item is None or not item.is_folder or item.trashed:
        return None
    for segment in segments[1:]:
        child = state.fixture.get(segment)
        if child is None or child.parent_id != item.id or child.trashed:
            return None
        item = child
    return item, is_dir


def render_index(folder: DriveItem, path: str) -> bytes:
    title = html.escape(f"Index of {INDEX_PREFIX}{path}")
    lines = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{title}</title></head>",
        f"<body><h1>{title}</h1><ul>",
    ]
    for child in listed_folders(folder):
        lines.append(f'<li><a href="{child.id}/">{child.id}/</a> {html.escape(child.name)}</li>')
    for child in listed_files(folder):
        lines.append(
            f'<li><a href="{child.id}">{child.id}</a> {child.size} {html.escape(child.name)}</li>'
        )
    lines.append("</ul></body></html>\n")
    return "\n".join(lines).encode()


async def serve_index(request: Request, send: Send, state: EmulatorState) -> None:
    """Answer one request below `/_emulator/index/`."""
    if request.method not in ("GET", "HEAD"):
        await send_bytes(send, 405, b"Method Not Allowed\n", _TEXT_TYPE, {"allow": "GET, HEAD"})
        return
    path = request.path[len(INDEX_PREFIX) :]
    found = _resolve(state, path)
    if found is None:
        await send_bytes(send, 404, b"Not Found\n", _TEXT_TYPE)
        return
    item, is_dir = found
    if item.is_folder:
        if not is_dir:
            # As web servers do: a directory is addressed with its trailing slash.
            location = f"{request.path}/"
            await send_bytes(send, 301, b"", _TEXT_TYPE, {"location": location})
            return
        state.stats.requests["index_list"] += 1
        if len(item.children) > _RENDER_IN_THREAD:
            page = await asyncio.to_thread(render_index, item, path)
        else:
            page = render_index(item, path)
        await _send_page(request, send, page)
        return
    if is_dir or not is_listed_file(item):
        await send_bytes(send, 404, b"Not Found\n", _TEXT_TYPE)
        return
    try:
        await _send_file(request, send, state, item)
    except errors.DriveError as error:  # a Range past the end
        await send_bytes(send, error.code, b"Range Not Satisfiable\n", _TEXT_TYPE, error.headers)


async def _send_page(request: Request, send: Send, page: bytes) -> None:
    headers = [(b"content-type", _HTML_TYPE), (b"content-length", str(len(page)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    body = b"" if request.method == "HEAD" else page
    await send({"type": "http.response.body", "body": body})


async def _send_file(request: Request, send: Send, state: EmulatorState, item: DriveItem) -> None:
    total = item.size or 0
    last_modified = formatdate(item.modified_ms / 1000, usegmt=True).encode()
    extra = [(b"last-modified", last_modified), (b"accept-ranges", b"bytes")]
    if request.method == "HEAD":
        # Headers only: nothing is generated, so a HEAD of a 2 GiB file costs nothing.
        state.stats.requests["index_head"] += 1
        headers = [
            (b"content-type", item.mime_type.encode("latin-1")),
            (b"content-length", str(total).encode()),
            *extra,
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    state.stats.requests["index_media"] += 1
    # The same bytes, ranges and stats as Drive's alt=media route.
    await send_content(request, send, state, item, extra, cut=None)
