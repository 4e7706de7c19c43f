"""The key-less Google Drive connector against the emulator's web endpoints, over real HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from emulators.google_drive import DriveFixture, EmulatorServer, EmulatorSettings, FaultRule
from worker.pacing import NoPacing
from worker.sources.base import (
    FolderRef,
    FolderUnavailable,
    PermanentSourceError,
    SourceConnector,
    SourceFile,
    SourceQuotaExceeded,
    TransientSourceError,
)
from worker.sources.google_drive_web import GoogleDriveWebConnector

ROOT = "photos"
DOC = "application/vnd.google-apps.document"
SHEET = "application/vnd.google-apps.spreadsheet"
SHORTCUT = "application/vnd.google-apps.shortcut"
HOSTILE = "<img src=x onerror=alert(1)>.png"
UNICODE = "Fête à Noël 🎄.jpg"
QUOTES = "\"quotes\" & 'apostrophes' \\ back.jpg"

SPEC: dict[str, Any] = {
    "seed": 31,
    "folders": [
        {
            "name": ROOT,
            "files": [
                {"name_pattern": "IMG_{i:02d}.jpg", "count": 4, "size": [1_000, 50_000]},
                {"name": "diagram.png", "size": 4_321},
                {"name": "sticker.webp", "size": 3_000},
                {"name": "anim.gif", "size": 2_000},
                {"name": HOSTILE, "size": 1_234},
                {"name": UNICODE, "size": 2_000},
                {"name": QUOTES, "size": 700},
                {"name": "empty.jpg", "size": 0},
                {"name": "notes.txt", "size": 300},
                {"name": "raw.bin", "mime_type": "application/octet-stream", "size": 100},
                {"name": "old.jpg", "size": 500, "trashed": True},
                {"name": "popular.jpg", "size": 900, "download_quota_exceeded": True},
                {"name": "malware.jpg", "size": 900, "abusive": True},
                {"name": "Plan", "mime_type": DOC},
                {"name": "Budget", "mime_type": SHEET},
                {"name": "link.jpg", "shortcut_to": "photos/IMG_01.jpg"},
                {"name": "link-to-folder", "shortcut_to": "photos/empty"},
                {"name": "big.jpg", "size": "3MB"},
                {"name": "huge.bin", "mime_type": "application/octet-stream", "size": "50MiB"},
            ],
            "folders": [
                {
                    "name": "keyed",
                    "resource_key": True,
                    "files": [{"name": "secret.jpg", "size": 2_000, "resource_key": True}],
                },
                {"name": "team", "shared_drive": True, "files": [{"name": "t.jpg", "size": 10}]},
                {"name": "empty"},
                {"name": "binned", "trashed": True},
            ],
        }
    ],
}

SOURCE_TIMEOUT_SECONDS = 30


@pytest.fixture(scope="module")
def drive_fixture() -> DriveFixture:
    return DriveFixture(SPEC)


@pytest.fixture
def start_emulator(drive_fixture: DriveFixture) -> Iterator[Callable[..., EmulatorServer]]:
    servers: list[EmulatorServer] = []

    def start(settings: EmulatorSettings | None = None) -> EmulatorServer:
        server = EmulatorServer(drive_fixture, settings=settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., EmulatorServer]) -> EmulatorServer:
    return start_emulator()


def connector_for(server: EmulatorServer, http: httpx.AsyncClient) -> GoogleDriveWebConnector:
    return GoogleDriveWebConnector(
        http, web_url=server.base_url, download_url=server.base_url, pacer=NoPacing()
    )


@pytest.fixture
def drive(emulator: EmulatorServer, http: httpx.AsyncClient) -> GoogleDriveWebConnector:
    return connector_for(emulator, http)


def as_source_file(fixture: DriveFixture, path: str) -> SourceFile:
    item = fixture.find(path)
    return SourceFile(item.id, item.name, item.mime_type, resource_key=item.resource_key)


async def download(drive: GoogleDriveWebConnector, file: SourceFile) -> bytes:
    async with drive.open_file(file) as chunks:
        return b"".join([chunk async for chunk in chunks])


# --- listing ---------------------------------------------------------------------------------


def test_it_is_a_source_connector_with_notes(drive: GoogleDriveWebConnector) -> None:
    connector: SourceConnector = drive
    assert connector is drive
    notes = GoogleDriveWebConnector.notes
    assert notes is not None
    for words in ("API key", "checksums", "quota", "Docs"):
        assert words in notes


async def test_lists_images_subfolders_and_natives_with_their_mime_types(
    drive_fixture: DriveFixture, drive: GoogleDriveWebConnector
) -> None:
    root = drive_fixture.find(ROOT)
    page = await drive.list_page(FolderRef(root.id), None)
    assert page.next_page_token is None

    live = [child for child in root.children if not child.trashed]
    folders = {child.id: child for child in live if child.is_folder}
    assert {ref.folder_id: ref.resource_key for ref in page.folders} == {
        folder_id: folder.resource_key for folder_id, folder in folders.items()
    }
    assert drive_fixture.id_of("photos/binned") not in {ref.folder_id for ref in page.folders}

    by_id = {file.file_id: file for file in page.files}
    assert set(by_id) == {child.id for child in live if not child.is_folder}
    for child in live:
        if child.is_folder:
            continue
        file = by_id[child.id]
        assert file.name == child.name
        assert file.size is None
        assert file.checksums == {}
        if child.is_shortcut:
            assert file.mime_type == SHORTCUT
            assert file.not_downloadable == "shortcut: following shortcuts is not supported yet"
        else:
            assert file.mime_type == child.mime_type
    assert by_id[drive_fixture.id_of("photos/sticker.webp")].mime_type == "image/webp"
    assert by_id[drive_fixture.id_of("photos/raw.bin")].mime_type == "application/octet-stream"
    for name, mime_type in (("Plan", DOC), ("Budget", SHEET)):
        native = by_id[drive_fixture.id_of(["photos", name])]
        assert (
            native.not_downloadable == f"Google-native file ({mime_type}) has no downloadable bytes"
        )
    images = [file for file in page.files if file.not_downloadable is None]
    assert all(file.resource_key is None for file in images)


async def test_a_resource_keyed_folder_needs_its_key(
    drive_fixture: DriveFixture, drive: GoogleDriveWebConnector
) -> None:
    keyed = drive_fixture.find("photos/keyed")
    with pytest.raises(FolderUnavailable, match="not shared publicly"):
        await drive.check_folder(FolderRef(keyed.id))
    with pytest.raises(FolderUnavailable):
        await drive.list_page(FolderRef(keyed.id, "0-wrongwrongwrongwrongwr"), None)

    ref = FolderRef(keyed.id, keyed.resource_key)
    await drive.check_folder(ref)
    (secret,) = (await drive.list_page(ref, None)).files
    item = drive_fixture.find("photos/keyed/secret.jpg")
    assert (secret.file_id, secret.name, secret.resource_key) == (
        item.id,
        "secret.jpg",
        item.resource_key,
    )
    assert await download(drive, secret) == drive_fixture.read_bytes(item.id)
    with pytest.raises(PermanentSourceError, match="sign in"):
        await download(drive, SourceFile(item.id, item.name, item.mime_type))


async def test_subfolders_keep_the_key_their_link_carries(
    drive_fixture: DriveFixture, drive: GoogleDriveWebConnector
) -> None:
    page = await drive.list_page(FolderRef(drive_fixture.folder_id(ROOT)), None)
    keyed = next(
        ref for ref in page.folders if ref.folder_id == drive_fixture.id_of("photos/keyed")
    )
    assert [file.name for file in (await drive.list_page(keyed, None)).files] == ["secret.jpg"]


@pytest.mark.parametrize(
    "folder_id",
    ["1" + "x" * 32, "photos/IMG_01.jpg", "photos/binned"],
    ids=["unknown", "a-file", "trashed"],
)
async def test_a_missing_folder_is_unavailable_with_a_readable_message(
    drive_fixture: DriveFixture, drive: GoogleDriveWebConnector, folder_id: str
) -> None:
    if "/" in folder_id:
        folder_id = drive_fixture.id_of(folder_id)
    with pytest.raises(FolderUnavailable) as caught:
        await drive.check_folder(FolderRef(folder_id))
    message = str(caught.value)
    assert f"the Google Drive folder {folder_id} was not found or is not shared publicly" in message
    assert "Anyone with the link" in message


async def test_an_empty_public_folder_is_fine(
    drive_fixture: DriveFixture, drive: GoogleDriveWebConnector
) -> None:
    ref = FolderRef(drive_fixture.folder_id("photos/empty"))
    await drive.check_folder(ref)
    page = await drive.list_page(ref, None)
    assert (page.files, page.folders, page.next_page_token) == ([], [], None)


async def test_a_server_that_does_not_answer_is_transient(http: httpx.AsyncClient) -> None:
    drive = GoogleDriveWebConnector(
        http, web_url="http://127.0.0.1:9", download_url="http://127.0.0.1:9", pacer=NoPacing()
    )
    with pytest.raises(TransientSourceError):
        await drive.check_folder(FolderRef("1" + "x" * 32))


async def test_a_page_without_a_listing_is_unavailable(
    emulator: EmulatorServer, http: httpx.AsyncClient
) -> None:
    # The emulator's control prefix answers JSON, as a changed or foreign page would.
    drive = GoogleDriveWebConnector(
        http,
        web_url=f"{emulator.base_url}/_emulator",
        download_url=emulator.base_url,
        pacer=NoPacing(),
    )
    with pytest.raises(FolderUnavailable):
        await drive.check_folder(FolderRef("1" + "x" * 32))


# --- downloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("form_action_base", ["https://drive.usercontent.google.com", "self"])
async def test_a_file_above_the_virus_scan_threshold_is_confirmed_and_downloaded(
    drive_fixture: DriveFixture,
    start_emulator: Callable[..., EmulatorServer],
    http: httpx.AsyncClient,
    form_action_base: str,
) -> None:
    server = start_emulator(
        EmulatorSettings(virus_scan_threshold=10_000, form_action_base=form_action_base)
    )
    drive = connector_for(server, http)
    big = as_source_file(drive_fixture, "photos/big.jpg")
    assert await download(drive, big) == drive_fixture.read_bytes(big.file_id)
    # The first answer was the warning page, the second (the form submitted) the file.
    assert server.stats.media_requests_by_file[big.file_id] == 2
    assert server.stats.responses["web_media 200"] == 2
    small = as_source_file(drive_fixture, "photos/diagram.png")  # below the threshold
    assert await download(drive, small) == drive_fixture.read_bytes(small.file_id)
    assert server.stats.media_requests_by_file[small.file_id] == 1


async def test_a_file_over_quota_waits_for_the_quota(
    emulator: EmulatorServer, drive_fixture: DriveFixture, drive: GoogleDriveWebConnector
) -> None:
    with pytest.raises(SourceQuotaExceeded, match="quota"):
        await download(drive, as_source_file(drive_fixture, "photos/popular.jpg"))
    emulator.set_faults(FaultRule("download_quota_exceeded", routes=frozenset({"web_media"})))
    with pytest.raises(SourceQuotaExceeded, match="try again later"):
        await download(drive, as_source_file(drive_fixture, "photos/IMG_02.jpg"))


async def test_unknown_abusive_and_native_files_are_permanent(
    emulator: EmulatorServer, drive_fixture: DriveFixture, drive: GoogleDriveWebConnector
) -> None:
    with pytest.raises(PermanentSourceError, match="404"):
        await download(drive, SourceFile("1" + "q" * 32, "gone.jpg", "image/jpeg"))
    with pytest.raises(PermanentSourceError, match="malware or spam"):
        await download(drive, as_source_file(drive_fixture, "photos/malware.jpg"))
    emulator.stats.reset()
    with pytest.raises(PermanentSourceError, match="no downloadable bytes"):
        await download(drive, as_source_file(drive_fixture, "photos/Plan"))
    assert emulator.stats.requests["web_media"] == 0  # refused without asking Google


async def test_a_docs_file_sent_to_the_editor_is_permanent(
    drive_fixture: DriveFixture, drive: GoogleDriveWebConnector
) -> None:
    # Stored under a binary type by mistake: Google's redirect to the editor still stops it.
    plan = drive_fixture.find("photos/Plan")
    with pytest.raises(PermanentSourceError, match="Docs editor"):
        await download(drive, SourceFile(plan.id, plan.name, "image/jpeg"))


# --- pages the emulator does not produce -------------------------------------------------------
# Google's pages are undocumented, so a plain HTTP server stands in for shapes that have been
# seen (or could appear): markup variants, legacy confirmation links, foreign redirects.


class _PageHandler(BaseHTTPRequestHandler):
    server: _PageServer

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.requested.append(self.path)
        status, headers, body = self.server.pages.get(path, (404, {}, b"not here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _PageServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _PageHandler)
        self.pages: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.requested: list[str] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def pages() -> Iterator[_PageServer]:
    server = _PageServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def paged_drive(pages: _PageServer, http: httpx.AsyncClient) -> GoogleDriveWebConnector:
    return GoogleDriveWebConnector(
        http, web_url=pages.base_url, download_url=pages.base_url, pacer=NoPacing()
    )


HTML = {"Content-Type": "text/html; charset=utf-8"}
VARIANTS = """<!DOCTYPE html><html><head><title>Mixed</title></head><body>
<div class="flip-view-container"><div class="flip-entries">
  <div class="flip-entry" id="entry-FolderAAA" tabindex="0">
    <div class="flip-entry-info">
      <a href="https://drive.google.com/drive/folders/FolderAAA?resourcekey=0-key" target="_blank">
        <div class="flip-entry-list-icon">
          <div class="drive-sprite-folder-list-shared-icon"></div>
        </div>
        <div class="flip-entry-title">
          Sub  folder
        </div>
      </a>
    </div>
  </div>
  <div class="flip-entry" id="entry-FileBBB"><div class="flip-entry-info">
    <a href="https://drive.google.com/file/d/FileBBB/view?usp=drive_web&amp;resourcekey=0-f">
    <div class="flip-entry-list-icon"><img
      src="https://drive-thirdparty.googleusercontent.com/16/type/image%2Fpng" alt=""></div>
    <div class="flip-entry-title"><span>Tom&#39;s &amp; <b>pic</b>.png</span></div>
    <div class="flip-entry-last-modified"><div>3:45 PM</div></div></a></div></div>
  <div class="flip-entry" id="entry-FileCCC"><a href="https://drive.google.com/file/d/FileCCC/view">
    <img src="https://drive-thirdparty.googleusercontent.com/16/type/application/octet-stream">
    <div class="flip-entry-title">holiday.JPG</div></a></div>
  <div class="flip-entry" id="entry-SheetDDD"><a href="https://docs.google.com/spreadsheets/d/SheetDDD/edit?usp=drive_web">
    <div class="flip-entry-title">Budget</div></a></div>
  <div class="flip-entry" id="entry-FileEEE"><a href="https://drive.google.com/file/d/FileEEE/view">
    <div class="flip-entry-title">scan.heic</div></a></div>
  <div class="flip-entry" id="entry-FileBBB"><a href="https://drive.google.com/file/d/FileBBB/view">
    <div class="flip-entry-title">listed twice</div></a></div>
  <div class="flip-entry"><a href="https://example.com/nothing-here"></a></div>
