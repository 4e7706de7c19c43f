"""The API-key Drive connector's own ways, against the Drive emulator over real HTTP (what
every connector does is in sources/test_conformance.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulators.google_drive import DriveFixture, EmulatorServer, FaultRule
from worker.sources.base import (
    FolderPage,
    FolderRef,
    FolderUnavailable,
    SourceFile,
    TransientSourceError,
)
from worker.sources.google_drive import SHORTCUT_MIME_TYPE, GoogleDriveConnector

SPEC: dict[str, Any] = {
    "seed": 53,
    "folders": [
        {
            "name": "photos",
            "files": [
                {"name": "a.jpg", "size": 1_000},
                {"name": "binned.jpg", "size": 1_000, "trashed": True},
                {"name": "alias of a.jpg", "shortcut_to": "photos/a.jpg"},
                {"name": "to sub", "shortcut_to": "photos/sub"},
                {"name": "to nowhere.jpg", "shortcut_to_id": "1MissingMissingMissingMissingMiss"},
                {"name": "keyed.jpg", "size": 1_500, "resource_key": True},
            ],
            "folders": [
                {"name": "sub", "files": [{"name": "s.png", "size": 700}]},
                {"name": "team", "shared_drive": True, "files": [{"name": "t.gif", "size": 600}]},
                {
                    "name": "keyed",
                    "resource_key": True,
                    "files": [{"name": "k.jpg", "size": 900}],
                },
            ],
        }
    ],
}


class RecordingPacer:
    def __init__(self) -> None:
        self.hold_offs: list[float] = []

    async def wait_turn(self) -> None:
        pass

    async def hold_off(self, seconds: float) -> None:
        self.hold_offs.append(seconds)


@pytest.fixture(scope="module")
def drive() -> Iterator[EmulatorServer]:
    with EmulatorServer(DriveFixture(SPEC)) as server:
        yield server


@pytest.fixture
def pacer() -> RecordingPacer:
    return RecordingPacer()


@pytest.fixture
def connector(
    drive: EmulatorServer, http: httpx.AsyncClient, pacer: RecordingPacer
) -> Iterator[GoogleDriveConnector]:
    yield GoogleDriveConnector(
        http, api_url=drive.base_url, api_key="drive-test-key", page_size=100, pacer=pacer
    )
    drive.set_faults()


def folder(drive: EmulatorServer, path: str) -> FolderRef:
    item = drive.fixture.find(path)
    return FolderRef(item.id, item.resource_key)


async def listing(connector: GoogleDriveConnector, ref: FolderRef) -> FolderPage:
    page = await connector.list_page(ref, None)
    assert page.next_page_token is None
    return page


async def read(connector: GoogleDriveConnector, file: SourceFile) -> bytes:
    async with connector.open_file(file) as chunks:
        return b"".join([chunk async for chunk in chunks])


async def test_trashed_files_are_left_out_and_subfolders_include_shared_drives(
    drive: EmulatorServer, connector: GoogleDriveConnector
) -> None:
    page = await listing(connector, folder(drive, "photos"))
    names = {file.name for file in page.files}
    assert "binned.jpg" not in names
    subfolders = {ref.folder_id for ref in page.folders}
    assert {drive.fixture.id_of("photos/team"), drive.fixture.id_of("photos/sub")} <= subfolders
    team = await listing(connector, folder(drive, "photos/team"))
    assert [file.name for file in team.files] == ["t.gif"]


async def test_a_shortcut_to_a_file_brings_the_targets_bytes_under_the_shortcuts_name(
    drive: EmulatorServer, connector: GoogleDriveConnector
) -> None:
    page = await listing(connector, folder(drive, "photos"))
    alias = next(file for file in page.files if file.name == "alias of a.jpg")
    target = drive.fixture.find("photos/a.jpg")
    assert (alias.file_id, alias.mime_type, alias.checksums) == (
        target.id,
        "image/jpeg",
        {
            "md5": drive.fixture.checksums(target.id).md5,
            "sha256": drive.fixture.checksums(target.id).sha256,
        },
    )
    assert await read(connector, alias) == drive.fixture.read_bytes(target.id)


async def test_a_shortcut_to_a_folder_is_descended_and_a_dangling_one_is_skipped(
    drive: EmulatorServer, connector: GoogleDriveConnector
) -> None:
    page = await listing(connector, folder(drive, "photos"))
    assert drive.fixture.id_of("photos/sub") in {ref.folder_id for ref in page.folders}
    dangling = next(file for file in page.files if file.name == "to nowhere.jpg")
    assert dangling.mime_type == SHORTCUT_MIME_TYPE
    assert (
        dangling.not_downloadable is not None and "dangling shortcut" in dangling.not_downloadable
    )


async def test_resource_keys_go_with_every_call_that_needs_them(
    drive: EmulatorServer, connector: GoogleDriveConnector
) -> None:
    keyed = folder(drive, "photos/keyed")
    assert keyed.resource_key is not None
    await connector.check_folder(keyed)
    [file] = (await listing(connector, keyed)).files
    assert await read(connector, file) == drive.fixture.read_bytes(file.file_id)
    keyed_file = next(
        file
        for file in (await listing(connector, folder(drive, "photos"))).files
        if file.name == "keyed.jpg"
    )
    assert keyed_file.resource_key is not None
    assert await read(connector, keyed_file) == drive.fixture.read_bytes(keyed_file.file_id)


async def test_a_link_to_a_file_is_not_a_folder(
    drive: EmulatorServer, connector: GoogleDriveConnector
) -> None:
    with pytest.raises(FolderUnavailable, match="not a folder"):
        await connector.check_folder(folder(drive, "photos/a.jpg"))


@pytest.mark.parametrize("fault", ["user_rate_limit_exceeded", "too_many_requests"])
async def test_a_rate_limit_holds_everyone_on_the_key_off(
    drive: EmulatorServer, connector: GoogleDriveConnector, pacer: RecordingPacer, fault: str
) -> None:
    drive.set_faults(FaultRule(fault, routes=frozenset({"list"}), every=1, retry_after=4))
    with pytest.raises(TransientSourceError) as caught:
        await connector.list_page(folder(drive, "photos"), None)
    assert caught.value.rate_limited
    assert len(pacer.hold_offs) == 1


async def test_a_server_error_holds_nobody_off(
    drive: EmulatorServer, connector: GoogleDriveConnector, pacer: RecordingPacer
) -> None:
    drive.set_faults(FaultRule("backend_error", routes=frozenset({"list"}), every=1))
    with pytest.raises(TransientSourceError) as caught:
        await connector.list_page(folder(drive, "photos"), None)
    assert not caught.value.rate_limited
    assert pacer.hold_offs == []
