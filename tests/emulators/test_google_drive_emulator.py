from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from emulators.google_drive import (
    DriveFixture,
    EmulatorServer,
    EmulatorSettings,
    FaultRule,
    ShortPages,
)
from emulators.google_drive.samples import bulk_folder_spec

API_KEY = "test-key"
FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ID = re.compile(r"^1[A-Za-z0-9_-]{32}$")

# One fixture exercising every awkward case; ids and bytes are derived, so it is cheap to build.
DRIVE_SPEC: dict[str, Any] = {
    "seed": 11,
    "folders": [
        {
            "name": "photos",
            "files": [
                {"name_pattern": "IMG_{i:03d}.jpg", "count": 25, "size": [1_000, 50_000]},
                {"name": "diagram.png", "size": 4_321},
                {"name": "anim.gif", "size": 2_000},
                {"name": "sticker.webp", "size": 3_000},
                {"name": "empty.jpg", "size": 0},
                {"name": "old.jpg", "size": 5_000, "trashed": True},
                {"name": "malware.jpg", "size": 5_000, "abusive": True},
                {"name": "popular.jpg", "size": 5_000, "download_quota_exceeded": True},
                {"name": 'it\'s a "test" \\ back.jpg', "size": 1_234},
                {"name": "notes.txt", "size": 500},
                {"name": "Plan", "mime_type": "application/vnd.google-apps.document"},
                {"name": "link.jpg", "shortcut_to": "photos/IMG_001.jpg"},
                {"name": "link-to-folder", "shortcut_to": "photos/keyed"},
                {"name": "link-to-keyed.jpg", "shortcut_to": "photos/keyed/secret.jpg"},
                {"name": "dangling.jpg", "shortcut_to_id": "1NoSuchFileNoSuchFileNoSuchFile00"},
                {"name": "big.bin", "mime_type": "application/octet-stream", "size": "8MiB"},
            ],
            "folders": [
                {
                    "name": "keyed",
                    "resource_key": True,
                    "files": [{"name": "secret.jpg", "size": 2_000, "resource_key": True}],
                },
                {
                    "name": "team",
                    "shared_drive": "Team Drive",
                    "files": [{"name": "team.jpg", "size": 2_000}],
                },
                {
                    "name": "ragged",
                    "short_pages": [1, 0.5, 0],
                    "files": [{"name_pattern": "r{i:02d}.png", "count": 40, "size": 100}],
                },
            ],
        }
    ],
}


