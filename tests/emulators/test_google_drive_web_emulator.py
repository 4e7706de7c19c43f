"""The emulator's key-less web endpoints: embeddedfolderview, `uc` and usercontent `download`."""

from __future__ import annotations

import html
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from emulators.google_drive import DriveFixture, EmulatorServer, EmulatorSettings, FaultRule

FOLDER = "application/vnd.google-apps.folder"
DOC = "application/vnd.google-apps.document"
ICON = "https://drive-thirdparty.googleusercontent.com/16/type/"
LOGIN = "https://accounts.google.com/ServiceLogin?"
ENTRY = re.compile(
    r'<div class="flip-entry" id="entry-(?P<id>[^"]+)"[^>]*>.*?<a href="(?P<href>[^"]+)"'
    r'.*?<img src="(?P<icon>[^"]+)".*?<div class="flip-entry-title">(?P<title>[^<]*)</div>'
    r'<div class="flip-entry-last-modified"><div>(?P<date>[^<]*)</div>',
    re.S,
)
DAY = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}$")

WEB_SPEC: dict[str, Any] = {
    "seed": 23,
    "folders": [
        {
            "name": 'Photos & "friends"',
            "files": [
                {"name_pattern": "IMG_{i:02d}.jpg", "count": 3, "size": [1_000, 5_000]},
                {"name": "<img src=x onerror=alert(1)>.png", "size": 1_234},
                {"name": "Fête à Noël 🎄.jpg", "size": 2_000},
                {"name": "old.jpg", "size": 500, "trashed": True},
                {"name": "popular.jpg", "size": 900, "download_quota_exceeded": True},
                {"name": "malware.jpg", "size": 900, "abusive": True},
                {"name": "Plan", "mime_type": DOC},
                {"name": "Site", "mime_type": "application/vnd.google-apps.site"},
                {"name": "link.jpg", "shortcut_to": ['Photos & "friends"', "IMG_01.jpg"]},
                {"name": "big.bin", "mime_type": "application/octet-stream", "size": "2MiB"},
            ],
            "folders": [
                {
                    "name": "keyed",
                    "resource_key": True,
                    "files": [{"name": "secret.jpg", "size": 2_000, "resource_key": True}],
                },
                {"name": "team", "shared_drive": True, "files": [{"name": "t.jpg", "size": 10}]},
                {"name": "binned", "trashed": True},
            ],
        }
    ],
}
ROOT = 'Photos & "friends"'


@pytest.fixture(scope="module")
def web_fixture() -> DriveFixture:
    return DriveFixture(WEB_SPEC)


@pytest.fixture
def start_emulator(web_fixture: DriveFixture) -> Iterator[Callable[..., EmulatorServer]]:
    servers: list[EmulatorServer] = []

    def start(settings: EmulatorSettings | None = None) -> EmulatorServer:
        server = EmulatorServer(web_fixture, settings=settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., EmulatorServer]) -> EmulatorServer:
    return start_emulator()


