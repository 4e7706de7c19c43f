"""The web service against a stand-in API (httpx's MockTransport): what each page does with the
API's answers, its errors and its absence. The real API is exercised by test_in_browser.py."""

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from web.app import create_app
from web.schemas import Import, ImportCounts, ImportRate
from web.settings import Settings

IMPORT_ID = "6f1c0a52-8a4e-4d7e-9b1a-0c2d3e4f5a6b"
Handler = Callable[[httpx.Request], httpx.Response]


def import_view(status: str = "running", **counts: int) -> dict[str, Any]:
    """The API's answer for an import; `settled` as the API counts it, unless given."""
    counts = {"discovered": 0, "imported": 0, "unchanged": 0, "skipped": 0, "failed": 0} | counts
    counts.setdefault(
        "settled", counts["imported"] + counts["unchanged"] + counts["skipped"] + counts["failed"]
    )
    return {
        "import_id": IMPORT_ID,
        "status": status,
        "source": "google_drive",
        "folder_id": "1AbCdEfGhIjK",
        "source_url": "https://drive.google.com/drive/folders/1AbCdEfGhIjK",
        "recursive": True,
        "counts": counts,
        "bytes_imported": 0,
        "error": None,
        "notes": None,
        "created_at": "2026-11-26T07:00:00Z",
        "started_at": None,
        "finished_at": None,
        "elapsed_seconds": None,
        "rate": None,
        "queue_position": None,
    }


SOURCES = {
    "items": [
        {"name": "google_drive", "display_name": "Google Drive", "accepts_password": False},
        {"name": "dropbox", "display_name": "Dropbox", "accepts_password": True},
    ]
}


@pytest.fixture
def api_answers() -> dict[str, Handler]:
    """Route → handler of the stand-in API; a test sets the routes it needs."""
    return {"GET /sources": lambda request: httpx.Response(200, json=SOURCES)}


@pytest.fixture
async def client(api_answers: dict[str, Handler]) -> AsyncIterator[AsyncTestClient[Any]]:
    def answer(request: httpx.Request) -> httpx.Response:
        handler = api_answers.get(f"{request.method} {request.url.path}")
        if handler is None:
            return httpx.Response(404, json={"error": "not_found", "detail": "no such route"})
        return handler(request)

    app = create_app(Settings(api_url="http://api.test"), api_transport=httpx.MockTransport(answer))
    async with AsyncTestClient(app=app) as client:
        await with_csrf_token(client)
        yield client


async def with_csrf_token(client: AsyncTestClient[Any]) -> None:
    """Send the CSRF token on every request, as the pages' forms and htmx do: any page sets
    the cookie, and the header echoes it."""
    await client.get("/healthz")
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]


