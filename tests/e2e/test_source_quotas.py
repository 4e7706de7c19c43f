"""What the source refuses, the import waits out: a file over its download quota waits for it
(the import says so, and completes when it comes through, no attempt spent), and rate-limit
answers slow the shared pace instead of failing files."""

import asyncio
import time
from typing import Any

from litestar.testing import AsyncTestClient

from emulators.google_drive import FaultRule
from tests.conftest import Stack
from tests.helpers import start_import, wait_for_import

WORKER_ENV = {
    "SOURCE_QUOTA_RETRY_SECONDS": "1",
    # Few attempts: a rate-limited file that spent them would fail, and the test would see it.
    "MAX_ATTEMPTS": "2",
}


async def test_a_file_over_its_download_quota_waits_for_it_and_the_import_completes(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    popular = fixture.id_of("quota popular/pic_2.png")
    # Refused three times (about 3 s of waits), then served.
    stack.drive.set_faults(
        FaultRule(
            "download_quota_exceeded",
            routes=frozenset({"media"}),
            file_ids=frozenset({popular}),
            limit=3,
        )
    )
    try:
        import_id = await start_import(api, fixture.link("quota popular"))
        waiting = await wait_until(api, import_id, lambda v: v["counts"]["waiting_for_quota"])
        assert waiting["status"] == "running"
        assert waiting["counts"]["waiting_for_quota"] == 1
        assert waiting["quota_next_try_at"] is not None
        result = await wait_for_import(api, import_id)
    finally:
        stack.drive.set_faults()

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == 6
    assert result["counts"]["waiting_for_quota"] == 0
    assert result["quota_next_try_at"] is None
    with stack.db() as db:
        row = db.execute(
            "SELECT state, attempts, quota_wait_since FROM import_files"
            " WHERE import_id = %s AND source_file_id = %s",
            (import_id, popular),
        ).fetchone()
    assert row == ("imported", 1, None)  # the waits spent none of its attempts


async def test_rate_limit_answers_slow_the_shared_pace_and_fail_no_file(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    # Every third download is refused with Drive's per-user rate limit, 30 in all.
    stack.drive.set_faults(
        FaultRule("user_rate_limit_exceeded", routes=frozenset({"media"}), every=3, limit=30)
    )
    try:
        import_id = await start_import(api, fixture.link("quota rate limited"), recursive=False)
        result = await wait_for_import(api, import_id)
    finally:
        stack.drive.set_faults()

    expected = len(fixture.expected_images("quota rate limited", recursive=False))
    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == expected
    assert result["counts"]["failed"] == 0
    with stack.db() as db:
        cut = db.execute(
            "SELECT rate IS NOT NULL AND rate_cut_at IS NOT NULL FROM source_pacing"
            " WHERE bucket LIKE 'google_drive%%'"
        ).fetchall()
    assert (True,) in cut  # the shared pace was cut


async def wait_until(
    api: AsyncTestClient[Any], import_id: str, check: Any, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view: dict[str, Any] = (await api.get(f"/imports/{import_id}")).json()
        if check(view):
            return view
        assert time.monotonic() < deadline, view
        await asyncio.sleep(0.05)