</div></div></body></html>"""


async def test_listing_markup_variants_are_understood(
    pages: _PageServer, paged_drive: GoogleDriveWebConnector
) -> None:
    pages.pages["/embeddedfolderview"] = (200, HTML, VARIANTS.encode())
    page = await paged_drive.list_page(FolderRef("Mixed"), None)
    assert page.folders == [FolderRef("FolderAAA", "0-key")]
    assert [
        (f.file_id, f.name, f.mime_type, f.resource_key, f.not_downloadable) for f in page.files
    ] == [
        ("FileBBB", "Tom's & pic.png", "image/png", "0-f", None),
        ("FileCCC", "holiday.JPG", "image/jpeg", None, None),
        (
            "SheetDDD",
            "Budget",
            SHEET,
            None,
            f"Google-native file ({SHEET}) has no downloadable bytes",
        ),
        ("FileEEE", "scan.heic", "image/heic", None, None),
    ]


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        (
            HTML,
            b"<html><head><title>Sign in - Google Accounts</title></head></html>",
            "no folder listing",
        ),
        ({"Content-Type": "application/json"}, b"{}", "not a folder page"),
    ],
    ids=["sign-in-page", "json"],
)
async def test_a_page_that_is_not_a_folder_listing_is_unavailable(
    pages: _PageServer,
    paged_drive: GoogleDriveWebConnector,
    headers: dict[str, str],
    body: bytes,
    message: str,
) -> None:
    pages.pages["/embeddedfolderview"] = (200, headers, body)
    with pytest.raises(FolderUnavailable, match=message):
        await paged_drive.check_folder(FolderRef("Anything"))


async def test_a_legacy_confirmation_link_is_followed(
    pages: _PageServer, paged_drive: GoogleDriveWebConnector
) -> None:
    warning = (
        b"<html><head><title>Google Drive - Virus scan warning</title></head><body>"
        b'<a id="uc-download-link" href="/uc?export=download&amp;confirm=AbCd&amp;id=FileX">'
        b"Download anyway</a></body></html>"
    )
    pages.pages["/download"] = (200, HTML, warning)
    attachment = {
        "Content-Type": "image/png",
        "Content-Disposition": 'attachment; filename="x.png"',
    }
    pages.pages["/uc"] = (200, attachment, b"\x89PNG the bytes")
    assert await download(paged_drive, SourceFile("FileX", "x.png", "image/png")) == (
        b"\x89PNG the bytes"
    )
    assert pages.requested[-1] == "/uc?export=download&confirm=AbCd&id=FileX"


async def test_a_form_pointing_at_a_foreign_host_is_refused(
    pages: _PageServer, paged_drive: GoogleDriveWebConnector
) -> None:
    warning = (
        b"<title>Google Drive - Virus scan warning</title>"
        b'<form id="download-form" action="https://evil.example/download" method="get">'
        b'<input type="hidden" name="id" value="FileX"></form>'
    )
    pages.pages["/download"] = (200, HTML, warning)
    with pytest.raises(PermanentSourceError, match=r"evil\.example"):
        await download(paged_drive, SourceFile("FileX", "x.png", "image/png"))


async def test_redirects_are_followed_only_to_google_hosts(
    pages: _PageServer, paged_drive: GoogleDriveWebConnector
) -> None:
    # drive.google.com is rebased onto the configured URL; anything else is refused.
    pages.pages["/download"] = (302, {"Location": "https://drive.google.com/uc?id=FileX"}, b"")
    attachment = {"Content-Type": "image/png", "Content-Disposition": "attachment"}
    pages.pages["/uc"] = (200, attachment, b"png")
    assert await download(paged_drive, SourceFile("FileX", "x.png", "image/png")) == b"png"
    pages.pages["/download"] = (302, {"Location": "https://elsewhere.example/x"}, b"")
    with pytest.raises(PermanentSourceError, match=r"elsewhere\.example"):
        await download(paged_drive, SourceFile("FileX", "x.png", "image/png"))


async def test_an_answer_that_is_neither_attachment_nor_page_is_permanent(
    pages: _PageServer, paged_drive: GoogleDriveWebConnector
) -> None:
    pages.pages["/download"] = (200, {"Content-Type": "image/png"}, b"png")
    with pytest.raises(PermanentSourceError, match="without an attachment"):
        await download(paged_drive, SourceFile("FileX", "x.png", "image/png"))
    sign_in = b"<html><head><title>Sign in - Google Accounts</title></head></html>"
    pages.pages["/download"] = (200, HTML, sign_in)
    with pytest.raises(PermanentSourceError, match="Sign in - Google Accounts"):
        await download(paged_drive, SourceFile("FileX", "x.png", "image/png"))


async def test_retry_after_may_be_an_http_date(
    pages: _PageServer, paged_drive: GoogleDriveWebConnector
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    pages.pages["/embeddedfolderview"] = (429, {**HTML, "Retry-After": later}, b"slow down")
    with pytest.raises(TransientSourceError) as caught:
        await paged_drive.list_page(FolderRef("Anything"), None)
    assert caught.value.retry_after is not None
    assert 100 < caught.value.retry_after <= 120
