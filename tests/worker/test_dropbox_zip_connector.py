"""The key-less Dropbox connector against the emulator's shared-link zips, over real HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
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
from worker.sources.dropbox_zip import DropboxZipConnector, zip_file_id
from worker.sources.dropbox_zip.download import folder_name

UNICODE = "Fête à Noël 🎄.jpg"
SPEC: dict[str, Any] = {
    "seed": 43,
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
                    "files": [{"name_pattern": "s_{i:02d}.gif", "count": 9, "size": 800}],
                    "folders": [{"name": "deeper", "files": [{"name": "d.webp", "size": 500}]}],
                },
                {"name": "empty"},
            ],
        },
        {"name": "legacy", "link": "sh", "files": [{"name": "old.jpg", "size": 1_234}]},
        {"name": "locked", "password": "pw", "files": [{"name": "secret.jpg", "size": 999}]},
    ],
}


@pytest.fixture(scope="module")
def dropbox() -> Iterator[DropboxEmulatorServer]:
    with DropboxEmulatorServer(DropboxFixture(SPEC)) as server:
        yield server


@pytest.fixture(autouse=True)
def clean_emulator(dropbox: DropboxEmulatorServer) -> Iterator[None]:
    dropbox.stats.reset()
    yield
    dropbox.set_faults()
    dropbox.settings.update({"zip_max_files": 10_000})


def connector(
    http: httpx.AsyncClient,
    dropbox: DropboxEmulatorServer,
    directory: Path,
    *,
    link: str = "photos",
    page_size: int = 1000,
    keep_seconds: float = 600,
) -> DropboxZipConnector:
    """The connector reading the fixture's folder `link`, as the pipeline binds it."""
    source = DropboxZipConnector(
        http,
        web_url=dropbox.base_url,
        zip_dir=str(directory),
        page_size=page_size,
        pacer=NoPacing(),
        keep_seconds=keep_seconds,
    )
    return on(source, dropbox.fixture.link(link))


def on(source: DropboxZipConnector, url: str, password: str | None = None) -> DropboxZipConnector:
    return source.for_link(ImportLink(DropboxFolder("sh/x/y", url), password))


# The root folder as the pipeline hands it over: the folder id the API parsed from the link.
ROOT = FolderRef("sh/x/y")


def note(path: str | None = None, snapshot: str | None = None) -> dict[str, str]:
    return {name: value for name, value in {"path": path, "snapshot": snapshot}.items() if value}


async def list_all(source: SourceConnector, folder: FolderRef) -> list[FolderPage]:
    pages = [await source.list_page(folder, None)]
    while pages[-1].next_page_token:
        pages.append(await source.list_page(folder, pages[-1].next_page_token))
    return pages


async def read(source: SourceConnector, file: SourceFile) -> bytes:
    async with source.open_file(file) as chunks:
        return b"".join([chunk async for chunk in chunks])


