"""The Dropbox emulator follows Dropbox API v2's documented shapes (reference notes part B)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulators.dropbox import (
    DropboxEmulatorServer,
    DropboxFixture,
    EmulatorSettings,
    FaultRule,
    content_hash,
)
from emulators.dropbox.cli import sample_spec

TOKEN = "emulator-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
UNICODE = "Fête à Noël 🎄.jpg"

SPEC: dict[str, Any] = {
    "seed": 47,
    "folders": [
        {
            "name": "photos",
            "files": [
                {"name_pattern": "IMG_{i:02d}.jpg", "count": 12, "size": [1_000, 9_000]},
                {"name": UNICODE, "size": 2_000},
                {"name": "big.png", "size": "4.5MiB"},
                {"name": "empty.png", "size": 0},
                {"name": "notes.txt", "size": 300},
                {"name": "Doc.paper", "is_downloadable": False, "size": 0},
            ],
            "folders": [
                {
                    "name": "Sub",
                    "short_pages": [1, 0, 0.5],
                    "files": [{"name_pattern": "s_{i}.gif", "count": 6, "size": 800}],
                    "folders": [{"name": "deeper", "files": [{"name": "d.webp", "size": 500}]}],
                },
                {"name": "empty folder"},
            ],
        },
        {"name": "legacy", "link": "sh", "files": [{"name": "old.jpg", "size": 1_234}]},
        {"name": "locked", "password": "pw", "files": [{"name": "secret.jpg", "size": 999}]},
    ],
}


@pytest.fixture(scope="module")
def fixture() -> DropboxFixture:
    return DropboxFixture(SPEC)


@pytest.fixture(scope="module")
def server(fixture: DropboxFixture) -> Iterator[DropboxEmulatorServer]:
    with DropboxEmulatorServer(fixture) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def clean(server: DropboxEmulatorServer) -> Iterator[None]:
    server.stats.reset()
    yield
    server.set_faults()
    server.settings.update(
        {
            "accepted_tokens": None,
            "accepted_apps": None,
            "cursor_generation": 0,
            "zip_max_files": 10_000,
            "zip_compression": "deflated",
        }
    )


@pytest.fixture
def client(server: DropboxEmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        yield http


def rpc(client: httpx.Client, route: str, arg: Any, **headers: str) -> httpx.Response:
    return client.post(
        f"/2/{route}",
        content=json.dumps(arg),
        headers={**AUTH, "Content-Type": "application/json", **headers},
    )


def get_file(client: httpx.Client, arg: dict[str, Any], **headers: str) -> httpx.Response:
    header = json.dumps(arg, ensure_ascii=True)
    return client.post(
        "/2/sharing/get_shared_link_file", headers={**AUTH, "Dropbox-API-Arg": header, **headers}
    )


def list_everything(client: httpx.Client, url: str, path: str, limit: int) -> list[Any]:
    body = rpc(
        client, "files/list_folder", {"path": path, "shared_link": {"url": url}, "limit": limit}
    ).json()
    pages = [body]
    while pages[-1]["has_more"]:
        pages.append(
            rpc(client, "files/list_folder/continue", {"cursor": pages[-1]["cursor"]}).json()
        )
    return pages


# --- the fixture -------------------------------------------------------------------------


def test_ids_and_links_are_stable_and_shaped_like_dropbox_s(fixture: DropboxFixture) -> None:
    again = DropboxFixture(SPEC)
    assert [i.id for i in fixture.shared[0].walk()] == [i.id for i in again.shared[0].walk()]
    item = fixture.find("photos", "/IMG_01.jpg")
    assert re.fullmatch(r"id:[A-Za-z0-9_-]{22}", item.id)
    assert re.fullmatch(r"[0-9a-f]{12}", item.rev)
    scl = fixture.link("photos")
    assert re.fullmatch(
        r"https://www\.dropbox\.com/scl/fo/[a-z0-9]{21}/[A-Za-z0-9_-]+\?rlkey=[a-z0-9]{25}&dl=0",
        scl,
    )
    sh = fixture.link("legacy")
    assert re.fullmatch(r"https://www\.dropbox\.com/sh/[a-z0-9]{15}/AA[A-Za-z0-9_-]{24}\?dl=0", sh)
    # Same relative path in another seed or another shared folder: another id.
    assert DropboxFixture({**SPEC, "seed": 1}).find("photos", "/IMG_01.jpg").id != item.id


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"name": "x", "files": [{"name": "a/b.jpg"}]}, "not a name Dropbox allows"),
        ({"name": "x", "files": [{"name": "A.jpg"}, {"name": "a.JPG"}]}, "ignores case"),
        ({"name": "x", "files": [{"name": "a.jpg", "trashed": True}]}, "unknown file keys"),
        ({"name": "x", "link": "s"}, "link must be one of"),
        ({"name": "x", "resource_key": True}, "unknown shared folder keys"),
    ],
)
def test_a_fixture_dropbox_could_not_have_is_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DropboxFixture(spec)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        (4194304, "d4d63bac5b866c71620185392a8a6218ac1092454a2d16f820363b69852befa3"),
        (4194305, "8f553da8d00d0bf509d8470e242888be33019c20c0544811f5b2b89e98360b92"),
    ],
)
def test_content_hash_follows_dropbox_s_algorithm(size: int, expected: str) -> None:
    assert content_hash([b"A" * (size // 3), b"A" * (size - size // 3)]) == expected


# --- authentication and request format ---------------------------------------------------


def test_rpc_answers_with_exactly_application_json(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    reply = rpc(client, "sharing/get_shared_link_metadata", {"url": fixture.link("photos")})
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json"


def test_rpc_requires_a_json_content_type(client: httpx.Client, fixture: DropboxFixture) -> None:
    reply = client.post(
        "/2/sharing/get_shared_link_metadata",
        content=json.dumps({"url": fixture.link("photos")}),
        headers={**AUTH, "Content-Type": "text/plain"},
    )
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("text/plain")
    assert 'Bad HTTP "Content-Type" header' in reply.text


def test_bearer_and_basic_are_accepted_and_bad_credentials_refused(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    arg = {"url": fixture.link("photos")}
    server.settings.update({"accepted_tokens": [TOKEN], "accepted_apps": {"key": "secret"}})
    basic = "Basic " + base64.b64encode(b"key:secret").decode()
    assert (
        rpc(client, "sharing/get_shared_link_metadata", arg, Authorization=basic).status_code == 200
    )
    assert rpc(client, "sharing/get_shared_link_metadata", arg).status_code == 200

    bad = rpc(client, "sharing/get_shared_link_metadata", arg, Authorization="Bearer nope")
    assert bad.status_code == 401
    assert bad.headers["content-type"] == "application/json"
    assert bad.json()["error"] == {".tag": "invalid_access_token"}
    assert bad.json()["error_summary"].startswith("invalid_access_token/")
    wrong_app = "Basic " + base64.b64encode(b"key:wrong").decode()
    assert (
        rpc(client, "sharing/get_shared_link_metadata", arg, Authorization=wrong_app).status_code
        == 401
    )

    missing = client.post(
        "/2/sharing/get_shared_link_metadata",
        content=json.dumps(arg),
        headers={"Content-Type": "application/json"},
    )
    assert missing.status_code == 400
    assert 'Must provide HTTP header "Authorization"' in missing.text


# --- sharing/get_shared_link_metadata ------------------------------------------------------


def test_link_metadata_describes_the_shared_folder(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    for name in ["photos", "legacy"]:
        body = rpc(
            client, "sharing/get_shared_link_metadata", {"url": fixture.link(name, st="x", e="1")}
        ).json()
        assert body[".tag"] == "folder"
        assert body["name"] == name
        assert body["url"] == fixture.link(name)
        assert body["link_permissions"]["allow_download"] is True
        assert "path_lower" not in body
    file = rpc(
        client,
        "sharing/get_shared_link_metadata",
        {"url": fixture.link("photos"), "path": "/IMG_01.jpg"},
    ).json()
    assert file[".tag"] == "file"
    assert file["size"] == fixture.find("photos", "/IMG_01.jpg").size


@pytest.mark.parametrize(
    ("arg", "tag"),
    [
        ({"url": "https://www.dropbox.com/sh/unknown00/AAunknown?dl=0"}, "shared_link_not_found"),
        ({"url": "https://example.com/sh/unknown00/AAunknown"}, "shared_link_not_found"),
        ({"password": "no"}, "shared_link_access_denied"),
        ({}, "shared_link_access_denied"),
    ],
)
def test_a_dead_link_or_a_wrong_password_is_a_409_with_its_tag(
    client: httpx.Client, fixture: DropboxFixture, arg: dict[str, Any], tag: str
) -> None:
    body: dict[str, Any] = {"url": fixture.link("locked")}
    if "url" in arg:
        body = {"url": arg["url"]}
    elif "password" in arg:
        body["link_password"] = arg["password"]
    reply = rpc(client, "sharing/get_shared_link_metadata", body)
    assert reply.status_code == 409
    assert reply.json()["error"] == {".tag": tag}
    assert reply.json()["error_summary"].startswith(f"{tag}/")


def test_an_scl_link_without_its_rlkey_is_not_found(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    url = fixture.link("photos").split("?")[0]
    reply = rpc(client, "sharing/get_shared_link_metadata", {"url": url})
    assert reply.json()["error"] == {".tag": "shared_link_not_found"}


# --- files/list_folder ---------------------------------------------------------------------


def test_list_folder_returns_entries_as_a_non_owner_sees_them(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    body = rpc(
        client, "files/list_folder", {"path": "", "shared_link": {"url": fixture.link("photos")}}
    ).json()
    assert body["has_more"] is False
    by_name = {entry["name"]: entry for entry in body["entries"]}
    assert by_name["Sub"] == {
        ".tag": "folder",
        "name": "Sub",
        "id": fixture.find("photos", "/Sub").id,
    }
    entry = by_name[UNICODE]
    item = fixture.find("photos", f"/{UNICODE}")
    assert entry[".tag"] == "file"
    assert entry["size"] == item.size and isinstance(entry["size"], int)
    assert entry["content_hash"] == content_hash([fixture.read_bytes(item.id)])
    assert TIMESTAMP.match(entry["client_modified"]) and TIMESTAMP.match(entry["server_modified"])
    assert "path_lower" not in entry and "path_display" not in entry
    doc = by_name["Doc.paper"]
    assert doc["is_downloadable"] is False and "content_hash" not in doc and "export_info" in doc
    hidden = rpc(
        client,
        "files/list_folder",
        {
            "path": "",
            "shared_link": {"url": fixture.link("photos")},
            "include_non_downloadable_files": False,
        },
    ).json()
    assert "Doc.paper" not in {entry["name"] for entry in hidden["entries"]}


def test_pages_follow_cursors_with_short_and_empty_pages(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    pages = list_everything(client, fixture.link("photos"), "/sub", 2)  # any case
    assert any(not page["entries"] and page["has_more"] for page in pages)
    names = [entry["name"] for page in pages for entry in page["entries"]]
    assert names == [f"s_{i}.gif" for i in range(1, 7)] + ["deeper"]
    assert all(page["cursor"].startswith("AA") for page in pages)


def test_a_subfolder_is_listed_by_its_path_below_the_link(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    body = rpc(
        client,
        "files/list_folder",
        {"path": "/Sub/deeper", "shared_link": {"url": fixture.link("photos")}},
    ).json()
    assert [entry["name"] for entry in body["entries"]] == ["d.webp"]


@pytest.mark.parametrize(
    ("arg", "status", "fragment"),
    [
        ({"path": "/nope"}, 409, "path/not_found"),
        ({"path": "/IMG_01.jpg"}, 409, "path/not_folder"),
        ({"path": "nope"}, 400, "did not match pattern"),
        ({"path": "", "recursive": True}, 400, "recursive"),
        ({"path": "", "limit": 0}, 400, "limit"),
        ({"path": "", "limit": 2001}, 400, "limit"),
        ({"path": "", "colour": "red"}, 400, 'unknown field "colour"'),
        ({}, 400, "missing required field 'path'"),
    ],
)
def test_list_folder_refuses_what_dropbox_refuses(
    client: httpx.Client, fixture: DropboxFixture, arg: dict[str, Any], status: int, fragment: str
) -> None:
    reply = rpc(
        client, "files/list_folder", {"shared_link": {"url": fixture.link("photos")}, **arg}
    )
    assert reply.status_code == status
    assert fragment in reply.text


def test_list_folder_of_a_protected_link_needs_its_password(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    url = fixture.link("locked")
    refused = rpc(client, "files/list_folder", {"path": "", "shared_link": {"url": url}})
    assert refused.status_code == 409
    allowed = rpc(
        client, "files/list_folder", {"path": "", "shared_link": {"url": url, "password": "pw"}}
    )
    assert [entry["name"] for entry in allowed.json()["entries"]] == ["secret.jpg"]


def test_continue_takes_only_a_good_cursor_and_resets_stale_ones(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    first = rpc(
        client,
        "files/list_folder",
        {"path": "", "shared_link": {"url": fixture.link("photos")}, "limit": 3},
    ).json()
    extra = rpc(client, "files/list_folder/continue", {"cursor": first["cursor"], "limit": 3})
    assert extra.status_code == 400 and 'unknown field "limit"' in extra.text
    forged = rpc(client, "files/list_folder/continue", {"cursor": "AAforged"})
    assert forged.status_code == 400
    server.settings.update({"cursor_generation": 1})
    stale = rpc(client, "files/list_folder/continue", {"cursor": first["cursor"]})
    assert stale.status_code == 409
    assert stale.json()["error"] == {".tag": "reset"}


# --- sharing/get_shared_link_file -----------------------------------------------------------


def test_a_file_downloads_with_its_metadata_in_a_header_safe_header(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    item = fixture.find("photos", f"/{UNICODE}")
    reply = get_file(client, {"url": fixture.link("photos"), "path": f"/{UNICODE}"})
    assert reply.status_code == 200
    assert reply.content == fixture.read_bytes(item.id)
    result = reply.headers["dropbox-api-result"]
    assert result.isascii()
    assert json.loads(result)["name"] == UNICODE
    assert json.loads(result)["id"] == item.id


def test_the_argument_may_come_as_the_arg_url_parameter(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    item = fixture.find("legacy", "/old.jpg")
    arg = json.dumps({"url": fixture.link("legacy"), "path": "/old.jpg"})
    reply = client.get("/2/sharing/get_shared_link_file", params={"arg": arg}, headers=AUTH)
    assert reply.content == fixture.read_bytes(item.id)


def test_a_raw_non_ascii_header_and_a_request_body_are_refused(
    client: httpx.Client, fixture: DropboxFixture
) -> None:
    raw = json.dumps({"url": fixture.link("photos"), "path": f"/{UNICODE}"}, ensure_ascii=False)
    refused = client.post(
        "/2/sharing/get_shared_link_file",
        headers=[*AUTH.items(), ("Dropbox-API-Arg", raw.encode())],
    )
    assert refused.status_code == 400 and "escaped" in refused.text
    with_body = client.post(
        "/2/sharing/get_shared_link_file",
        content=b"x",
        headers={
            **AUTH,
            "Dropbox-API-Arg": json.dumps({"url": fixture.link("photos"), "path": "/IMG_01.jpg"}),
        },
    )
    assert with_body.status_code == 400 and "supposed to be empty" in with_body.text


@pytest.mark.parametrize(
    ("path", "tag"),
    [
        (None, "shared_link_is_directory"),
        ("/Sub", "shared_link_is_directory"),
        ("/nope.jpg", "shared_link_not_found"),
        ("/Doc.paper", "unsupported_link_type"),
    ],
)
def test_a_file_that_is_not_one_is_a_409(
    client: httpx.Client, fixture: DropboxFixture, path: str | None, tag: str
) -> None:
    arg: dict[str, Any] = {"url": fixture.link("photos")}
    if path is not None:
        arg["path"] = path
    reply = get_file(client, arg)
    assert reply.status_code == 409
    assert reply.json()["error"] == {".tag": tag}


def test_ranges_and_etags_work(client: httpx.Client, fixture: DropboxFixture) -> None:
    item = fixture.find("photos", "/big.png")
    data = fixture.read_bytes(item.id)
    arg = {"url": fixture.link("photos"), "path": "/big.png"}
    part = get_file(client, arg, Range="bytes=100-199")
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    whole = get_file(client, arg)
    assert get_file(client, arg, **{"If-None-Match": whole.headers["etag"]}).status_code == 304
    empty = {"url": fixture.link("photos"), "path": "/empty.png"}
    assert get_file(client, empty).content == b""
    assert get_file(client, empty, Range="bytes=0-").status_code == 416


# --- the web link and its zip -------------------------------------------------------------


def test_the_link_is_a_page_and_with_dl_1_the_whole_folder_as_a_zip(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    link = fixture.link("photos")
    page = client.get(link.replace("https://www.dropbox.com", ""))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    zipped = client.get(
        link.replace("https://www.dropbox.com", "").replace("dl=0", "dl=1"), follow_redirects=True
    )
    assert [r.status_code for r in zipped.history] == [302]
    assert zipped.headers["content-type"] == "application/zip"
    assert "content-length" not in zipped.headers  # built as it is sent
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    names = archive.namelist()
    assert names[0] == "/"  # Dropbox's zips start with a "/" entry
    assert "Sub/" in names and "Sub/deeper/" in names and "empty folder/" in names
    assert "Doc.paper" not in names
    files = [info for info in archive.infolist() if not info.is_dir()]
    assert len(files) == 12 + 4 + 6 + 1
    for info in files:
        item = fixture.find("photos", "/" + info.filename)
        assert archive.read(info) == fixture.read_bytes(item.id)
    assert archive.getinfo(UNICODE).flag_bits & 0x800  # a UTF-8 name
    assert server.stats.zip_downloads == 1


def test_zips_can_be_stored_uncompressed(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    server.settings.update({"zip_compression": "stored"})
    link = fixture.link("legacy", dl="1").replace("https://www.dropbox.com", "")
    archive = zipfile.ZipFile(io.BytesIO(client.get(link, follow_redirects=True).content))
    assert archive.getinfo("old.jpg").compress_type == zipfile.ZIP_STORED


@pytest.mark.parametrize(
    ("name", "status", "title"),
    [("locked", 200, "Password required"), ("unknown", 404, "404")],
)
def test_links_that_cannot_be_zipped_answer_with_a_page(
    client: httpx.Client, fixture: DropboxFixture, name: str, status: int, title: str
) -> None:
    path = (
        "/sh/unknown00/AAunknown?dl=1"
        if name == "unknown"
        else fixture.link(name, dl="1").replace("https://www.dropbox.com", "")
    )
    reply = client.get(path, follow_redirects=True)
    assert reply.status_code == status
    assert reply.headers["content-type"].startswith("text/html")
    assert title in reply.text


def test_a_folder_over_the_zip_limits_gets_the_too_large_page(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    server.settings.update({"zip_max_files": 3})
    reply = client.get(fixture.link("photos", dl="1").replace("https://www.dropbox.com", ""))
    assert reply.status_code == 200
    assert "too large to download" in reply.text


def test_a_forged_zip_token_is_404(client: httpx.Client) -> None:
    assert client.get("/zip_download_get/AAforged").status_code == 404


# --- faults --------------------------------------------------------------------------------


def test_rate_limits_come_as_json_or_text_with_retry_after(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    arg = {"url": fixture.link("photos")}
    server.set_faults(
        FaultRule("too_many_requests", routes={"metadata"}, every=1, limit=1, retry_after=4)
    )
    json_429 = rpc(client, "sharing/get_shared_link_metadata", arg)
    assert json_429.status_code == 429
    assert json_429.headers["retry-after"] == "4"
    assert json_429.json()["error"] == {"reason": {".tag": "too_many_requests"}, "retry_after": 4}

    server.set_faults(FaultRule("too_many_write_operations", routes={"metadata"}, every=1, limit=1))
    lock = rpc(client, "sharing/get_shared_link_metadata", arg)
    assert lock.json()["error"]["reason"] == {".tag": "too_many_write_operations"}

    server.set_faults(FaultRule("too_many_requests_text", routes={"metadata"}, every=1, limit=1))
    text_429 = rpc(client, "sharing/get_shared_link_metadata", arg)
    assert text_429.status_code == 429
    assert text_429.headers["content-type"].startswith("text/plain")
    assert text_429.headers["retry-after"] == "1"

    server.set_faults(
        FaultRule("internal_error", routes={"metadata"}, every=1, limit=1),
        FaultRule("service_unavailable", routes={"metadata"}, every=1, limit=1),
    )
    assert rpc(client, "sharing/get_shared_link_metadata", arg).status_code == 500
    assert rpc(client, "sharing/get_shared_link_metadata", arg).status_code == 503
    assert rpc(client, "sharing/get_shared_link_metadata", arg).status_code == 200
    assert server.stats.faults_injected == {
        "too_many_requests": 1,
        "too_many_write_operations": 1,
        "too_many_requests_text": 1,
        "internal_error": 1,
        "service_unavailable": 1,
    }


def test_faults_can_target_one_file_and_cut_its_body(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    item = fixture.find("photos", "/big.png")
    server.set_faults(FaultRule("cut_body", file_ids={item.id}, every=1, limit=1))
    other = get_file(client, {"url": fixture.link("photos"), "path": "/IMG_01.jpg"})
    assert other.status_code == 200
    with pytest.raises(httpx.TransportError):
        get_file(client, {"url": fixture.link("photos"), "path": "/big.png"})
    assert server.stats.faults_injected == {"cut_body": 1}


def test_the_zip_can_be_cut_too(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    server.set_faults(FaultRule("cut_body", routes={"zip"}, every=1, limit=1, cut_at=0.5))
    link = fixture.link("photos", dl="1").replace("https://www.dropbox.com", "")
    with pytest.raises(httpx.TransportError):
        client.get(link, follow_redirects=True)
    assert server.stats.faults_injected == {"cut_body": 1}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"fault": "gremlins"}, "unknown fault"),
        ({"fault": "cut_body", "routes": ["list"]}, "cut_body only applies"),
        ({"fault": "internal_error", "routes": ["media"]}, "routes must be"),
        (
            {"fault": "internal_error", "every": 2, "probability": 0.5},
            "either every or probability",
        ),
    ],
)
def test_bad_fault_rules_are_refused(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultRule.from_json(rule)


# --- control endpoints, settings, CLI ------------------------------------------------------


def test_control_endpoints_show_and_change_the_emulator(
    client: httpx.Client, server: DropboxEmulatorServer, fixture: DropboxFixture
) -> None:
    summary = client.get("/_emulator/fixture").json()
    assert {shared["link"] for shared in summary["shared_folders"]} == {
        fixture.link(name) for name in ["photos", "legacy", "locked"]
    }
    rules = {"rules": [{"fault": "internal_error", "routes": ["list"], "every": 2}], "seed": 3}
    assert client.post("/_emulator/faults", json=rules).json()["rules"][0]["every"] == 2
    assert client.delete("/_emulator/faults").json()["rules"] == []
    changed = client.patch("/_emulator/settings", json={"zip_max_files": 7}).json()
    assert changed["zip_max_files"] == 7
    refused = client.patch("/_emulator/settings", json={"colour": "red"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    rpc(client, "sharing/get_shared_link_metadata", {"url": fixture.link("photos")})
    assert client.get("/_emulator/stats").json()["requests"] == {"metadata": 1}


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="zip_compression"):
        EmulatorSettings(zip_compression="bzip2")
    with pytest.raises(ValueError, match="chunk_size"):
        EmulatorSettings(chunk_size=0)


def test_cli_prints_the_links_and_the_environment() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "emulators.dropbox", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=os.environ | {"PYTHONIOENCODING": "utf-8"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        sample = DropboxFixture(sample_spec())
        assert sample.link("Holiday photos") in lines[0]
        assert sample.link("Old share") in lines[1]
        base = f"http://127.0.0.1:{port}"
        assert lines[2].strip() == (
            f"export DROPBOX_API_URL={base} DROPBOX_CONTENT_URL={base} "
            f"DROPBOX_WEB_URL={base} DROPBOX_ACCESS_TOKEN=demo-token"
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                reply = httpx.post(
                    f"{base}/2/sharing/get_shared_link_metadata",
                    json={"url": sample.link("Holiday photos")},
                    headers={"Authorization": "Bearer demo-token"},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert reply.json()["name"] == "Holiday photos"
    finally:
        process.terminate()
        process.wait(timeout=10)
