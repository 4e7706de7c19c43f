"""PostgreSQL restarted mid-import: the worker process rides it out and finishes the import
exact, by itself; the api says 503 at once while the database is gone and serves again as soon
as it is back.

The module has a PostgreSQL server of its own (stopping the session's would cut every other
module's database too): the same data directory and port, stopped and started again.
"""

import asyncio
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from devstack.postgres import EmbeddedPostgres
from devstack.testing import start_postgres_for_tests
from tests.conftest import Stack
from tests.helpers import all_images, start_import, wait_for_import

WORKER_ENV = {
    # Slow enough that the restart comes with most of the folder still to move.
    "SOURCE_REQUESTS_PER_SECOND": "60",
    "TRANSFER_BATCH_FILES": "50",
}
OUTAGE_SECONDS = 10
# The api's pool waits DB_POOL_TIMEOUT_SECONDS (3 s) for a connection; "at once" is within that
# and some slack for a 2-core machine under load.
UNAVAILABLE_WITHIN_SECONDS = 5
# Once PostgreSQL answers again, the api serves within this (its pool gives up on a lost
# connection after 2 s, so no long reconnection backoff is left to wait out).
BACK_WITHIN_SECONDS = 8
# Far beyond either, yet within the test's timeout: a stall fails with its phase named (and the
# worker's log attached) rather than by pytest-timeout.
GIVE_UP_SECONDS = 120


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    if os.environ.get("DATABASE_URL"):
        pytest.skip("restarts a PostgreSQL server of its own; DATABASE_URL points elsewhere")
    server = start_postgres_for_tests(tmp_path_factory.mktemp("postgres-restarted"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres_server_url(own_postgres: EmbeddedPostgres) -> str:
    """This module's databases live on its own server (overrides the session's)."""
    return own_postgres.url


async def imported(api: AsyncTestClient[Any], import_id: str) -> int:
    count: int = (await api.get(f"/imports/{import_id}")).json()["counts"]["imported"]
    return count


async def test_a_postgres_restart_mid_import_is_ridden_out_and_the_import_completes_exact(
    api: AsyncTestClient[Any], stack: Stack, own_postgres: EmbeddedPostgres
) -> None:
    fixture = stack.drive.fixture
    expected = {image.id: image for image in fixture.expected_images("thousand")}
    worker_pid = stack.worker.pid
    import_id = await start_import(api, fixture.link("thousand"))
    while await imported(api, import_id) < 100:
        await asyncio.sleep(0.05)

    await asyncio.to_thread(own_postgres.stop)
    down_at = time.monotonic()
    answers_while_down = []
    while time.monotonic() - down_at < OUTAGE_SECONDS:
        asked_at = time.monotonic()
        response = await api.get(f"/imports/{import_id}")
        answers_while_down.append((response, time.monotonic() - asked_at))
        await asyncio.sleep(0.5)
    readiness_while_down = await api.get("/readyz")
    liveness_while_down = await api.get("/healthz")
    await asyncio.to_thread(own_postgres.start)
    up_at = time.monotonic()
    while (await api.get(f"/imports/{import_id}")).status_code != 200:
        assert time.monotonic() - up_at < GIVE_UP_SECONDS, "the api never served again"
        await asyncio.sleep(0.2)
    back_after = time.monotonic() - up_at
    result = await wait_for_import(api, import_id, timeout=GIVE_UP_SECONDS)

    # While it was down: 503 at once, in the one error body, nothing of the driver's words.
    assert answers_while_down
    for response, took in answers_while_down:
        assert response.status_code == 503, response.text
        assert took < UNAVAILABLE_WITHIN_SECONDS
        assert response.headers["retry-after"].isdigit()
        assert set(response.json()) == {"error", "detail"}
        assert response.json()["error"] == "unavailable"
        assert "psycopg" not in response.text and "127.0.0.1" not in response.text
    assert readiness_while_down.status_code == 503
    assert readiness_while_down.json()["database"] == "unavailable"
    assert liveness_while_down.status_code == 200
    assert back_after < BACK_WITHIN_SECONDS

    # The same worker process went on, and restarted its Procrastinate worker itself.
    assert stack.worker.poll() is None and stack.worker.pid == worker_pid
    log = stack.worker_log.read_text(errors="replace")
    assert "worker.database_lost" in log and "worker.restarting" in log

    # Completed with no retry asked for: every file once, byte-exact.
    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected) == 1000
    assert result["counts"]["failed"] == 0
    assert result["bytes_imported"] == sum(image.size for image in expected.values())
    images = await all_images(api, import_id=import_id, limit=500)
    assert sorted(image["source_file_id"] for image in images) == sorted(expected)
    assert sorted(stack.objects(prefix="content/")) == sorted(
        f"content/{source.sha256}" for source in expected.values()
    )
    for image in images:
        source = expected[image["source_file_id"]]
        assert image["md5_checksum"] == source.md5
        assert stack.read_object(f"content/{source.sha256}") == source.read()
    with stack.db() as db:
        stuck = db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
        ).fetchone()
    assert stuck == (0,)