def test_the_connector_fulfils_the_source_contract_and_states_its_limits(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source: SourceConnector = connector(http, dropbox, tmp_path)
    assert source.notes is not None
    for limit in ["250 GB", "10,000 files", "password", "downloads the whole zip"]:
        assert limit in source.notes


def test_the_zip_link_is_the_folder_link_with_dl_1_on_the_configured_host(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path)
    link = "https://www.dropbox.com/scl/fo/abc/DEF?rlkey=k1&st=s2&dl=0&e=1"
    assert source.zip_url(link) == f"{dropbox.base_url}/scl/fo/abc/DEF?rlkey=k1&st=s2&e=1&dl=1"
    assert source.zip_url("https://www.dropbox.com/sh/a/B") == f"{dropbox.base_url}/sh/a/B?dl=1"


async def test_a_folder_lists_from_one_download_with_sizes_and_md5s_of_its_files(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path)
    folder = ROOT
    await source.check_folder(folder)
    page = await source.list_page(folder, None)

    fixture = dropbox.fixture
    link = fixture.link("photos")
    assert page.next_page_token is None
    assert [ref.folder_id for ref in page.folders] == ["/empty", "/sub"]
    snapshot = json.loads(page.folders[0].resource_key or "{}").get("snapshot")
    assert snapshot is not None
    by_name = {file.name: file for file in page.files}
    # The cloud document is not in the zip.
    assert set(by_name) == {f"IMG_{i:02d}.jpg" for i in range(1, 8)} | {
        UNICODE,
        "big.png",
        "notes.txt",
    }
    for name, file in by_name.items():
        item = fixture.find("photos", f"/{name}")
        assert file.file_id == zip_file_id(link, f"/{name}")
        assert (file.size, file.checksums) == (item.size, {"md5": fixture.md5(item.id)})
        # The link is the import's: a file keeps its own path and the copy it was listed from.
        assert json.loads(file.resource_key or "") == note(f"/{name}", snapshot)
    assert by_name["notes.txt"].mime_type == "text/plain"

    sub = next(ref for ref in page.folders if ref.folder_id == "/sub")
    sub_page = await source.list_page(sub, None)
    assert sorted(file.name for file in sub_page.files) == [f"s_{i:02d}.gif" for i in range(1, 10)]
    assert [ref.folder_id for ref in sub_page.folders] == ["/sub/deeper"]
    # The check read only the start of a zip; the listing downloaded one; the subfolder reused it.
    assert dropbox.stats.zip_downloads == 2


async def test_file_ids_are_stable_per_link_and_path_ignoring_case() -> None:
    link = "https://www.dropbox.com/sh/abc/DEF?dl=0"
    assert zip_file_id(link, "/A/b.jpg") == zip_file_id(link.split("?")[0], "/a/B.JPG")
    assert zip_file_id(link, "/a.jpg") != zip_file_id("https://www.dropbox.com/sh/x/Y", "/a.jpg")


async def test_pages_follow_names_and_stay_on_one_copy(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path, page_size=4)
    pages = await list_all(source, ROOT)
    names = [file.name for page in pages for file in page.files]
    names += [ref.folder_id for page in pages for ref in page.folders]
    assert len(pages) == 3
    assert len(names) == len(set(names)) == 12
    tokens = [page.next_page_token for page in pages[:-1]]
    assert len({token.split(":")[0] for token in tokens if token}) == 1
    assert dropbox.stats.zip_downloads == 1


async def test_files_stream_byte_exact_from_the_copy_without_another_download(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path)
    page = await source.list_page(ROOT, None)
    fixture = dropbox.fixture
    for file in page.files:
        item = fixture.find("photos", f"/{file.name}")
        assert await read(source, file) == fixture.read_bytes(item.id)
    assert dropbox.stats.zip_downloads == 1


async def test_another_worker_downloads_its_own_copy_once_and_serves_every_file(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    lister = connector(http, dropbox, tmp_path / "one")
    page = await lister.list_page(ROOT, None)
    elsewhere = connector(http, dropbox, tmp_path / "two")  # no copy of that snapshot

    for file in page.files[:3]:
        item = dropbox.fixture.find("photos", f"/{file.name}")
        assert await read(elsewhere, file) == dropbox.fixture.read_bytes(item.id)
    assert dropbox.stats.zip_downloads == 2


async def test_a_reimport_lists_a_fresh_copy(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path, link="legacy")
    first = await source.list_page(ROOT, None)
    again = await source.list_page(ROOT, None)
    assert dropbox.stats.zip_downloads == 2
    assert [file.file_id for file in first.files] == [file.file_id for file in again.files]
    assert first.files[0].resource_key != again.files[0].resource_key  # another snapshot


async def test_a_damaged_copy_is_thrown_away_and_downloaded_again(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path)
    page = await source.list_page(ROOT, None)
    big = next(file for file in page.files if file.name == "big.png")
    [copy] = list(source.zips.directory.glob("*.zip"))
    with copy.open("r+b") as handle:  # scribble over the middle of the big entry
        handle.seek(copy.stat().st_size // 2)
        handle.write(b"\x00" * 4096)

    with pytest.raises(TransientSourceError, match="damaged"):
        await read(source, big)
    item = dropbox.fixture.find("photos", "/big.png")
    assert await read(source, big) == dropbox.fixture.read_bytes(item.id)
    assert dropbox.stats.zip_downloads == 2


async def test_a_cut_download_leaves_nothing_behind_and_the_next_try_works(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path)
    dropbox.set_faults(FaultRule("cut_body", routes={"zip"}, every=1, limit=1, cut_at=0.5))
    with pytest.raises(TransientSourceError, match="cut off"):
        await source.list_page(ROOT, None)
    assert list(source.zips.directory.iterdir()) == []

    page = await source.list_page(ROOT, None)
    assert len(page.files) == 10


@pytest.mark.parametrize(
    ("fault", "rate_limited"),
    [("too_many_requests", True), ("too_many_requests_text", True), ("service_unavailable", False)],
)
async def test_rate_limits_and_5xx_on_the_link_are_transient(
    http: httpx.AsyncClient,
    dropbox: DropboxEmulatorServer,
    tmp_path: Path,
    fault: str,
    rate_limited: bool,
) -> None:
    source = connector(http, dropbox, tmp_path, link="legacy")
    dropbox.set_faults(FaultRule(fault, routes={"web"}, every=1, limit=1, retry_after=2))
    with pytest.raises(TransientSourceError) as caught:
        await source.check_folder(ROOT)
    assert caught.value.retry_after == 2
    assert caught.value.rate_limited is rate_limited
    await source.check_folder(ROOT)


async def test_links_that_cannot_be_zipped_fail_the_folder_saying_why(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path)
    dead = on(source, "https://www.dropbox.com/sh/nope000/AAnope?dl=0")
    with pytest.raises(FolderUnavailable, match="does not know this shared link"):
        await dead.check_folder(ROOT)
    no_rlkey = on(source, dropbox.fixture.link("photos").split("?")[0])
    with pytest.raises(FolderUnavailable, match="needs its rlkey"):
        await no_rlkey.check_folder(ROOT)
    locked = dropbox.fixture.link("locked")
    with pytest.raises(FolderUnavailable, match="has a password"):
        await on(source, locked, password="pw").check_folder(ROOT)
    with pytest.raises(FolderUnavailable, match="Password required"):
        await on(source, locked).check_folder(ROOT)
    dropbox.settings.update({"zip_max_files": 5})
    with pytest.raises(FolderUnavailable, match="Too large"):
        await source.list_page(ROOT, None)


async def test_a_file_or_folder_gone_from_the_zip_is_a_permanent_error(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path, link="legacy")
    page = await source.list_page(ROOT, None)
    snapshot = json.loads(page.files[0].resource_key or "{}")["snapshot"]
    in_snapshot = json.dumps(note(snapshot=snapshot))
    with pytest.raises(PermanentSourceError, match="no longer in the shared folder"):
        await source.list_page(FolderRef("/gone", in_snapshot), None)
    gone_note = json.dumps(note("/g.jpg", snapshot))
    gone = SourceFile("zip:x", "g.jpg", "image/jpeg", resource_key=gone_note)
    with pytest.raises(PermanentSourceError, match="no longer in the shared folder"):
        await read(source, gone)


async def test_idle_copies_are_deleted(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    source = connector(http, dropbox, tmp_path, keep_seconds=0)
    await on(source, dropbox.fixture.link("legacy")).list_page(ROOT, None)
    assert len(list(source.zips.directory.glob("*.zip"))) == 1
    await source.list_page(ROOT, None)  # the legacy copy is idle: gone
    assert len(list(source.zips.directory.glob("*.zip"))) == 1
    source.zips.close()
    assert not source.zips.directory.exists()


def test_copies_of_a_worker_that_died_are_removed_by_the_next_one(
    http: httpx.AsyncClient, dropbox: DropboxEmulatorServer, tmp_path: Path
) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], check=True, capture_output=True
    )
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f"dropbox-zips-{dead_pid}-abc"
    orphan.mkdir()
    (orphan / "x.zip").write_bytes(b"PK")
    alive = tmp_path / f"dropbox-zips-{os.getpid()}-def"
    alive.mkdir()

    connector(http, dropbox, tmp_path)

    assert not orphan.exists()
    assert alive.exists()


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        # Dropbox sends an ASCII stand-in beside the UTF-8 name: the UTF-8 one is the folder's.
        (
            "attachment; filename=\"F_te __.zip\"; filename*=UTF-8''F%C3%AAte%20%F0%9F%8E%84.zip",
            "Fête 🎄",
        ),
        ('attachment; filename="Holiday photos.zip"', "Holiday photos"),
        ("attachment", None),
        (None, None),
    ],
)
def test_the_folder_name_is_the_zips_file_name(disposition: str | None, name: str | None) -> None:
    headers = {"content-disposition": disposition} if disposition else {}
    assert folder_name(httpx.Response(200, headers=headers)) == name
