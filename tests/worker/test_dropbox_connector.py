"""The credentialed Dropbox connector against the Dropbox emulator, over real HTTP."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from domain.sources.dropbox import DropboxFolder
from emulators.dropbox import DropboxEmulatorServer, DropboxFixture, FaultRule
from worker.pacing import NoPacing
from worker.sources.base import (
    FolderPage,
    FolderRef,
    FolderUnavailable,
    ImportLink,
    PermanentSourceError,
    SourceConnector,
    SourceFile,
    TransientSourceError,
)
from worker.sources.dropbox import DropboxConnector, authorization_header, header_safe_json
from worker.sources.dropbox_shared import DropboxRouteError, classify_error

TOKEN = "connector-test-token"
APP_KEY, APP_SECRET = "app-key", "app-secret"
UNICODE = "Fête à Noël 🎄 \x7f.jpg"

SPEC: dict[str, Any] = {
    "seed": 41,
    "folders": [
        {
            "name": "photos",
            "files": [
                {"name_pattern": "IMG_{i:02d}.jpg", "count": 7, "size": [1_000, 9_000]},
                {"name": UNICODE, "size": 2_000},
                {"name": "big.png", "size": "5MiB"},
                {"name": "notes.txt", "size": 300},
                {"name": "Doc.paper", "is_downloadable": False, "size": 0},
            ],
            "folders": [
                {
                    "name": "sub",
                    "short_pages": [1, 0, 0.5],
                    "files": [{"name_pattern": "s_{i:02d}.gif", "count": 9, "size": 800}],
                    "folders": [{"name": "deeper", "files": [{"name": "d.webp", "size": 500}]}],
                }
            ],
        },
        {"name": "legacy", "link": "sh", "files": [{"name": "old.jpg", "size": 1_234}]},
        {"name": "locked", "password": "pw", "files": [{"name": "secret.jpg", "size": 999}]},
    ],
}


class RecordingPacer:
    """The real pace is shared through Postgres; here it is enough to see what was asked."""

    def __init__(self) -> None:
        self.turns = 0
        self.hold_offs: list[float] = []

    async def wait_turn(self) -> None:
        self.turns += 1

    async def hold_off(self, seconds: float) -> None:
        self.hold_offs.append(seconds)


@pytest.fixture(scope="module")
def dropbox() -> Iterator[DropboxEmulatorServer]:
    with DropboxEmulatorServer(DropboxFixture(SPEC)) as server:
        yield server


@pytest.fixture(autouse=True)
def clean_emulator(dropbox: DropboxEmulatorServer) -> Iterator[None]:
    yield
    dropbox.set_faults()
    dropbox.settings.update(
        {"accepted_tokens": None, "accepted_apps": None, "cursor_generation": 0}
    )


def connector(
    http: httpx.AsyncClient,
    dropbox: DropboxEmulatorServer,
    *,
    authorization: str | None = None,
    page_size: int = 1000,
    pacer: RecordingPacer | None = None,
) -> DropboxConnector:
    return DropboxConnector(
        http,
        api_url=dropbox.base_url,
        content_url=dropbox.base_url,
        authorization=authorization or f"Bearer {TOKEN}",
        page_size=page_size,
        pacer=pacer or NoPacing(),
    )


# The root folder as the pipeline hands it over: the folder id the API parsed from the link.
ROOT = FolderRef("scl/fo/x/y")


def on(source: DropboxConnector, url: str, password: str | None = None) -> DropboxConnector:
    """The connector reading one import's link, as the pipeline binds it."""
    return source.for_link(ImportLink(DropboxFolder("scl/fo/x/y", url), password))


def note(path: str) -> str:
    """A file's own record, as the connector keeps it: its path below the link's root."""
    return json.dumps({"path": path}, ensure_ascii=False, separators=(",", ":"))


async def list_all(source: SourceConnector, folder: FolderRef) -> list[FolderPage]:
    pages = [await source.list_page(folder, None)]
    while pages[-1].next_page_token:
        pages.append(await source.list_page(folder, pages[-1].next_page_token))
    return pages


async def read(source: SourceConnector, file: SourceFile) -> bytes:
    async with source.open_file(file) as chunks:
        return b"".join([chunk async for chunk in chunks])


