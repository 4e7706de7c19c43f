"""The Dropbox emulator's rate limit: per authorization, 429 with `Retry-After` and a
`RateLimitError` body (or plain text), refused requests counting against the limit, as Dropbox's
performance and data-ingress guides describe (reference notes B6)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulators.dropbox import DropboxEmulatorServer, DropboxFixture, EmulatorSettings

SPEC: dict[str, Any] = {
    "seed": 5,
    "folders": [{"name": "photos", "files": [{"name": "a.jpg", "size": 1_000}]}],
}


@pytest.fixture(scope="module")
def fixture() -> DropboxFixture:
    return DropboxFixture(SPEC)


@pytest.fixture
def dropbox(fixture: DropboxFixture) -> Iterator[DropboxEmulatorServer]:
    with DropboxEmulatorServer(fixture) as server:
        yield server


def metadata(
    dropbox: DropboxEmulatorServer, fixture: DropboxFixture, authorization: str = "Bearer t1"
) -> httpx.Response:
    return httpx.post(
        f"{dropbox.base_url}/2/sharing/get_shared_link_metadata",
        content=json.dumps({"url": fixture.link("photos")}),
        headers={"Authorization": authorization, "Content-Type": "application/json"},
        timeout=10,
    )


def download(dropbox: DropboxEmulatorServer, fixture: DropboxFixture) -> httpx.Response:
    arg = json.dumps({"url": fixture.link("photos"), "path": "/a.jpg"})
    return httpx.post(
        f"{dropbox.base_url}/2/sharing/get_shared_link_file",
        headers={"Authorization": "Bearer t1", "Dropbox-API-Arg": arg},
        timeout=10,
    )


def test_requests_beyond_the_rate_are_429_too_many_requests_with_retry_after(
    fixture: DropboxFixture, dropbox: DropboxEmulatorServer
) -> None:
    dropbox.settings.update({"rate_limit_per_s": 0.5, "rate_limit_burst": 2})
    assert [metadata(dropbox, fixture).status_code for _ in range(2)] == [200, 200]
    refused = metadata(dropbox, fixture)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/json"
    assert refused.headers["retry-after"] == "15"
    assert refused.json() == {
        "error_summary": "too_many_requests/.",
        "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 15},
    }
    assert dropbox.stats.answers == {"metadata served": 2, "metadata rate_limited": 1}


def test_the_rate_limit_can_answer_in_plain_text_or_as_write_contention(
    fixture: DropboxFixture, dropbox: DropboxEmulatorServer
) -> None:
    dropbox.settings.update(
        {
            "rate_limit_per_s": 0.1,
            "rate_limit_burst": 1,
            "rate_limit_retry_after_s": 300,
            "rate_limit_answer": "too_many_requests_text",
        }
    )
    assert metadata(dropbox, fixture).status_code == 200
    text = metadata(dropbox, fixture)
    assert text.status_code == 429
    assert text.headers["content-type"].startswith("text/plain")
    assert text.headers["retry-after"] == "300"
    dropbox.settings.update({"rate_limit_answer": "too_many_write_operations"})
    contention = metadata(dropbox, fixture)
    assert contention.json()["error"] == {
        "reason": {".tag": "too_many_write_operations"},
        "retry_after": 300,
    }


def test_refused_requests_count_against_the_limit(
    fixture: DropboxFixture, dropbox: DropboxEmulatorServer
) -> None:
    dropbox.settings.update(
        {"rate_limit_per_s": 1, "rate_limit_burst": 1, "rate_limit_retry_after_s": 1}
    )
    assert metadata(dropbox, fixture).status_code == 200
    assert metadata(dropbox, fixture).status_code == 429
    refused = metadata(dropbox, fixture)
    # Two refusals owe two requests: Retry-After grows past the configured second.
    assert int(refused.headers["retry-after"]) >= 2
    time.sleep(1.2)  # a client that did not wait as asked is still refused
    assert metadata(dropbox, fixture).status_code == 429


def test_each_token_and_each_app_has_its_own_limit(
    fixture: DropboxFixture, dropbox: DropboxEmulatorServer
) -> None:
    dropbox.settings.update({"rate_limit_per_s": 0.1, "rate_limit_burst": 1})
    assert metadata(dropbox, fixture).status_code == 200
    assert metadata(dropbox, fixture).status_code == 429
    assert metadata(dropbox, fixture, "Bearer t2").status_code == 200
    app = "Basic " + base64.b64encode(b"appkey:secret").decode()
    assert metadata(dropbox, fixture, app).status_code == 200
    assert metadata(dropbox, fixture, app).status_code == 429


def test_downloads_count_and_the_links_and_zips_have_no_limit(
    fixture: DropboxFixture, dropbox: DropboxEmulatorServer
) -> None:
    dropbox.settings.update({"rate_limit_per_s": 0.1, "rate_limit_burst": 1})
    assert download(dropbox, fixture).status_code == 200
    refused = download(dropbox, fixture)
    assert refused.status_code == 429
    assert refused.json()["error"]["reason"] == {".tag": "too_many_requests"}
    page = httpx.get(fixture.link("photos").replace("https://www.dropbox.com", dropbox.base_url))
    assert page.status_code == 200
    assert dropbox.stats.answers == {"file served": 1, "file rate_limited": 1}


def test_the_limit_is_set_at_the_settings_endpoint(
    fixture: DropboxFixture, dropbox: DropboxEmulatorServer
) -> None:
    url = f"{dropbox.base_url}/_emulator/settings"
    answer = httpx.post(url, json={"rate_limit_per_s": 0.1, "rate_limit_retry_after_s": 300})
    assert answer.json()["rate_limit_retry_after_s"] == 300
    assert httpx.post(url, json={"rate_limit_retry_after_s": 0}).status_code == 400
    assert httpx.post(url, json={"rate_limit_answer": "nope"}).status_code == 400
    assert [metadata(dropbox, fixture).status_code for _ in range(2)] == [200, 429]
    stats = httpx.get(f"{dropbox.base_url}/_emulator/stats").json()
    assert stats["answers"] == {"metadata served": 1, "metadata rate_limited": 1}


def test_settings_default_to_no_limit() -> None:
    settings = EmulatorSettings()
    assert (settings.rate_limit_per_s, settings.rate_limit_retry_after_s) == (0, 15)