@pytest.fixture(scope="session")
def drive_fixture() -> DriveFixture:
    return DriveFixture(DRIVE_SPEC)


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    """Start emulators on free ports for one test; each test gets its own state."""
    servers: list[EmulatorServer] = []

    def start(fixture: DriveFixture, settings: EmulatorSettings | None = None) -> EmulatorServer:
        server = EmulatorServer(fixture, settings=settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def emulator(
    drive_fixture: DriveFixture, start_emulator: Callable[..., EmulatorServer]
) -> EmulatorServer:
    return start_emulator(drive_fixture)


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """A client that sends the API key on every call, as an anonymous Drive client does."""
    with httpx.Client(base_url=emulator.base_url, params={"key": API_KEY}, timeout=30) as http:
        yield http


def children_query(folder_id: str, extra: str = "") -> str:
    return f"'{folder_id}' in parents" + (f" and {extra}" if extra else "")


def list_all(client: httpx.Client, params: dict[str, Any], **kwargs: Any) -> list[dict[str, Any]]:
    """Follow nextPageToken to the end, as a client must."""
    files: list[dict[str, Any]] = []
    token = None
    while True:
        page_params = dict(params) | ({"pageToken": token} if token else {})
        response = client.get("/drive/v3/files", params=page_params, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        files.extend(body["files"])
        token = body.get("nextPageToken")
        if token is None:
            return files


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]["errors"][0]
    return error


# --- fixture model -------------------------------------------------------------------------


def test_ids_are_33_url_safe_characters_and_stable_across_builds(
    drive_fixture: DriveFixture,
) -> None:
    again = DriveFixture(DRIVE_SPEC)
    for item in drive_fixture:
        assert ID.match(item.id), item.id
        assert again.get(item.id) is not None


def test_duplicate_names_in_one_folder_get_distinct_ids() -> None:
    fixture = DriveFixture({"name": "d", "files": [{"name": "a.jpg"}, {"name": "a.jpg"}]})
    first, second = fixture.children(fixture.folder_id("d"))
    assert first.name == second.name
    assert first.id != second.id
    assert fixture.read_bytes(first.id) != fixture.read_bytes(second.id)


def test_ids_depend_on_the_seed() -> None:
    spec = {"name": "d", "files": [{"name": "a.jpg"}]}
    assert DriveFixture(spec).id_of("d/a.jpg") != DriveFixture({"seed": 1, **spec}).id_of("d/a.jpg")


@pytest.mark.parametrize(
    ("name", "magic"),
    [
        ("IMG_001.jpg", b"\xff\xd8\xff"),
        ("diagram.png", b"\x89PNG\r\n\x1a\n"),
        ("anim.gif", b"GIF89a"),
        ("sticker.webp", b"RIFF"),
    ],
)
def test_image_bytes_start_with_the_magic_header_of_their_type(
    drive_fixture: DriveFixture, name: str, magic: bytes
) -> None:
    data = drive_fixture.read_bytes(drive_fixture.id_of(f"photos/{name}"))
    assert data.startswith(magic)
    if name.endswith(".webp"):
        assert data[8:12] == b"WEBP"
        assert int.from_bytes(data[4:8], "little") == len(data) - 8


def test_byte_ranges_agree_with_the_whole_file(drive_fixture: DriveFixture) -> None:
    file_id = drive_fixture.id_of("photos/big.bin")
    whole = drive_fixture.read_bytes(file_id)
    assert len(whole) == 8 * 1024 * 1024
    for start, end in [
        (0, 1),
        (65_530, 65_560),
        (1_000_000, 3_000_001),
        (8 * 1024 * 1024 - 5, None),
    ]:
        assert b"".join(drive_fixture.iter_bytes(file_id, start, end)) == whole[start:end]


def test_byte_generation_is_fast_enough_for_big_files(drive_fixture: DriveFixture) -> None:
    item = drive_fixture.find("photos/big.bin")
    started = time.perf_counter()
    total = sum(len(chunk) for _ in range(16) for chunk in drive_fixture.content.chunks(item))
    elapsed = time.perf_counter() - started
    print(f"generated {total / 1e6:.0f} MB at {total / 1e6 / elapsed:.0f} MB/s")
    assert total == 16 * item.size


def test_yaml_fixture_loads_like_a_dict(tmp_path: Any) -> None:
    path = tmp_path / "drive.yaml"
    path.write_text(
        "seed: 3\nfolders:\n  - name: photos\n    files:\n"
        "      - {name_pattern: 'IMG_{i:02d}.jpg', count: 3, size: [10, 20]}\n",
        encoding="utf-8",
    )
    fixture = DriveFixture.from_yaml(path)
    names = [item.name for item in fixture.children(fixture.folder_id("photos"))]
    assert names == ["IMG_01.jpg", "IMG_02.jpg", "IMG_03.jpg"]
    assert DriveFixture.load(str(path), extra_files=5).find("bulk") is not None


def test_unknown_fixture_keys_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown file keys"):
        DriveFixture({"name": "d", "files": [{"name": "a.jpg", "sise": 3}]})


def test_expected_images_of_the_sample_are_about_sixty() -> None:
    fixture = DriveFixture.sample()
    images = fixture.expected_images("Holiday photos")
    assert 55 <= len(images) <= 70
    names = {image.name for image in images}
    assert "<img src=x onerror=alert(1)>.png" in names
    assert "deleted.jpg" not in names
    assert "flagged.jpg" not in names
    assert all(image.mime_type.startswith("image/") for image in images)


# --- authentication ------------------------------------------------------------------------


def test_missing_api_key_is_403_unregistered_caller(emulator: EmulatorServer) -> None:
    response = httpx.get(f"{emulator.base_url}/drive/v3/files")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["message"].startswith("Method doesn't allow unregistered callers")
    assert error["errors"][0] == {
        "domain": "global",
        "reason": "forbidden",
        "message": error["message"],
    }


def test_unknown_api_key_is_400_api_key_invalid(
    drive_fixture: DriveFixture, start_emulator: Callable[..., EmulatorServer]
) -> None:
    server = start_emulator(drive_fixture, EmulatorSettings(accepted_keys=frozenset({"good"})))
    bad = httpx.get(f"{server.base_url}/drive/v3/files", params={"key": "bad"})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["status"] == "INVALID_ARGUMENT"
    assert error["errors"][0]["reason"] == "badRequest"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert error["details"][0]["domain"] == "googleapis.com"
    good = httpx.get(f"{server.base_url}/drive/v3/files", params={"key": "good"})
    assert good.status_code == 200


def test_bearer_token_is_accepted_instead_of_a_key(emulator: EmulatorServer) -> None:
    response = httpx.get(
        f"{emulator.base_url}/drive/v3/files", headers={"Authorization": "Bearer ya29.token"}
    )
    assert response.status_code == 200


def test_disabled_api_is_403_access_not_configured(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    httpx.post(f"{emulator.base_url}/_emulator/settings", json={"api_enabled": False})
    response = client.get("/drive/v3/files")
    assert response.status_code == 403
    assert error_of(response)["domain"] == "usageLimits"
    assert error_of(response)["reason"] == "accessNotConfigured"


# --- files.list ----------------------------------------------------------------------------


def test_list_default_projection_is_kind_id_name_mime_type_and_resource_key(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    params: dict[str, Any] = {"q": children_query(drive_fixture.folder_id("photos"))}
    body = client.get("/drive/v3/files", params=params).json()
    assert set(body) - {"nextPageToken"} == {"kind", "incompleteSearch", "files"}
    assert body["kind"] == "drive#fileList"
    assert body["incompleteSearch"] is False
    for file in body["files"]:
        expected = {"kind", "id", "name", "mimeType"}
        if file["name"] == "keyed":
            expected.add("resourceKey")
        assert set(file) == expected
        assert file["kind"] == "drive#file"


def test_list_returns_only_requested_fields(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos")),
        "fields": "nextPageToken, files(id, name,size)",
        "pageSize": 1000,
    }
    body = client.get("/drive/v3/files", params=params).json()
    assert set(body) == {"files"}  # one page, so no token; kind was not asked for
    for file in body["files"]:
        assert set(file) <= {"id", "name", "size"}
        assert {"id", "name"} <= set(file)


def test_fields_accept_slash_and_nested_selections(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos"), "name = 'IMG_001.jpg'"),
        "fields": "files/id,files/imageMediaMetadata(width,height),files/capabilities/canDownload",
    }
    (file,) = client.get("/drive/v3/files", params=params).json()["files"]
    assert set(file) == {"id", "imageMediaMetadata", "capabilities"}
    assert set(file["imageMediaMetadata"]) == {"width", "height"}
    assert file["capabilities"] == {"canDownload": True}


def test_fields_star_returns_every_field(drive_fixture: DriveFixture, client: httpx.Client) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos"), "name = 'IMG_001.jpg'")
    }
    body = client.get("/drive/v3/files", params=params | {"fields": "*"}).json()
    file = body["files"][0]
    assert {"kind", "incompleteSearch", "files"} <= set(body)
    for name in ("md5Checksum", "sha256Checksum", "size", "parents", "modifiedTime", "webViewLink"):
        assert name in file
    assert (
        client.get("/drive/v3/files", params=params | {"fields": "files(*)"}).json()["files"][0]
        == file
    )


@pytest.mark.parametrize(
    "fields", ["files(id,nmae)", "items(id)", "starred", "files(id", "files/size/x"]
)
def test_unknown_field_in_the_mask_is_400_on_fields(
    drive_fixture: DriveFixture, client: httpx.Client, fields: str
) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos")),
        "fields": fields,
    }
    response = client.get("/drive/v3/files", params=params)
    assert response.status_code == 400
    assert error_of(response)["location"] == "fields"
    assert error_of(response)["message"].startswith("Invalid field selection")


def test_size_is_a_string(drive_fixture: DriveFixture, client: httpx.Client) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos")),
        "fields": "files(name,size,quotaBytesUsed,version)",
        "pageSize": 1000,
    }
    files = client.get("/drive/v3/files", params=params).json()["files"]
    sized = [file for file in files if "size" in file]
    assert sized
    for file in sized:
        assert isinstance(file["size"], str)
        assert int(file["size"]) == drive_fixture.find(["photos", file["name"]]).size
    assert all(isinstance(file["quotaBytesUsed"], str) for file in files)
    assert all(isinstance(file["version"], str) for file in files)