def test_the_connector_fulfils_the_source_contract(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    source: SourceConnector = connector(http, dropbox)
    assert source.notes is None


async def test_a_folder_lists_its_files_and_subfolders_with_what_dropbox_says_of_them(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    source = on(connector(http, dropbox), dropbox.fixture.link("photos"))
    folder = ROOT
    await source.check_folder(folder)
    page = await source.list_page(folder, None)

    fixture = dropbox.fixture
    assert page.next_page_token is None
    [sub] = page.folders
    assert sub.folder_id == "/sub"
    assert sub.resource_key is None  # the link is the import's, never copied to its folders
    by_name = {file.name: file for file in page.files}
    assert set(by_name) == {f"IMG_{i:02d}.jpg" for i in range(1, 8)} | {
        UNICODE,
        "big.png",
        "notes.txt",
        "Doc.paper",
    }
    for name in ["IMG_03.jpg", UNICODE, "big.png"]:
        item = fixture.find("photos", f"/{name}")
        file = by_name[name]
        assert (file.file_id, file.size, file.checksums) == (
            item.id,
            item.size,
            {"dropbox_content_hash": fixture.content_hash(item.id)},
        )
        assert file.resource_key == note(f"/{name}")
    assert by_name["IMG_01.jpg"].mime_type == "image/jpeg"
    assert by_name["big.png"].mime_type == "image/png"
    assert by_name["notes.txt"].mime_type == "text/plain"
    assert by_name["Doc.paper"].not_downloadable is not None
    assert by_name["Doc.paper"].checksums == {}


async def test_a_folder_is_read_over_many_cursors_including_short_and_empty_pages(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    source = on(connector(http, dropbox, page_size=3), dropbox.fixture.link("photos"))
    pages = await list_all(source, FolderRef("/sub"))

    assert len(pages) > 4
    assert any(not page.files and not page.folders for page in pages)  # an empty page
    names = [file.name for page in pages for file in page.files]
    assert sorted(names) == [f"s_{i:02d}.gif" for i in range(1, 10)]
    [deeper_ref] = [folder for page in pages for folder in page.folders]
    assert deeper_ref.folder_id == "/sub/deeper"
    assert deeper_ref.resource_key is None
    deeper = await source.list_page(FolderRef("/sub/deeper"), None)
    assert [file.name for file in deeper.files] == ["d.webp"]
    assert deeper.files[0].resource_key == note("/sub/deeper/d.webp")


async def test_a_stale_cursor_lists_the_folder_again_from_its_start(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    source = on(connector(http, dropbox, page_size=4), dropbox.fixture.link("photos"))
    folder = ROOT
    first = await source.list_page(folder, None)
    assert first.next_page_token
    dropbox.settings.update({"cursor_generation": 1})  # Dropbox answers `reset` from now on

    again = await source.list_page(folder, first.next_page_token)

    assert [file.file_id for file in again.files] == [file.file_id for file in first.files]
    assert again.next_page_token and again.next_page_token != first.next_page_token


async def test_the_legacy_link_form_and_its_parameters_work_alike(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    for params in [{}, {"st": "abc", "e": "1"}, {"dl": "1"}]:
        source = on(connector(http, dropbox), dropbox.fixture.link("legacy", **params))
        folder = ROOT
        await source.check_folder(folder)
        [file] = (await source.list_page(folder, None)).files
        assert await read(source, file) == dropbox.fixture.read_bytes(file.file_id)


async def test_an_apps_key_and_secret_are_sent_as_basic_auth(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    dropbox.settings.update({"accepted_apps": {APP_KEY: APP_SECRET}, "accepted_tokens": []})
    authorization = authorization_header(None, APP_KEY, APP_SECRET)
    assert authorization == "Basic " + base64.b64encode(b"app-key:app-secret").decode()
    legacy = dropbox.fixture.link("legacy")
    source = on(connector(http, dropbox, authorization=authorization), legacy)
    folder = ROOT
    await source.check_folder(folder)
    [file] = (await source.list_page(folder, None)).files
    assert await read(source, file) == dropbox.fixture.read_bytes(file.file_id)

    wrong = on(
        connector(http, dropbox, authorization=authorization_header(None, APP_KEY, "nope")), legacy
    )
    with pytest.raises(FolderUnavailable, match="invalid_access_token"):
        await wrong.check_folder(folder)


def test_a_token_is_preferred_to_an_app_and_nothing_gives_none() -> None:
    assert authorization_header("t", APP_KEY, APP_SECRET) == "Bearer t"
    assert authorization_header(None, APP_KEY, None) is None
    assert authorization_header(None, None, None) is None


async def test_a_refused_token_is_a_permanent_error_a_person_understands(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    dropbox.settings.update({"accepted_tokens": ["another"]})
    source = on(connector(http, dropbox), dropbox.fixture.link("photos"))
    folder = ROOT
    with pytest.raises(FolderUnavailable, match=r"refused the credentials.*DROPBOX_ACCESS_TOKEN"):
        await source.check_folder(folder)
    with pytest.raises(PermanentSourceError, match="invalid_access_token"):
        await source.list_page(folder, None)
    file = SourceFile(
        "id:x",
        "a.jpg",
        "image/jpeg",
        resource_key=note("/IMG_01.jpg"),
    )
    with pytest.raises(PermanentSourceError, match="invalid_access_token"):
        await read(source, file)


async def test_a_dead_link_and_a_missing_password_fail_the_folder_with_reasons(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    source = connector(http, dropbox)
    dead = on(source, "https://www.dropbox.com/sh/nope000/AAnope?dl=0")
    with pytest.raises(FolderUnavailable, match="does not know this shared link"):
        await dead.check_folder(ROOT)
    locked = dropbox.fixture.link("locked")
    with pytest.raises(FolderUnavailable, match=r"denies access.*password"):
        await on(source, locked).check_folder(ROOT)
    with pytest.raises(FolderUnavailable, match="denies access"):
        await on(source, locked, password="no").check_folder(ROOT)


async def test_a_password_goes_with_every_call_of_a_protected_link(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    source = on(connector(http, dropbox), dropbox.fixture.link("locked"), password="pw")
    folder = ROOT
    await source.check_folder(folder)
    [file] = (await source.list_page(folder, None)).files
    assert "pw" not in (file.resource_key or "")  # the password stays on the import
    assert await read(source, file) == dropbox.fixture.read_bytes(file.file_id)


async def test_a_subfolder_gone_since_it_was_listed_is_a_permanent_error(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer
) -> None:
    source = on(connector(http, dropbox), dropbox.fixture.link("photos"))
    with pytest.raises(DropboxRouteError, match="no longer in the shared folder") as caught:
        await source.list_page(FolderRef("/gone"), None)
    assert caught.value.tag == "not_found"
    gone = SourceFile(
        "id:x",
        "g.jpg",
        "image/jpeg",
        resource_key=note("/g.jpg"),
    )
    with pytest.raises(PermanentSourceError, match="does not know this shared link"):
        await read(source, gone)


@pytest.mark.parametrize(
    ("fault", "route", "reason", "retry_after"),
    [
        ("too_many_requests", "metadata", "too_many_requests", 3.0),
        ("too_many_requests_text", "list", "too_many_requests", 3.0),
        ("too_many_write_operations", "list", "too_many_write_operations", 3.0),
        ("too_many_requests", "file", "too_many_requests", 3.0),
    ],
)
async def test_a_rate_limit_holds_everyone_off_for_retry_after_and_is_retried(
    http: httpx.AsyncClient,
    dropbox: DropboxEmulatorServer,
    fault: str,
    route: str,
    reason: str,
    retry_after: float,
) -> None:
    pacer = RecordingPacer()
    source = on(connector(http, dropbox, pacer=pacer), dropbox.fixture.link("legacy"))
    folder = ROOT
    [file] = (await source.list_page(folder, None)).files
    dropbox.set_faults(FaultRule(fault, routes={route}, every=1, limit=1, retry_after=3))

    with pytest.raises(TransientSourceError, match=reason) as caught:
        if route == "metadata":
            await source.check_folder(folder)
        elif route == "list":
            await source.list_page(folder, None)
        else:
            await read(source, file)

    assert caught.value.rate_limited
    assert caught.value.retry_after == retry_after
    assert pacer.hold_offs == [retry_after]
    assert await read(source, file) == dropbox.fixture.read_bytes(file.file_id)  # then it works


@pytest.mark.parametrize("fault", ["internal_error", "service_unavailable"])
async def test_server_errors_are_transient_without_holding_everyone_off(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, fault: str
) -> None:
    pacer = RecordingPacer()
    source = on(connector(http, dropbox, pacer=pacer), dropbox.fixture.link("legacy"))
    dropbox.set_faults(FaultRule(fault, routes={"list"}, every=1, limit=1))
    with pytest.raises(TransientSourceError, match="HTTP 5") as caught:
        await source.list_page(ROOT, None)
    assert not caught.value.rate_limited
    assert pacer.hold_offs == []


def test_dropbox_api_arg_json_is_header_safe() -> None:
    text = header_safe_json({"path": "/Fête 🎄\x7f.jpg"})
    assert text.isascii() and "\x7f" not in text
    assert json.loads(text) == {"path": "/Fête 🎄\x7f.jpg"}


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind", "fragment"),
    [
        (
            400,
            {"content-type": "text/plain"},
            b'Error in call to API function "x": bad',
            PermanentSourceError,
            "HTTP 400",
        ),
        (
            403,
            {"content-type": "application/json"},
            b'{"error": {".tag": "no_permission"}}',
            PermanentSourceError,
            "HTTP 403",
        ),
        (
            409,
            {"content-type": "application/json"},
            b'{"error_summary": "path/not_found/..",'
            b' "error": {".tag": "path", "path": {".tag": "not_found"}}}',
            DropboxRouteError,
            "path/not_found",
        ),
        (
            401,
            {"content-type": "application/json"},
            b'{"error": {".tag": "expired_access_token"}}',
            PermanentSourceError,
            "expired",
        ),
        (
            429,
            {"content-type": "text/plain"},
            b"Too Many Requests",
            TransientSourceError,
            "too_many_requests",
        ),
        (
            429,
            {"content-type": "application/json"},
            b'{"error": {"reason": {".tag": "too_many_write_operations"}, "retry_after": 7}}',
            TransientSourceError,
            "retry after 7 s",
        ),
        (502, {}, b"", TransientSourceError, "HTTP 502"),
    ],
)
def test_errors_are_classified_by_status_and_tag(
    status: int, headers: dict[str, str], body: bytes, kind: type[Exception], fragment: str
) -> None:
    error = classify_error(httpx.Response(status, headers=headers, content=body))
    assert type(error) is kind
    assert fragment in str(error)