@pytest.fixture
def web(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """A signed-out browser: no key, and it does not follow redirects on its own."""
    with httpx.Client(base_url=emulator.base_url, timeout=30) as client:
        yield client


def entries(page: str) -> dict[str, dict[str, str]]:
    return {match["id"]: match.groupdict() for match in ENTRY.finditer(page)}


def download_params(file_id: str, **extra: str) -> dict[str, str]:
    return {"id": file_id, "export": "download", **extra}


# --- embeddedfolderview --------------------------------------------------------------------


def test_folder_view_lists_every_live_child_in_one_page(
    web_fixture: DriveFixture, web: httpx.Client
) -> None:
    folder = web_fixture.find(ROOT)
    response = web.get("/embeddedfolderview", params={"id": folder.id})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert "<title>Photos &amp; &quot;friends&quot;</title>" in page
    assert '<div class="flip-entries">' in page
    found = entries(page)
    live = [child for child in folder.children if not child.trashed]
    # Shared-drive items show: the public page has no supportsAllDrives switch.
    assert set(found) == {child.id for child in live}
    assert "old.jpg" not in page
    assert "binned" not in page
    for child in live:
        entry = found[child.id]
        assert html.unescape(entry["title"]) == child.name
        assert DAY.match(entry["date"])
        if not child.is_shortcut:
            assert html.unescape(entry["icon"]) == ICON + child.mime_type


def test_folder_view_links_files_folders_and_docs_like_drive(
    web_fixture: DriveFixture, web: httpx.Client
) -> None:
    found = entries(web.get("/embeddedfolderview", params={"id": web_fixture.folder_id(ROOT)}).text)

    def href(*path: str) -> str:
        return html.unescape(found[web_fixture.id_of([ROOT, *path])]["href"])

    image = web_fixture.id_of([ROOT, "IMG_02.jpg"])
    assert href("IMG_02.jpg") == f"https://drive.google.com/file/d/{image}/view?usp=drive_web"
    team = web_fixture.id_of([ROOT, "team"])
    assert href("team") == f"https://drive.google.com/drive/folders/{team}"
    plan = web_fixture.id_of([ROOT, "Plan"])
    assert href("Plan") == f"https://docs.google.com/document/d/{plan}/edit?usp=drive_web"
    keyed = web_fixture.find([ROOT, "keyed"])
    assert href("keyed") == (
        f"https://drive.google.com/drive/folders/{keyed.id}?resourcekey={keyed.resource_key}"
    )


def test_names_are_html_escaped(web_fixture: DriveFixture, web: httpx.Client) -> None:
    page = web.get("/embeddedfolderview", params={"id": web_fixture.folder_id(ROOT)}).text
    assert "<img src=x onerror" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.png" in page
    assert "Fête à Noël 🎄.jpg" in page


def test_a_shortcut_is_listed_under_its_own_id_and_links_to_its_target(
    web_fixture: DriveFixture, web: httpx.Client
) -> None:
    found = entries(web.get("/embeddedfolderview", params={"id": web_fixture.folder_id(ROOT)}).text)
    shortcut = web_fixture.find([ROOT, "link.jpg"])
    target = web_fixture.id_of([ROOT, "IMG_01.jpg"])
    entry = found[shortcut.id]
    assert html.unescape(entry["title"]) == "link.jpg"
    assert html.unescape(entry["href"]) == (
        f"https://drive.google.com/file/d/{target}/view?usp=drive_web"
    )
    assert entry["icon"] == ICON + "image/jpeg"


def test_a_script_holding_entry_markup_is_not_an_entry(
    web_fixture: DriveFixture, web: httpx.Client
) -> None:
    page = web.get("/embeddedfolderview", params={"id": web_fixture.folder_id(ROOT)}).text
    assert "entry-not-an-entry" in page  # inside a <script>, which parsers must skip


@pytest.mark.parametrize("folder_id", ["1" + "x" * 32, ""])
def test_unknown_folder_redirects_to_sign_in(web: httpx.Client, folder_id: str) -> None:
    response = web.get("/embeddedfolderview", params={"id": folder_id})
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(LOGIN)
    continue_url = parse_qs(urlsplit(location).query)["continue"][0]
    assert continue_url == f"https://drive.google.com/embeddedfolderview?id={folder_id}"


def test_keyed_folder_needs_its_resource_key(web_fixture: DriveFixture, web: httpx.Client) -> None:
    keyed = web_fixture.find([ROOT, "keyed"])
    without = web.get("/embeddedfolderview", params={"id": keyed.id})
    assert without.status_code == 302
    assert without.headers["location"].startswith(LOGIN)
    wrong = web.get("/embeddedfolderview", params={"id": keyed.id, "resourcekey": "0-wrong"})
    assert wrong.status_code == 302
    right = web.get(
        "/embeddedfolderview", params={"id": keyed.id, "resourcekey": keyed.resource_key}
    )
    assert right.status_code == 200
    secret = web_fixture.find([ROOT, "keyed", "secret.jpg"])
    assert f"resourcekey={secret.resource_key}" in entries(right.text)[secret.id]["href"]


def test_trashed_folder_redirects_to_sign_in_and_a_file_id_is_404(
    web_fixture: DriveFixture, web: httpx.Client
) -> None:
    binned = web.get("/embeddedfolderview", params={"id": web_fixture.id_of([ROOT, "binned"])})
    assert binned.status_code == 302
    file_id = web_fixture.id_of([ROOT, "IMG_01.jpg"])
    not_a_folder = web.get("/embeddedfolderview", params={"id": file_id})
    assert not_a_folder.status_code == 404
    assert not_a_folder.headers["content-type"].startswith("text/html")


def test_three_thousand_children_come_in_one_page() -> None:
    fixture = DriveFixture(
        {"name": "many", "files": [{"name_pattern": "p{i:04d}.png", "count": 3000, "size": 10}]}
    )
    with EmulatorServer(fixture) as server:
        page = httpx.get(
            f"{server.base_url}/embeddedfolderview", params={"id": fixture.folder_id("many")}
        ).text
    assert len(entries(page)) == 3000


# --- downloads -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/uc", "/download"])
def test_download_returns_the_bytes_as_an_attachment(
    web_fixture: DriveFixture, web: httpx.Client, path: str
) -> None:
    item = web_fixture.find([ROOT, "Fête à Noël 🎄.jpg"])
    response = web.get(path, params=download_params(item.id, confirm="t"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(item.size)
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert disposition.endswith(f"filename*=UTF-8''{quote(item.name, safe='')}")
    assert response.content == web_fixture.read_bytes(item.id)


def test_download_supports_range(web_fixture: DriveFixture, web: httpx.Client) -> None:
    item = web_fixture.find([ROOT, "big.bin"])
    response = web.get(
        "/download", params=download_params(item.id), headers={"Range": "bytes=10-19"}
    )
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 10-19/{item.size}"
    assert response.content == web_fixture.read_bytes(item.id)[10:20]


def test_large_file_gets_the_virus_scan_form_and_submitting_it_gives_the_bytes(
    web_fixture: DriveFixture, start_emulator: Callable[..., EmulatorServer]
) -> None:
    server = start_emulator(EmulatorSettings(virus_scan_threshold=1_000_000))
    item = web_fixture.find([ROOT, "big.bin"])
    with httpx.Client(base_url=server.base_url) as web:
        warning = web.get("/uc", params=download_params(item.id))
        assert warning.status_code == 200
        assert warning.headers["content-type"].startswith("text/html")
        assert "content-disposition" not in warning.headers
        page = warning.text
        assert "<title>Google Drive - Virus scan warning</title>" in page
        assert (
            '<form id="download-form" action="https://drive.usercontent.google.com/download" '
            'method="get">' in page
        )
        assert "big.bin</a> (2.0M)" in page
        fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
        assert set(fields) == {"id", "export", "confirm", "uuid"}
        assert fields["id"] == item.id
        assert fields["export"] == "download"
        assert fields["confirm"] == "t"
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", fields["uuid"]
        )
        # confirm=t alone is not enough: the form's uuid is required.
        assert (
            "Virus scan warning"
            in web.get("/download", params=download_params(item.id, confirm="t")).text
        )
        wrong = web.get("/download", params=fields | {"uuid": "0" * 8})
        assert "Virus scan warning" in wrong.text
        confirmed = web.get("/download", params=fields)
        assert confirmed.status_code == 200
        assert confirmed.headers["content-disposition"].startswith("attachment")
        assert confirmed.content == web_fixture.read_bytes(item.id)
        small = web_fixture.find([ROOT, "IMG_01.jpg"])
        assert web.get("/uc", params=download_params(small.id)).content == web_fixture.read_bytes(
            small.id
        )


def test_virus_scan_form_can_point_at_the_emulator_itself(
    web_fixture: DriveFixture, start_emulator: Callable[..., EmulatorServer]
) -> None:
    server = start_emulator(EmulatorSettings(virus_scan_threshold=0, form_action_base="self"))
    item = web_fixture.find([ROOT, "IMG_01.jpg"])
    page = httpx.get(f"{server.base_url}/uc", params=download_params(item.id)).text
    host = f"127.0.0.1:{server.port}"
    assert f'<form id="download-form" action="http://{host}/download" method="get">' in page


def test_quota_page_is_200_html_and_can_be_toggled(
    emulator: EmulatorServer, web_fixture: DriveFixture, web: httpx.Client
) -> None:
    popular = web_fixture.id_of([ROOT, "popular.jpg"])
    response = web.get("/download", params=download_params(popular, confirm="t"))
    assert response.status_code == 200
    assert "<title>Google Drive - Quota exceeded</title>" in response.text
    assert (
        '<p class="uc-error-subcaption">Too many users have viewed or downloaded this file '
        "recently." in response.text
    )
    other = web_fixture.id_of([ROOT, "IMG_02.jpg"])
    httpx.post(
        f"{emulator.base_url}/_emulator/files/{other}", json={"download_quota_exceeded": True}
    )
    assert "Quota exceeded" in web.get("/uc", params=download_params(other)).text
    httpx.post(
        f"{emulator.base_url}/_emulator/files/{other}", json={"download_quota_exceeded": False}
    )
    assert web.get("/uc", params=download_params(other)).content == web_fixture.read_bytes(other)


def test_docs_editor_file_redirects_to_the_editor_and_other_natives_are_500(
    web_fixture: DriveFixture, web: httpx.Client
) -> None:
    plan = web_fixture.id_of([ROOT, "Plan"])
    response = web.get("/uc", params=download_params(plan))
    assert response.status_code == 302
    assert response.headers["location"] == (
        f"https://docs.google.com/document/d/{plan}/edit?usp=drive_web"
    )
    site = web.get("/uc", params=download_params(web_fixture.id_of([ROOT, "Site"])))
    assert site.status_code == 500
    assert site.headers["content-type"].startswith("text/html")


def test_unknown_trashed_and_idless_downloads_are_error_pages(
    web_fixture: DriveFixture, web: httpx.Client
) -> None:
    assert web.get("/download", params=download_params("1" + "q" * 32)).status_code == 404
    assert (
        web.get("/uc", params=download_params(web_fixture.id_of([ROOT, "old.jpg"]))).status_code
        == 404
    )
    missing = web.get("/uc", params={"export": "download"})
    assert missing.status_code == 400
    assert missing.headers["content-type"].startswith("text/html")


def test_keyed_file_download_redirects_to_sign_in_without_its_key(
    web_fixture: DriveFixture, web: httpx.Client
) -> None:
    secret = web_fixture.find([ROOT, "keyed", "secret.jpg"])
    without = web.get("/download", params=download_params(secret.id))
    assert without.status_code == 302
    continue_url = parse_qs(urlsplit(without.headers["location"]).query)["continue"][0]
    assert continue_url.startswith("https://drive.usercontent.google.com/download?id=")
    assert secret.resource_key is not None
    with_key = web.get(
        "/download", params=download_params(secret.id, resourcekey=secret.resource_key)
    )
    assert with_key.content == web_fixture.read_bytes(secret.id)


def test_abusive_file_answers_with_a_page(web_fixture: DriveFixture, web: httpx.Client) -> None:
    response = web.get("/uc", params=download_params(web_fixture.id_of([ROOT, "malware.jpg"])))
    assert response.status_code == 200
    assert "identified as malware or spam" in response.text
    assert "content-disposition" not in response.headers


# --- faults and stats ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "path", "fault", "status"),
    [
        ("web_list", "/embeddedfolderview", "too_many_requests", 429),
        ("web_list", "/embeddedfolderview", "backend_error", 500),
        ("web_media", "/download", "service_unavailable", 503),
        ("web_media", "/uc", "too_many_requests", 429),
    ],
)
def test_faults_reach_the_web_routes_as_html_pages(
    emulator: EmulatorServer,
    web_fixture: DriveFixture,
    web: httpx.Client,
    route: str,
    path: str,
    fault: str,
    status: int,
) -> None:
    emulator.set_faults(FaultRule(fault, routes=frozenset({route}), every=2, retry_after=9))
    item_id = (
        web_fixture.folder_id(ROOT)
        if route == "web_list"
        else web_fixture.id_of([ROOT, "IMG_03.jpg"])
    )
    responses = [web.get(path, params=download_params(item_id)) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, status, 200, status]
    failed = responses[1]
    assert failed.headers["content-type"].startswith("text/html")
    assert f"Error {status}" in failed.text
    if status in (429, 503):
        assert failed.headers["retry-after"] == "9"
    # The API routes are untouched by a rule for a web route.
    assert httpx.get(f"{emulator.base_url}/drive/v3/files", params={"key": "k"}).status_code == 200


def test_quota_fault_on_web_media_answers_with_the_quota_page(
    emulator: EmulatorServer, web_fixture: DriveFixture, web: httpx.Client
) -> None:
    emulator.set_faults(FaultRule("download_quota_exceeded", routes=frozenset({"web_media"})))
    response = web.get("/download", params=download_params(web_fixture.id_of([ROOT, "IMG_01.jpg"])))
    assert response.status_code == 200
    assert "Quota exceeded" in response.text
    assert emulator.stats.faults_injected["download_quota_exceeded"] == 1


def test_cut_body_applies_to_web_downloads(
    emulator: EmulatorServer, web_fixture: DriveFixture
) -> None:
    item = web_fixture.find([ROOT, "big.bin"])
    emulator.set_faults(FaultRule("cut_body", routes=frozenset({"web_media"}), cut_at=0.5))
    with socket.create_connection(("127.0.0.1", emulator.port)) as sock:
        request = (
            f"GET /download?id={item.id}&export=download&confirm=t HTTP/1.1\r\n"
            "Host: emulator\r\n\r\n"
        )
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert f"content-length: {item.size}".encode() in head.lower()
    assert b"content-disposition: attachment" in head.lower()
    assert len(body) == (item.size or 0) // 2
    assert body == web_fixture.read_bytes(item.id)[: len(body)]


def test_media_only_faults_default_to_both_media_routes() -> None:
    assert FaultRule("cut_body").routes == {"media", "web_media"}
    assert FaultRule("download_quota_exceeded", routes=frozenset({"web_media"})).routes == {
        "web_media"
    }
    with pytest.raises(ValueError, match="media routes"):
        FaultRule("cut_body", routes=frozenset({"web_list"}))


def test_stats_count_web_requests_by_route(
    emulator: EmulatorServer, web_fixture: DriveFixture, web: httpx.Client
) -> None:
    item = web_fixture.find([ROOT, "IMG_01.jpg"])
    web.get("/embeddedfolderview", params={"id": web_fixture.folder_id(ROOT)})
    web.get("/embeddedfolderview", params={"id": "1nope"})
    web.get("/download", params=download_params(item.id))
    stats = httpx.get(f"{emulator.base_url}/_emulator/stats").json()
    assert stats["requests"] == {"web_list": 2, "web_media": 1}
    assert stats["responses"] == {"web_list 200": 1, "web_list 302": 1, "web_media 200": 1}
    assert stats["media_requests_by_file"] == {item.id: 1}
    assert stats["bytes_served"] == item.size


def test_web_settings_are_validated_and_changeable_at_runtime(emulator: EmulatorServer) -> None:
    reply = httpx.post(f"{emulator.base_url}/_emulator/settings", json={"virus_scan_threshold": 5})
    assert reply.json()["virus_scan_threshold"] == 5
    assert reply.json()["form_action_base"] == "https://drive.usercontent.google.com"
    bad = httpx.post(f"{emulator.base_url}/_emulator/settings", json={"form_action_base": "ftp:x"})
    assert bad.status_code == 400
    with pytest.raises(ValueError):
        EmulatorSettings(virus_scan_threshold=-1)