def no_api(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


async def test_the_hint_names_the_source_the_api_reads_in_the_link(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    asked: list[str] = []

    def detect(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.params["url"])
        if "dropbox" in asked[-1]:
            body = {"source": "dropbox", "display_name": "Dropbox", "folder_id": "sh/a/b"}
            return httpx.Response(200, json=body | {"accepts_password": True})
        return httpx.Response(422, json={"error": "invalid_input", "detail": "not a link"})

    api_answers["GET /sources/detect"] = detect
    link = "https://www.dropbox.com/sh/abc123/AAAbbb?dl=0"
    recognised = await client.get("/imports/source", params={"url": link})
    assert "Recognised: a Dropbox folder link" in recognised.text
    unknown = await client.get("/imports/source", params={"url": "https://example.com/x"})
    # Until the API recognises the link, the hint names the sources the API lists.
    assert "The link of a Google Drive or Dropbox folder" in unknown.text
    assert asked == [link, "https://example.com/x"]


async def test_every_link_goes_to_the_api_which_says_what_is_wrong_with_it(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    posted: list[dict[str, Any]] = []
    detail = "this is a link to a single Dropbox file, not a folder: share the folder"

    def refused(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(422, json={"error": "invalid_input", "detail": detail})

    api_answers["POST /imports"] = refused
    link = "https://www.dropbox.com/scl/fi/abc123/photo.jpg?rlkey=k"
    response = await client.post(
        "/imports",
        data={"url": link, "recursive": "true", "password": "hunter2"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert detail in response.text
    assert "<html" not in response.text  # htmx gets the form alone
    assert "hunter2" not in response.text  # a password is never sent back
    assert posted == [{"url": link, "recursive": True, "password": "hunter2"}]


async def test_an_empty_link_is_refused_naming_the_sources_the_api_lists(
    client: AsyncTestClient[Any],
) -> None:
    response = await client.post("/imports", data={"url": "  "}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "Paste the link of a Google Drive or Dropbox folder." in response.text


async def test_the_pages_name_every_source_the_api_lists(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    four = [
        *SOURCES["items"],
        {"name": "public_s3", "display_name": "Public S3 bucket", "accepts_password": False},
        {"name": "nextcloud", "display_name": "Nextcloud / ownCloud", "accepts_password": True},
    ]
    empty = {"items": [], "next_cursor": None}
    api_answers["GET /sources"] = lambda request: httpx.Response(200, json={"items": four})
    api_answers["GET /imports"] = lambda request: httpx.Response(200, json=empty)
    api_answers["GET /images"] = lambda request: httpx.Response(200, json=empty)
    named = "Google Drive, Dropbox, Public S3 bucket or Nextcloud / ownCloud folder"

    home = await client.get("/")
    assert f"Paste the link of a {named} that anyone" in home.text
    assert f"Copies every image of a {named} into object storage." in home.text  # the footer
    images = await client.get("/images")
    assert f"Import a {named}: its images show up here" in images.text
    assert "Google Drive or Dropbox" not in home.text + images.text


async def test_a_plain_form_post_redirects_to_the_import(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    posted: list[dict[str, Any]] = []

    def accepted(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        body = {"import_id": IMPORT_ID, "status": "queued", "source": "google_drive"}
        return httpx.Response(202, json=body | {"folder_id": "1AbCdEfGhIjK"})

    api_answers["POST /imports"] = accepted
    link = "https://drive.google.com/drive/folders/1AbCdEfGhIjK"
    # No "recursive": an unticked checkbox is not sent at all.
    response = await client.post("/imports", data={"url": f"  {link} "}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/imports/{IMPORT_ID}"
    assert posted == [{"url": link, "recursive": False}]


async def test_a_folder_already_importing_leads_to_that_import(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    body = {"import_id": IMPORT_ID, "status": "running", "source": "google_drive"}
    api_answers["POST /imports"] = lambda request: httpx.Response(
        200, json=body | {"folder_id": "1AbCdEfGhIjK"}
    )
    response = await client.post(
        "/imports",
        data={"url": "https://drive.google.com/drive/folders/1AbCdEfGhIjK"},
        headers={"HX-Request": "true"},
    )
    assert response.headers["HX-Redirect"] == f"/imports/{IMPORT_ID}?existing=1"

    view = import_view("running", discovered=10, imported=4)
    api_answers[f"GET /imports/{IMPORT_ID}"] = lambda request: httpx.Response(200, json=view)
    page = await client.get(f"/imports/{IMPORT_ID}?existing=1")
    assert "This folder was already being imported" in page.text


async def test_a_retry_goes_back_to_the_import_or_says_why_it_could_not(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    view = import_view("failed")
    api_answers[f"GET /imports/{IMPORT_ID}"] = lambda request: httpx.Response(200, json=view)
    api_answers[f"POST /imports/{IMPORT_ID}/retry"] = lambda request: httpx.Response(
        202, json={"import_id": IMPORT_ID, "status": "running", "requeued": 2}
    )
    plain = await client.post(f"/imports/{IMPORT_ID}/retry", follow_redirects=False)
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/imports/{IMPORT_ID}"

    detail = "import 6f1c failed as a whole: start a new import of the folder"
    api_answers[f"POST /imports/{IMPORT_ID}/retry"] = lambda request: httpx.Response(
        409, json={"error": "conflict", "detail": detail}
    )
    refused = await client.post(f"/imports/{IMPORT_ID}/retry", headers={"HX-Request": "true"})
    assert refused.status_code == 409
    assert detail in refused.text
    assert refused.text.lstrip().startswith('<section id="progress"')


async def test_a_page_says_what_to_do_when_the_api_is_down(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    api_answers["GET /images"] = no_api
    response = await client.get("/images")
    assert response.status_code == 503
    assert "The image service is not answering" in response.text
    assert "http://api.test" in response.text


async def test_a_poll_while_the_api_is_down_keeps_the_page_and_says_so(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    api_answers[f"GET /imports/{IMPORT_ID}"] = no_api
    response = await client.get(f"/imports/{IMPORT_ID}/progress", headers={"HX-Request": "true"})
    assert response.status_code == 503
    assert response.headers["HX-Retarget"] == "#connection-status"
    assert "Lost contact" in response.text


async def test_a_live_import_polls_and_a_finished_one_stops(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    view = import_view("running", discovered=10, imported=4)
    api_answers[f"GET /imports/{IMPORT_ID}"] = lambda request: httpx.Response(200, json=view)
    live = await client.get(f"/imports/{IMPORT_ID}/progress", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in live.text
    assert 'value="40"' in live.text

    view = import_view("completed", discovered=10, imported=8, skipped=2)
    done = await client.get(f"/imports/{IMPORT_ID}/progress", headers={"HX-Request": "true"})
    assert "hx-trigger" not in done.text
    assert 'value="100"' in done.text


async def test_a_waiting_import_says_how_many_imports_are_ahead_of_it(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    view = import_view("queued") | {"queue_position": 3}
    api_answers[f"GET /imports/{IMPORT_ID}"] = lambda request: httpx.Response(200, json=view)
    waiting = await client.get(f"/imports/{IMPORT_ID}/progress", headers={"HX-Request": "true"})
    assert "waiting: 2 imports ahead" in waiting.text
    assert 'hx-trigger="every 1s"' in waiting.text

    view = import_view("queued") | {"queue_position": 2}
    next_but_one = await client.get(f"/imports/{IMPORT_ID}")
    assert "waiting: 1 import ahead" in next_but_one.text

    view = import_view("queued") | {"queue_position": None}
    starting = await client.get(f"/imports/{IMPORT_ID}")
    assert "ahead" not in starting.text


async def test_names_are_escaped_and_scripts_are_only_the_sites_own(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    image = {
        "id": "0b6e0000-0000-4000-8000-000000000001",
        "source": "google_drive",
        "source_file_id": "1Qw",
        "import_id": IMPORT_ID,
        "name": '<img src=x onerror=alert(1)>".png',
        "mime_type": "image/png",
        "size": 900,
        "md5_checksum": None,
        "storage_path": "s3://images/google_drive/1Qw",
        "url": "http://s3.test/images/google_drive/1Qw?X-Amz-Signature=abc",
        "created_at": "2026-11-26T07:00:00Z",
        "updated_at": "2026-11-26T07:00:00Z",
    }
    api_answers["GET /images"] = lambda request: httpx.Response(
        200, json={"items": [image], "next_cursor": None}
    )
    api_answers["GET /imports"] = lambda request: httpx.Response(
        200, json={"items": [], "next_cursor": None}
    )
    response = await client.get("/images")
    assert response.status_code == 200
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;&#34;.png" in response.text
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


async def test_the_gallery_hides_copies_when_asked_and_an_image_says_what_it_is_a_copy_of(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    first_id = "0b6e0000-0000-4000-8000-000000000001"
    copy = {
        "id": "0b6e0000-0000-4000-8000-000000000002",
        "source": "google_drive",
        "source_file_id": "1Qx",
        "import_id": IMPORT_ID,
        "name": "copy of beach.jpg",
        "mime_type": "image/jpeg",
        "size": 900,
        "md5_checksum": None,
        "storage_path": "s3://images/content/9f86",
        "url": "http://s3.test/images/content/9f86?X-Amz-Signature=abc",
        "created_at": "2026-11-26T07:00:00Z",
        "updated_at": "2026-11-26T07:00:00Z",
        "content_id": "9f86",
        "duplicate_of": first_id,
        "duplicates": 1,
        "history": [
            {"moved_from": "Trips", "moved_to": "Trips/Best", "at": "2026-11-27T07:00:00Z"},
            {"renamed_from": "IMG_1.jpg", "renamed_to": "copy of beach.jpg", "at": "..."},
        ],
    }
    asked: list[dict[str, str]] = []

    def images(request: httpx.Request) -> httpx.Response:
        asked.append(dict(request.url.params))
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    api_answers["GET /images"] = images
    api_answers["GET /imports"] = lambda request: httpx.Response(
        200, json={"items": [], "next_cursor": None}
    )
    api_answers[f"GET /images/{copy['id']}"] = lambda request: httpx.Response(200, json=copy)

    everything = await client.get("/images")
    assert "One of each photo" in everything.text
    assert 'name="hide_copies" value="true" checked' not in everything.text
    one_each = await client.get("/images", params={"hide_copies": "true"})
    assert 'name="hide_copies" value="true" checked' in one_each.text
    assert "duplicates" not in asked[0]
    assert asked[1]["duplicates"] == "hide"
    assert "hide_copies" not in asked[1]

    page = await client.get(f"/images/{copy['id']}")
    assert f'<a href="/images/{first_id}">the image stored first with the same bytes</a>' in (
        page.text
    )
    assert "from Trips to Trips/Best" in page.text
    assert "from IMG_1.jpg to copy of beach.jpg" in page.text


def test_progress_and_time_left_count_the_files_found_so_far() -> None:
    running = Import(
        **{
            **import_view("running"),
            "counts": ImportCounts(
                discovered=100, imported=30, unchanged=5, skipped=4, failed=1, settled=40
            ),
            "rate": ImportRate(files_per_second=4.0, bytes_per_second=1e6),
            "created_at": datetime(2026, 11, 26, tzinfo=UTC),
        }
    )
    assert running.percent == 40
    assert running.eta_seconds == 15.0
    queued = Import(**{**import_view("queued"), "counts": ImportCounts(0, 0, 0, 0, 0, 0)})
    assert (queued.percent, queued.eta_seconds) == (None, None)


async def test_healthz_answers_without_the_api(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_follows_the_api(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    api_answers["GET /readyz"] = lambda request: httpx.Response(200, json={"status": "ok"})
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok", "api": "ok"})

    api_answers["GET /readyz"] = lambda request: httpx.Response(503, json={"status": "x"})
    not_ready = await client.get("/readyz")
    assert (not_ready.status_code, not_ready.json()["api"]) == (503, "unavailable")

    api_answers["GET /readyz"] = no_api
    assert (await client.get("/readyz")).status_code == 503


async def test_failed_files_page_on_past_the_first_fifty(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    view = import_view("completed_with_errors", discovered=60, imported=5, failed=55)
    failure = {
        "file_id": "1Qw",
        "name": "IMG_1.jpg",
        "mime_type": "image/jpeg",
        "size": 10,
        "reason": "gave up after 6 attempts: HTTP 503 from Drive",
        "attempts": 6,
        "updated_at": "2026-11-26T07:00:00Z",
    }

    def failures(request: httpx.Request) -> httpx.Response:
        last = request.url.params.get("cursor") == "c2"
        return httpx.Response(200, json={"items": [failure], "next_cursor": None if last else "c2"})

    api_answers[f"GET /imports/{IMPORT_ID}"] = lambda request: httpx.Response(200, json=view)
    api_answers[f"GET /imports/{IMPORT_ID}/failures"] = failures
    page = await client.get(f"/imports/{IMPORT_ID}")
    assert "gave up after 6 attempts" in page.text
    assert "Retry 55 failed files" in page.text
    assert f'hx-get="/imports/{IMPORT_ID}/failures?cursor=c2"' in page.text

    rows = await client.get(f"/imports/{IMPORT_ID}/failures", params={"cursor": "c2"})
    assert rows.text.count("<tr") == 1
    assert "More failed files" not in rows.text


async def test_imports_are_shown_by_their_folder_name_escaped_or_by_their_link_without_one(
    client: AsyncTestClient[Any], api_answers: dict[str, Handler]
) -> None:
    named = import_view("completed") | {"folder_name": "<b>Holiday</b> photos & more"}
    unnamed = import_view("queued") | {"import_id": "0a0b0c0d-0000-4000-8000-000000000001"}
    api_answers["GET /imports"] = lambda request: httpx.Response(
        200, json={"items": [named, unnamed], "next_cursor": None}
    )
    listing = await client.get("/imports")
    assert listing.status_code == 200
    assert "<b>Holiday</b>" not in listing.text
    assert "&lt;b&gt;Holiday&lt;/b&gt; photos &amp; more</a>" in listing.text
    # The link stays beside the name; an import without a name (not started) shows its link.
    assert listing.text.count("https://drive.google.com/drive/folders/1AbCdEfGhIjK") == 2

    api_answers[f"GET /imports/{IMPORT_ID}"] = lambda request: httpx.Response(200, json=named)
    page = await client.get(f"/imports/{IMPORT_ID}")
    assert '<h1 data-testid="folder-name">&lt;b&gt;Holiday&lt;/b&gt; photos &amp; more</h1>' in (
        page.text
    )
    assert "<title>&lt;b&gt;Holiday&lt;/b&gt; photos &amp; more: " in page.text
