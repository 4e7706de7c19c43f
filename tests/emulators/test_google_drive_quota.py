"""The Drive emulator's quota mode: Google's per-user rate quota (403 userRateLimitExceeded, or
429) and a popular file's download quota that clears after a while, with the counts of what was
served and refused. Shapes from Google's "Resolve errors" and "Usage limits" pages (reference
notes A7, A9, A11)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulators.common.quota import CallerQuotas
from emulators.google_drive import DriveFixture, EmulatorServer, EmulatorSettings
from emulators.google_drive.cli import spread

SPEC: dict[str, Any] = {
    "seed": 23,
    "folders": [
        {
            "name": "photos",
            "files": [{"name_pattern": "IMG_{i:02d}.jpg", "count": 6, "size": [1_000, 4_000]}],
        }
    ],
}


@pytest.fixture(scope="module")
def fixture() -> DriveFixture:
    return DriveFixture(SPEC)


@pytest.fixture
def drive(fixture: DriveFixture) -> Iterator[EmulatorServer]:
    with EmulatorServer(fixture) as server:
        yield server


def listing(drive: EmulatorServer, fixture: DriveFixture, **params: str) -> httpx.Response:
    query = {"q": f"'{fixture.folder_id('photos')}' in parents", "key": "k", **params}
    return httpx.get(f"{drive.base_url}/drive/v3/files", params=query, timeout=10)


def media(drive: EmulatorServer, file_id: str) -> httpx.Response:
    return httpx.get(
        f"{drive.base_url}/drive/v3/files/{file_id}",
        params={"alt": "media", "key": "k"},
        timeout=10,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_serves_its_burst_then_refills_at_its_rate() -> None:
    clock = FakeClock()
    quotas = CallerQuotas(clock)
    assert [quotas.take("a", rate=10, burst=3) for _ in range(3)] == [None, None, None]
    wait = quotas.take("a", rate=10, burst=3)
    assert wait == pytest.approx(0.1)
    clock.now += 0.1
    assert quotas.take("a", rate=10, burst=3) is None
    assert quotas.take("a", rate=10, burst=3) is not None
    # Another caller has its own bucket; a rate of 0 is no quota at all.
    assert quotas.take("b", rate=10, burst=3) is None
    assert all(quotas.take("a", rate=0, burst=0) is None for _ in range(100))


def test_a_bucket_that_charges_refusals_goes_into_debt() -> None:
    clock = FakeClock()
    quotas = CallerQuotas(clock)
    assert quotas.take("a", rate=1, burst=1, charge_refusals=True) is None
    # Each refusal is charged: the wait it answers already counts it.
    assert quotas.take("a", rate=1, burst=1, charge_refusals=True) == pytest.approx(2.0)
    assert quotas.take("a", rate=1, burst=1, charge_refusals=True) == pytest.approx(3.0)
    clock.now += 1.5  # enough for a free bucket, not for one that owes two requests
    assert quotas.take("a", rate=1, burst=1, charge_refusals=True) is not None


def test_requests_beyond_the_per_user_quota_are_403_user_rate_limit_exceeded(
    fixture: DriveFixture, drive: EmulatorServer
) -> None:
    drive.settings.update({"rate_limit_per_s": 0.5, "rate_limit_burst": 2})
    statuses = [listing(drive, fixture).status_code for _ in range(2)]
    refused = listing(drive, fixture)
    assert statuses == [200, 200]
    assert refused.status_code == 403
    # As Google's "Resolve errors" page shows it: classic shape, no status, no Retry-After.
    assert refused.json() == {
        "error": {
            "code": 403,
            "message": "User Rate Limit Exceeded",
            "errors": [
                {
                    "domain": "usageLimits",
                    "reason": "userRateLimitExceeded",
                    "message": "User Rate Limit Exceeded",
                }
            ],
        }
    }
    assert "retry-after" not in refused.headers
    assert drive.stats.answers == {"list served": 2, "list rate_limited": 1}


def test_the_quota_can_answer_429_or_403_rate_limit_exceeded(
    fixture: DriveFixture, drive: EmulatorServer
) -> None:
    drive.settings.update(
        {"rate_limit_per_s": 0.5, "rate_limit_burst": 1, "rate_limit_answer": "too_many_requests"}
    )
    assert listing(drive, fixture).status_code == 200
    refused = listing(drive, fixture)
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert (error["code"], error["errors"][0]["domain"], error["errors"][0]["reason"]) == (
        429,
        "usageLimits",
        "rateLimitExceeded",
    )
    assert "retry-after" not in refused.headers  # Google documents none on a 429
    drive.settings.update({"rate_limit_answer": "rate_limit_exceeded"})
    refused = listing(drive, fixture)
    assert refused.status_code == 403
    assert refused.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"


def test_each_key_and_each_quota_user_has_a_quota_of_its_own(
    fixture: DriveFixture, drive: EmulatorServer
) -> None:
    drive.settings.update({"rate_limit_per_s": 0.5, "rate_limit_burst": 1})
    assert listing(drive, fixture).status_code == 200
    assert listing(drive, fixture).status_code == 403
    assert listing(drive, fixture, key="other").status_code == 200
    assert listing(drive, fixture, quotaUser="alice").status_code == 200
    assert listing(drive, fixture, quotaUser="alice").status_code == 403
    assert listing(drive, fixture, quotaUser="bob").status_code == 200


def test_the_quota_refills_at_its_rate(fixture: DriveFixture, drive: EmulatorServer) -> None:
    drive.settings.update({"rate_limit_per_s": 1, "rate_limit_burst": 1})
    assert listing(drive, fixture).status_code == 200
    assert listing(drive, fixture).status_code == 403
    time.sleep(1.1)
    assert listing(drive, fixture).status_code == 200


def test_downloads_share_the_quota_and_web_routes_have_none(
    fixture: DriveFixture, drive: EmulatorServer
) -> None:
    image = fixture.expected_images("photos")[0]
    drive.settings.update({"rate_limit_per_s": 0.5, "rate_limit_burst": 1})
    assert media(drive, image.id).status_code == 200
    assert media(drive, image.id).status_code == 403
    web = httpx.get(f"{drive.base_url}/uc", params={"export": "download", "id": image.id})
    assert web.status_code == 200
    assert web.content == image.read()
    assert drive.stats.answers == {"media served": 1, "media rate_limited": 1}


def test_the_quota_is_set_at_the_settings_endpoint(
    fixture: DriveFixture, drive: EmulatorServer
) -> None:
    url = f"{drive.base_url}/_emulator/settings"
    answer = httpx.post(url, json={"rate_limit_per_s": 0.5, "rate_limit_burst": 1}).json()
    assert (answer["rate_limit_per_s"], answer["rate_limit_burst"]) == (0.5, 1)
    assert answer["rate_limit_answer"] == "user_rate_limit_exceeded"
    assert httpx.post(url, json={"rate_limit_answer": "slow_down"}).status_code == 400
    assert httpx.post(url, json={"rate_limit_per_s": -1}).status_code == 400
    assert [listing(drive, fixture).status_code for _ in range(2)] == [200, 403]
    stats = httpx.get(f"{drive.base_url}/_emulator/stats").json()
    assert stats["answers"] == {"list served": 1, "list rate_limited": 1}


def test_a_held_file_answers_download_quota_exceeded_for_its_window_then_serves(
    fixture: DriveFixture, drive: EmulatorServer
) -> None:
    held, other = fixture.expected_images("photos")[:2]
    control = f"{drive.base_url}/_emulator/files/{held.id}"
    answer = httpx.post(control, json={"download_quota_window_s": 0.6}).json()
    assert answer["download_quota_window_s"] == 0.6
    assert answer["refusing_for_s"] is None  # the window opens at the first download

    refused = media(drive, held.id)
    assert refused.status_code == 403
    assert refused.json() == {
        "error": {
            "code": 403,
            "message": "The download quota for this file has been exceeded.",
            "errors": [
                {
                    "domain": "global",
                    "reason": "downloadQuotaExceeded",
                    "message": "The download quota for this file has been exceeded.",
                }
            ],
        }
    }
    assert 0 < httpx.get(control).json()["refusing_for_s"] <= 0.6
    assert media(drive, other.id).status_code == 200  # the others are served meanwhile
    time.sleep(0.7)
    served = media(drive, held.id)
    assert served.status_code == 200
    assert served.content == held.read()
    assert drive.stats.answers == {"media served": 2, "media quota_refused": 1}


def test_a_held_file_waits_for_its_first_download_to_start_its_window(
    fixture: DriveFixture, drive: EmulatorServer
) -> None:
    held = fixture.expected_images("photos")[0]
    drive.state.hold_downloads([held.id], 0.3)
    time.sleep(0.4)
    assert media(drive, held.id).status_code == 403
    web = httpx.get(f"{drive.base_url}/uc", params={"export": "download", "id": held.id})
    assert "Quota exceeded" in web.text  # the web download shows Google's quota page
    drive.state.hold_downloads([held.id], 0)
    assert media(drive, held.id).status_code == 200


def test_the_held_files_of_the_command_line_are_spread_over_the_folder() -> None:
    ids = [str(i) for i in range(10)]
    assert spread(ids, 3) == ["0", "3", "6"]
    assert spread(ids, 20) == ids


def test_settings_refuse_a_burst_smaller_than_one_request() -> None:
    with pytest.raises(ValueError, match="at least one request"):
        EmulatorSettings(rate_limit_per_s=5, rate_limit_burst=0.5)
