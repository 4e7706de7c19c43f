"""The Drive emulator's test-only HTML index (`/_emulator/index/`), which lets generic HTTP tools
such as rclone copy a fixture folder from the same emulator the importer reads."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.google_drive import DriveFixture, EmulatorServer

SPEC: dict[str, Any] = {
    "seed": 31,
    "folders": [
        {
            "name": "photos",
            "files": [
                {"name_pattern": "IMG_{i:02d}.jpg", "count": 3, "size": [1_000, 200_000]},
                {"name": "notes.txt", "size": 100},
                {"name": "old.jpg", "size": 500, "trashed": True},
                {"name": "Plan", "mime_type": "application/vnd.google-apps.document"},
            ],
            "folders": [
                {"name": "sub", "files": [{"name": "deep.png", "size": 70_000}]},
                {"name": "binned", "trashed": True},
            ],
        }
    ],
}
HREF = re.compile(r'<a href="([^"]+)">')


@pytest.fixture(scope="module")
def fixture() -> DriveFixture:
    return DriveFixture(SPEC)


@pytest.fixture(scope="module")
def drive(fixture: DriveFixture) -> Iterator[EmulatorServer]:
    with EmulatorServer(fixture) as server:
        yield server


@pytest.fixture
def client(drive: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=drive.base_url, timeout=30) as http:
        yield http


def index_url(fixture: DriveFixture, *path: str) -> str:
    ids = [fixture.id_of(["photos", *path[: i + 1]]) for i in range(len(path))]
    return "/".join(["/_emulator/index", fixture.folder_id("photos"), *ids])


def test_a_folder_page_links_live_subfolders_with_a_slash_and_images_by_id(
    fixture: DriveFixture, client: httpx.Client
) -> None:
    response = client.get(index_url(fixture) + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    hrefs = HREF.findall(response.text)
    images = [fixture.id_of(["photos", f"IMG_{i:02d}.jpg"]) for i in (1, 2, 3)]
    assert sorted(hrefs) == sorted([fixture.id_of(["photos", "sub"]) + "/", *images])


def test_a_file_serves_the_same_bytes_as_alt_media_with_length_and_date(
    fixture: DriveFixture, client: httpx.Client
) -> None:
    item_id = fixture.id_of(["photos", "sub", "deep.png"])
    response = client.get(index_url(fixture, "sub", "deep.png"))
    assert response.status_code == 200
    media = client.get(f"/drive/v3/files/{item_id}", params={"alt": "media", "key": "k"})
    assert response.content == media.content == fixture.read_bytes(item_id)
    assert hashlib.md5(response.content).hexdigest() == fixture.checksums(item_id).md5
    assert response.headers["content-length"] == "70000"
    assert response.headers["last-modified"].endswith(" GMT")


def test_head_and_range_answer_without_the_whole_body(
    fixture: DriveFixture, client: httpx.Client
) -> None:
    item_id = fixture.id_of(["photos", "IMG_02.jpg"])
    url = index_url(fixture, "IMG_02.jpg")
    size = fixture.item(item_id).size
    head = client.head(url)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(size)
    assert head.content == b""
    part = client.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 10-19/{size}"
    assert part.content == fixture.read_bytes(item_id)[10:20]
    assert client.get(url, headers={"Range": f"bytes={size}-"}).status_code == 416


def test_what_the_page_does_not_list_is_not_found(
    fixture: DriveFixture, client: httpx.Client
) -> None:
    root = index_url(fixture)
    for name in ("notes.txt", "old.jpg", "Plan", "binned"):
        assert client.get(f"{root}/{fixture.id_of(['photos', name])}").status_code == 404
    # A child addressed below a folder that is not its parent.
    deep = fixture.id_of(["photos", "sub", "deep.png"])
    assert client.get(f"{root}/{deep}").status_code == 404
    assert client.get("/_emulator/index/1nosuchfolder/").status_code == 404
    assert client.post(root + "/").status_code == 405


def test_a_folder_without_its_slash_redirects_to_it(
    fixture: DriveFixture, client: httpx.Client
) -> None:
    response = client.get(index_url(fixture, "sub"))
    assert response.status_code == 301
    assert response.headers["location"] == index_url(fixture, "sub") + "/"


@pytest.mark.skipif(shutil.which("rclone") is None, reason="rclone is not installed")
def test_rclone_copies_every_image_byte_exact(
    fixture: DriveFixture, drive: EmulatorServer, tmp_path: Path
) -> None:
    subprocess.run(
        [
            "rclone",
            "copy",
            ":http:",
            str(tmp_path),
            "--http-url",
            drive.base_url + index_url(fixture) + "/",
        ],
        check=True,
        capture_output=True,
        env={"RCLONE_CONFIG": "/dev/null", "PATH": "/usr/bin:/bin"},
    )
    copied = {
        path.name: hashlib.md5(path.read_bytes()).hexdigest()
        for path in tmp_path.rglob("*")
        if path.is_file()
    }
    expected = {image.id: image.md5 for image in fixture.expected_images("photos")}
    assert copied == expected