def test_folders_shortcuts_and_google_docs_have_no_size_or_checksums(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos")),
        "fields": "files(name,mimeType,size,md5Checksum,sha256Checksum)",
        "pageSize": 1000,
    }
    files = client.get("/drive/v3/files", params=params).json()["files"]
    native = [file for file in files if file["mimeType"].startswith("application/vnd.google-apps.")]
    assert {file["mimeType"] for file in native} == {
        FOLDER,
        SHORTCUT,
        "application/vnd.google-apps.document",
    }
    for file in native:
        assert set(file) == {"name", "mimeType"}
    empty = next(file for file in files if file["name"] == "empty.jpg")
    assert empty["size"] == "0"
    assert empty["md5Checksum"] == hashlib.md5(b"").hexdigest()


def test_times_are_rfc3339_with_milliseconds_and_z(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos")),
        "fields": "files(createdTime,modifiedTime)",
    }
    for file in client.get("/drive/v3/files", params=params).json()["files"]:
        assert RFC3339_MS.match(file["createdTime"])
        assert RFC3339_MS.match(file["modifiedTime"])
        assert file["createdTime"] <= file["modifiedTime"]


def test_trashed_files_are_listed_unless_the_query_excludes_them(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    folder = drive_fixture.folder_id("photos")
    everything = {f["name"] for f in list_all(client, {"q": children_query(folder)})}
    live = {f["name"] for f in list_all(client, {"q": children_query(folder, "trashed = false")})}
    binned = {f["name"] for f in list_all(client, {"q": children_query(folder, "trashed=true")})}
    assert "old.jpg" in everything
    assert "old.jpg" not in live
    assert binned == {"old.jpg"}


def test_mime_type_filters_select_and_exclude(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    folder = drive_fixture.folder_id("photos")
    folders = list_all(client, {"q": children_query(folder, f"mimeType = '{FOLDER}'")})
    assert {file["name"] for file in folders} == {"keyed", "ragged"}  # "team" is in a shared drive
    others = list_all(
        client, {"q": children_query(folder, f"mimeType != '{FOLDER}' and trashed = false")}
    )
    assert all(file["mimeType"] != FOLDER for file in others)
    assert len(folders) + len(others) + 1 == len(list_all(client, {"q": children_query(folder)}))


def test_name_filter_understands_escaped_quotes_and_backslashes(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    folder = drive_fixture.folder_id("photos")
    query = children_query(folder, "name = 'it\\'s a \"test\" \\\\ back.jpg'")
    (file,) = list_all(client, {"q": query})
    assert file["name"] == 'it\'s a "test" \\ back.jpg'
    parenthesised = f"({children_query(folder)}) and (name = 'IMG_002.jpg' and trashed = false)"
    assert [f["name"] for f in list_all(client, {"q": parenthesised})] == ["IMG_002.jpg"]


@pytest.mark.parametrize(
    "clause",
    [
        "name contains 'IMG'",
        "trashed = false or trashed = true",
        "not trashed = true",
        "starred = true",
        "name = 'unterminated",
        "name = 'bad \\n escape'",
        "trashed = maybe",
        "name = IMG_001.jpg",
    ],
)
def test_unsupported_query_is_400_invalid_on_q(
    drive_fixture: DriveFixture, client: httpx.Client, clause: str
) -> None:
    response = client.get(
        "/drive/v3/files", params={"q": children_query(drive_fixture.folder_id("photos"), clause)}
    )
    assert response.status_code == 400
    assert error_of(response) == {
        "domain": "global",
        "reason": "invalid",
        "message": "Invalid Value",
        "locationType": "parameter",
        "location": "q",
    }


def test_listing_an_unknown_folder_is_200_and_empty(client: httpx.Client) -> None:
    response = client.get("/drive/v3/files", params={"q": children_query("1" + "x" * 32)})
    assert response.status_code == 200
    assert response.json()["files"] == []
    assert "nextPageToken" not in response.json()


@pytest.mark.parametrize("page_size", ["0", "1001", "-3", "ten"])
def test_page_size_out_of_range_is_400_on_page_size(
    drive_fixture: DriveFixture, client: httpx.Client, page_size: str
) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos")),
        "pageSize": page_size,
    }
    response = client.get("/drive/v3/files", params=params)
    assert response.status_code == 400
    assert error_of(response)["reason"] == "invalid"
    assert error_of(response)["location"] == "pageSize"


def test_page_size_above_the_maximum_can_be_clamped_instead(
    drive_fixture: DriveFixture, start_emulator: Callable[..., EmulatorServer]
) -> None:
    server = start_emulator(drive_fixture, EmulatorSettings(page_size_policy="clamp"))
    params: dict[str, Any] = {
        "key": API_KEY,
        "q": children_query(drive_fixture.folder_id("photos")),
        "pageSize": 5000,
    }
    assert httpx.get(f"{server.base_url}/drive/v3/files", params=params).status_code == 200


def test_default_page_size_is_100() -> None:
    fixture = DriveFixture(bulk_folder_spec(250))
    with EmulatorServer(fixture) as server:
        params: dict[str, Any] = {"key": API_KEY, "q": children_query(fixture.folder_id("bulk"))}
        body = httpx.get(f"{server.base_url}/drive/v3/files", params=params).json()
    assert len(body["files"]) == 100
    assert body["nextPageToken"]


def test_paging_visits_every_file_once_and_the_last_page_has_no_token(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    folder = drive_fixture.folder_id("photos")
    pages = []
    token = None
    while True:
        params: dict[str, Any] = {"q": children_query(folder), "pageSize": 7} | (
            {"pageToken": token} if token else {}
        )
        body = client.get("/drive/v3/files", params=params).json()
        pages.append(body)
        token = body.get("nextPageToken")
        if not token:
            break
    ids = [file["id"] for page in pages for file in page["files"]]
    assert len(ids) == len(set(ids))
    visible = [c.id for c in drive_fixture.children(folder) if c.drive_id is None]
    assert ids == visible
    assert all(len(page["files"]) == 7 for page in pages[:-1])
    assert "nextPageToken" not in pages[-1]


@pytest.mark.parametrize("token", ["garbage", "~!!~AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "~!!~%%%"])
def test_bad_page_token_is_400_on_page_token(
    drive_fixture: DriveFixture, client: httpx.Client, token: str
) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos")),
        "pageToken": token,
    }
    response = client.get("/drive/v3/files", params=params)
    assert response.status_code == 400
    assert error_of(response)["location"] == "pageToken"


def test_page_token_is_bound_to_its_query(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    folder = drive_fixture.folder_id("photos")
    token = client.get(
        "/drive/v3/files", params={"q": children_query(folder), "pageSize": 2}
    ).json()["nextPageToken"]
    other = {"q": children_query(folder, "trashed = false"), "pageToken": token}
    assert client.get("/drive/v3/files", params=other).status_code == 400


def test_short_pages_still_carry_a_next_page_token(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    folder = drive_fixture.folder_id("photos/ragged")
    sizes = []
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"q": children_query(folder), "pageSize": 10} | (
            {"pageToken": token} if token else {}
        )
        body = client.get("/drive/v3/files", params=params).json()
        sizes.append(len(body["files"]))
        seen += [file["name"] for file in body["files"]]
        token = body.get("nextPageToken")
        if token is None:
            break
    # pattern [1, 0.5, 0]: full, half, empty (with a token), full, ...
    assert sizes[:4] == [10, 5, 0, 10]
    assert seen == [f"r{i:02d}.png" for i in range(1, 41)]


def test_global_short_pages_setting_applies_to_folders_without_their_own(
    drive_fixture: DriveFixture, start_emulator: Callable[..., EmulatorServer]
) -> None:
    server = start_emulator(drive_fixture, EmulatorSettings(short_pages=ShortPages((0, 1))))
    params: dict[str, Any] = {
        "key": API_KEY,
        "q": children_query(drive_fixture.folder_id("photos")),
        "pageSize": 5,
    }
    first = httpx.get(f"{server.base_url}/drive/v3/files", params=params).json()
    assert first["files"] == []
    assert first["nextPageToken"]
    second = httpx.get(
        f"{server.base_url}/drive/v3/files", params=params | {"pageToken": first["nextPageToken"]}
    ).json()
    assert len(second["files"]) == 5
    # The same switch at runtime through the control endpoint.
    httpx.post(f"{server.base_url}/_emulator/settings", json={"short_pages": None})
    assert len(httpx.get(f"{server.base_url}/drive/v3/files", params=params).json()["files"]) == 5


def test_shared_drive_items_are_hidden_unless_both_flags_are_set(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    team = drive_fixture.folder_id("photos/team")
    photos = drive_fixture.folder_id("photos")
    both = {"supportsAllDrives": "true", "includeItemsFromAllDrives": "true"}
    assert list_all(client, {"q": children_query(team)}) == []
    assert list_all(client, {"q": children_query(team), "supportsAllDrives": "true"}) == []
    assert [f["name"] for f in list_all(client, {"q": children_query(team)} | both)] == ["team.jpg"]
    assert "team" not in {f["name"] for f in list_all(client, {"q": children_query(photos)})}
    assert "team" in {f["name"] for f in list_all(client, {"q": children_query(photos)} | both)}
    file_id = drive_fixture.id_of("photos/team/team.jpg")
    assert client.get(f"/drive/v3/files/{file_id}").status_code == 404
    found = client.get(
        f"/drive/v3/files/{file_id}", params={"supportsAllDrives": "true", "fields": "driveId"}
    )
    assert found.json()["driveId"].startswith("0A")


def test_order_by_is_accepted_and_validated(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    folder = drive_fixture.folder_id("photos")
    ordered = list_all(client, {"q": children_query(folder), "orderBy": "folder,name desc"})
    assert ordered[0]["mimeType"] == FOLDER
    bad = client.get("/drive/v3/files", params={"q": children_query(folder), "orderBy": "size"})
    assert bad.status_code == 400
    assert error_of(bad)["location"] == "orderBy"


# --- resource keys and shortcuts ------------------------------------------------------------


def test_missing_resource_key_hides_the_file(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    secret = drive_fixture.find("photos/keyed/secret.jpg")
    assert secret.resource_key and secret.resource_key.startswith("0-")
    assert client.get(f"/drive/v3/files/{secret.id}").status_code == 404
    assert client.get(f"/drive/v3/files/{secret.id}", params={"alt": "media"}).status_code == 404
    wrong = {"X-Goog-Drive-Resource-Keys": f"{secret.id}/0-wrong"}
    assert client.get(f"/drive/v3/files/{secret.id}", headers=wrong).status_code == 404
    right = {"X-Goog-Drive-Resource-Keys": f"1other/0-x, {secret.id}/{secret.resource_key}"}
    assert client.get(f"/drive/v3/files/{secret.id}", headers=right).status_code == 200
    media = client.get(f"/drive/v3/files/{secret.id}", params={"alt": "media"}, headers=right)
    assert media.content == drive_fixture.read_bytes(secret.id)


def test_listing_a_keyed_folder_without_its_key_returns_no_files(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    keyed = drive_fixture.find("photos/keyed")
    assert list_all(client, {"q": children_query(keyed.id)}) == []
    header = {"X-Goog-Drive-Resource-Keys": f"{keyed.id}/{keyed.resource_key}"}
    files = list_all(
        client, {"q": children_query(keyed.id), "fields": "files(name,resourceKey)"}, headers=header
    )
    secret = drive_fixture.find("photos/keyed/secret.jpg")
    assert files == [{"name": "secret.jpg", "resourceKey": secret.resource_key}]


def test_shortcuts_carry_shortcut_details(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos"), f"mimeType = '{SHORTCUT}'"),
        "fields": "files(name,mimeType,shortcutDetails,size)",
    }
    by_name = {f["name"]: f for f in list_all(client, params)}
    assert by_name["link.jpg"]["shortcutDetails"] == {
        "targetId": drive_fixture.id_of("photos/IMG_001.jpg"),
        "targetMimeType": "image/jpeg",
    }
    assert by_name["link-to-folder"]["shortcutDetails"]["targetMimeType"] == FOLDER
    keyed_target = drive_fixture.find("photos/keyed/secret.jpg")
    assert (
        by_name["link-to-keyed.jpg"]["shortcutDetails"]["targetResourceKey"]
        == keyed_target.resource_key
    )
    dangling = by_name["dangling.jpg"]["shortcutDetails"]["targetId"]
    assert client.get(f"/drive/v3/files/{dangling}").status_code == 404
    assert all("size" not in file for file in by_name.values())


# --- files.get -------------------------------------------------------------------------------


def test_get_default_projection_and_requested_fields(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    item = drive_fixture.find("photos/IMG_003.jpg")
    assert client.get(f"/drive/v3/files/{item.id}").json() == {
        "kind": "drive#file",
        "id": item.id,
        "name": "IMG_003.jpg",
        "mimeType": "image/jpeg",
    }
    body = client.get(
        f"/drive/v3/files/{item.id}", params={"fields": "size,md5Checksum,parents"}
    ).json()
    assert body == {
        "size": str(item.size),
        "md5Checksum": drive_fixture.checksums(item.id).md5,
        "parents": [drive_fixture.folder_id("photos")],
    }


def test_get_unknown_file_is_404_with_googles_body(client: httpx.Client) -> None:
    response = client.get("/drive/v3/files/1nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "code": 404,
            "message": "File not found: 1nope.",
            "errors": [
                {
                    "domain": "global",
                    "reason": "notFound",
                    "message": "File not found: 1nope.",
                    "locationType": "parameter",
                    "location": "fileId",
                }
            ],
        }
    }


def test_pretty_print_can_be_turned_off(drive_fixture: DriveFixture, client: httpx.Client) -> None:
    file_id = drive_fixture.id_of("photos/IMG_003.jpg")
    assert "\n" in client.get(f"/drive/v3/files/{file_id}").text
    assert (
        "\n" not in client.get(f"/drive/v3/files/{file_id}", params={"prettyPrint": "false"}).text
    )


# --- downloads -------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["/drive/v3/files", "/download/drive/v3/files"])
def test_download_returns_the_bytes_with_length_and_type(
    drive_fixture: DriveFixture, client: httpx.Client, prefix: str
) -> None:
    item = drive_fixture.find("photos/diagram.png")
    response = client.get(f"{prefix}/{item.id}", params={"alt": "media"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(item.size)
    assert response.content == drive_fixture.read_bytes(item.id)


def test_md5_matches_bytes_served(drive_fixture: DriveFixture, client: httpx.Client) -> None:
    params: dict[str, Any] = {
        "q": children_query(drive_fixture.folder_id("photos"), "trashed = false"),
        "fields": "files(id,name,md5Checksum,sha256Checksum,size)",
    }
    listed = {f["id"]: f for f in list_all(client, params) if "md5Checksum" in f}
    expected = {
        image.id: image for image in drive_fixture.expected_images("photos", recursive=False)
    }
    assert set(expected) <= set(listed)
    for file_id, file in listed.items():
        response = client.get(f"/drive/v3/files/{file_id}", params={"alt": "media"})
        if response.status_code == 403:
            continue  # abusive / quota-limited files are listed but not served
        assert hashlib.md5(response.content).hexdigest() == file["md5Checksum"]
        assert hashlib.sha256(response.content).hexdigest() == file["sha256Checksum"]
        assert len(response.content) == int(file["size"])
        if file_id in expected:
            assert expected[file_id].md5 == file["md5Checksum"]
            assert b"".join(expected[file_id].chunks()) == response.content


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=4000-", 4000, 4320),
        ("bytes=-21", 4300, 4320),
        ("bytes=0-99999", 0, 4320),
    ],
)
def test_range_request_returns_206_with_content_range(
    drive_fixture: DriveFixture, client: httpx.Client, header: str, start: int, end: int
) -> None:
    item = drive_fixture.find("photos/diagram.png")  # 4,321 bytes
    response = client.get(
        f"/drive/v3/files/{item.id}", params={"alt": "media"}, headers={"Range": header}
    )
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/4321"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.content == drive_fixture.read_bytes(item.id)[start : end + 1]


def test_range_past_the_end_is_416_with_the_total(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    item = drive_fixture.find("photos/diagram.png")
    response = client.get(
        f"/drive/v3/files/{item.id}", params={"alt": "media"}, headers={"Range": "bytes=4321-"}
    )
    assert response.status_code == 416
    assert response.headers["content-range"] == "bytes */4321"


def test_range_on_a_zero_byte_file_is_416_total_zero(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    file_id = drive_fixture.id_of("photos/empty.jpg")
    ranged = client.get(
        f"/drive/v3/files/{file_id}", params={"alt": "media"}, headers={"Range": "bytes=0-"}
    )
    assert ranged.status_code == 416
    assert ranged.headers["content-range"] == "bytes */0"
    whole = client.get(f"/drive/v3/files/{file_id}", params={"alt": "media"})
    assert whole.status_code == 200
    assert whole.headers["content-length"] == "0"
    assert whole.content == b""


@pytest.mark.parametrize("name", ["Plan", "keyed", "link.jpg"])
def test_google_types_are_403_file_not_downloadable(
    drive_fixture: DriveFixture, client: httpx.Client, name: str
) -> None:
    item = drive_fixture.find(["photos", name])
    headers = (
        {"X-Goog-Drive-Resource-Keys": f"{item.id}/{item.resource_key}"}
        if item.resource_key
        else {}
    )
    response = client.get(f"/drive/v3/files/{item.id}", params={"alt": "media"}, headers=headers)
    assert response.status_code == 403
    assert error_of(response)["reason"] == "fileNotDownloadable"
    assert error_of(response)["location"] == "alt"


def test_abusive_file_is_403_even_when_acknowledging_abuse(
    drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    file_id = drive_fixture.id_of("photos/malware.jpg")
    response = client.get(
        f"/drive/v3/files/{file_id}", params={"alt": "media", "acknowledgeAbuse": "true"}
    )
    assert response.status_code == 403
    assert error_of(response)["reason"] == "cannotDownloadAbusiveFile"


def test_download_quota_flag_is_403_and_can_be_toggled_at_runtime(
    emulator: EmulatorServer, drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    popular = drive_fixture.id_of("photos/popular.jpg")
    response = client.get(f"/drive/v3/files/{popular}", params={"alt": "media"})
    assert response.status_code == 403
    assert error_of(response)["reason"] == "downloadQuotaExceeded"
    other = drive_fixture.id_of("photos/IMG_004.jpg")
    httpx.post(
        f"{emulator.base_url}/_emulator/files/{other}", json={"download_quota_exceeded": True}
    )
    assert client.get(f"/drive/v3/files/{other}", params={"alt": "media"}).status_code == 403
    httpx.post(
        f"{emulator.base_url}/_emulator/files/{other}", json={"download_quota_exceeded": False}
    )
    assert client.get(f"/drive/v3/files/{other}", params={"alt": "media"}).status_code == 200


def test_large_download_streams_fast(drive_fixture: DriveFixture, client: httpx.Client) -> None:
    item = drive_fixture.find("photos/big.bin")
    digest = hashlib.md5()
    started = time.perf_counter()
    total = 0
    for _ in range(4):
        with client.stream(
            "GET", f"/drive/v3/files/{item.id}", params={"alt": "media"}
        ) as response:
            for chunk in response.iter_raw():
                total += len(chunk)
                digest.update(chunk)
    elapsed = time.perf_counter() - started
    print(f"downloaded {total / 1e6:.0f} MB at {total / 1e6 / elapsed:.0f} MB/s")
    assert total == 4 * (item.size or 0)


# --- faults and stats ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "status", "reason", "domain"),
    [
        ("user_rate_limit_exceeded", 403, "userRateLimitExceeded", "usageLimits"),
        ("rate_limit_exceeded", 403, "rateLimitExceeded", "usageLimits"),
        ("too_many_requests", 429, "rateLimitExceeded", "usageLimits"),
        ("backend_error", 500, "backendError", "global"),
        ("service_unavailable", 503, "backendError", "global"),
    ],
)
def test_every_nth_request_gets_the_configured_fault(
    emulator: EmulatorServer,
    client: httpx.Client,
    fault: str,
    status: int,
    reason: str,
    domain: str,
) -> None:
    emulator.set_faults(FaultRule(fault, every=3, retry_after=7))
    responses = [client.get("/drive/v3/files") for _ in range(12)]
    assert [r.status_code for r in responses] == [200, 200, status] * 4
    response = responses[-1]
    assert error_of(response)["reason"] == reason
    assert error_of(response)["domain"] == domain
    if fault == "user_rate_limit_exceeded":
        assert error_of(response)["message"] == "User Rate Limit Exceeded"
    if status == 429:
        assert response.headers["retry-after"] == "7"
    assert emulator.stats.faults_injected[fault] == 4


def test_faults_can_be_limited_to_one_route_kind(
    emulator: EmulatorServer, drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    reply = httpx.post(
        f"{emulator.base_url}/_emulator/faults",
        json={"rules": [{"fault": "backend_error", "routes": ["media"]}]},
    )
    assert reply.status_code == 200
    file_id = drive_fixture.id_of("photos/IMG_005.jpg")
    assert client.get("/drive/v3/files").status_code == 200
    assert client.get(f"/drive/v3/files/{file_id}").status_code == 200
    assert client.get(f"/drive/v3/files/{file_id}", params={"alt": "media"}).status_code == 500
    httpx.delete(f"{emulator.base_url}/_emulator/faults")
    assert client.get(f"/drive/v3/files/{file_id}", params={"alt": "media"}).status_code == 200


def test_probabilistic_faults_repeat_with_the_same_seed(
    drive_fixture: DriveFixture, start_emulator: Callable[..., EmulatorServer]
) -> None:
    runs = []
    for _ in range(2):
        server = start_emulator(drive_fixture)
        server.set_faults(FaultRule("too_many_requests", probability=0.3), seed=42)
        with httpx.Client(base_url=server.base_url, params={"key": API_KEY}) as client:
            runs.append([client.get("/drive/v3/files").status_code for _ in range(40)])
    assert runs[0] == runs[1]
    assert 429 in runs[0]
    assert 200 in runs[0]


def test_fault_skip_and_limit_fail_only_a_window_of_requests(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    emulator.set_faults(FaultRule("service_unavailable", skip=1, limit=2))
    assert [client.get("/drive/v3/files").status_code for _ in range(5)] == [
        200,
        503,
        503,
        200,
        200,
    ]


def test_cut_body_closes_connection_early(
    emulator: EmulatorServer, drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    item = drive_fixture.find("photos/big.bin")
    emulator.set_faults(FaultRule("cut_body", cut_at=0.25))
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("GET", f"/drive/v3/files/{item.id}", params={"alt": "media"}) as response,
    ):
        assert response.headers["content-length"] == str(item.size)
        for _ in response.iter_raw():
            pass

    # At the TCP level: the full Content-Length is announced, then EOF arrives early.
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        request = (
            f"GET /drive/v3/files/{item.id}?alt=media&key={API_KEY} HTTP/1.1\r\n"
            "Host: emulator\r\n\r\n"
        )
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert f"content-length: {item.size}".encode() in head.lower()
    assert len(body) == (item.size or 0) // 4
    assert body == drive_fixture.read_bytes(item.id)[: len(body)]
    assert emulator.stats.faults_injected["cut_body"] == 2


def test_stats_count_requests_by_route_and_bytes_served(
    emulator: EmulatorServer, drive_fixture: DriveFixture, client: httpx.Client
) -> None:
    item = drive_fixture.find("photos/diagram.png")
    client.get("/drive/v3/files")
    client.get(f"/drive/v3/files/{item.id}")
    client.get(f"/drive/v3/files/{item.id}", params={"alt": "media"})
    client.get(
        f"/drive/v3/files/{item.id}", params={"alt": "media"}, headers={"Range": "bytes=0-9"}
    )
    stats = httpx.get(f"{emulator.base_url}/_emulator/stats").json()
    assert stats["requests"] == {"list": 1, "get": 1, "media": 2}
    assert stats["responses"] == {"list 200": 1, "get 200": 1, "media 200": 1, "media 206": 1}
    assert stats["bytes_served"] == (item.size or 0) + 10
    assert stats["media_requests_by_file"] == {item.id: 2}
    httpx.delete(f"{emulator.base_url}/_emulator/stats")
    assert httpx.get(f"{emulator.base_url}/_emulator/stats").json()["bytes_served"] == 0


def test_control_endpoint_rejects_unknown_faults(emulator: EmulatorServer) -> None:
    reply = httpx.post(
        f"{emulator.base_url}/_emulator/faults", json={"rules": [{"fault": "gremlins"}]}
    )
    assert reply.status_code == 400
    assert reply.json()["error"] == "invalid_request"


def test_latency_delays_listing_downloads_and_the_index_but_not_control(
    drive_fixture: DriveFixture, start_emulator: Callable[..., EmulatorServer]
) -> None:
    emulator = start_emulator(drive_fixture, EmulatorSettings(latency_ms=150))
    item = drive_fixture.find("photos/IMG_001.jpg")
    photos = drive_fixture.id_of("photos")
    with httpx.Client(base_url=emulator.base_url, params={"key": API_KEY}, timeout=30) as http:

        def took(path: str, **params: str) -> float:
            started = time.monotonic()
            http.get(path, params=params).raise_for_status()
            return time.monotonic() - started

        assert took("/drive/v3/files", q=children_query(photos)) >= 0.15
        assert took(f"/drive/v3/files/{item.id}", alt="media") >= 0.15
        assert took(f"/_emulator/index/{photos}/") >= 0.15
        assert took("/_emulator/health") < 0.15
        http.post("/_emulator/settings", json={"latency_ms": 0}).raise_for_status()
        assert took(f"/drive/v3/files/{item.id}", alt="media") < 0.15
    reply = httpx.post(f"{emulator.base_url}/_emulator/settings", json={"latency_ms": -1})
    assert reply.status_code == 400


# --- scale and CLI ---------------------------------------------------------------------------


def test_listing_100000_files_pages_through_all_of_them(
    start_emulator: Callable[..., EmulatorServer],
) -> None:
    started = time.perf_counter()
    fixture = DriveFixture(bulk_folder_spec(100_000))
    built = time.perf_counter()
    server = start_emulator(fixture)
    folder = fixture.folder_id("bulk")
    params: dict[str, Any] = {
        "q": children_query(folder, "trashed = false"),
        "pageSize": 1000,
        "fields": "nextPageToken,files(id,name,mimeType,size,md5Checksum,modifiedTime)",
    }
    with httpx.Client(base_url=server.base_url, params={"key": API_KEY}, timeout=60) as client:
        listing_started = time.perf_counter()
        files = list_all(client, params)
        listed = time.perf_counter() - listing_started
    print(
        f"built 100,000 files in {built - started:.1f}s; listed them in {listed:.1f}s "
        f"({len(files) / listed:,.0f} files/s, md5 included)"
    )
    assert len(files) == 100_000
    assert len({file["id"] for file in files}) == 100_000
    assert files[-1]["name"] == "IMG_100000.jpg"


def test_cli_prints_the_link_and_the_environment(drive_fixture: DriveFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulators.google_drive",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=os.environ | {"PYTHONIOENCODING": "utf-8"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        root_id = DriveFixture.sample().folder_id("Holiday photos")
        assert f"Drive emulator on http://127.0.0.1:{port}" in first
        assert f"https://drive.google.com/drive/folders/{root_id}" in first
        assert (
            second.strip()
            == f"export GOOGLE_DRIVE_API_URL=http://127.0.0.1:{port} GOOGLE_API_KEY=demo-key"
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = httpx.get(
                    f"http://127.0.0.1:{port}/drive/v3/files/{root_id}", params={"key": "demo-key"}
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert reply.json()["name"] == "Holiday photos"
    finally:
        process.terminate()
        process.wait(timeout=10)
