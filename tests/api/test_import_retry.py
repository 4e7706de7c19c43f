"""Retrying an import's failed files: they go back to pending in transfer batches, the
import runs again and completes with exact counts; imports that cannot be retried get 409."""

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.imports import service
from api.imports.schemas import RetryAccepted
from tests import job_log
from tests.api.factories import insert_import, insert_import_file, new_folder_id
from tests.api.paging import follow_pages
from tests.api.races import Pool, race
from tests.conftest import Stack
from tests.helpers import eventually, start_import, wait_for_import


def transfer_jobs(stack: Stack, import_id: str) -> dict[str, int]:
    with stack.db() as db:
        return job_log.transfer_jobs(db, import_id)


@pytest.fixture(scope="module", autouse=True)
def log_jobs(stack: Stack) -> None:
    with stack.db() as db:
        job_log.install_job_log(db)


def requeued_once(
    stack: Stack, import_id: str, jobs_before: dict[str, int], failed: list[str]
) -> Callable[[], bool]:
    def check() -> bool:
        """the worker queued one transfer more for each failed file, and no other"""
        return transfer_jobs(stack, import_id) == {
            file_id: count + (1 if file_id in failed else 0)
            for file_id, count in jobs_before.items()
        }

    return check


def file_states(stack: Stack, import_id: str) -> dict[str, str]:
    with stack.db() as db:
        rows = db.execute(
            "SELECT source_file_id, state FROM import_files WHERE import_id = %s", (import_id,)
        ).fetchall()
    return dict(rows)


def fail_imported_files(stack: Stack, import_id: str, count: int) -> list[str]:
    """Turn the import's `count` smallest imported files into failures, as if their transfers
    had given up: file rows failed, image rows gone, counters moved, import finished with errors.
    Their bytes are still on the emulated Drive, so a retry can fetch them."""
    with stack.db() as db, db.transaction():
        rows = db.execute(
            "SELECT source_file_id, size FROM import_files"
            " WHERE import_id = %s AND state = 'imported' ORDER BY size, source_file_id LIMIT %s",
            (import_id, count),
        ).fetchall()
        file_ids = [file_id for file_id, _ in rows]
        db.execute(
            "UPDATE import_files SET state = 'failed', reason = 'HTTP 503 after 5 attempts',"
            " attempts = 5 WHERE import_id = %s AND source_file_id = ANY(%s)",
            (import_id, file_ids),
        )
        db.execute("DELETE FROM images WHERE source_file_id = ANY(%s)", (file_ids,))
        db.execute(
            "UPDATE imports SET imported = imported - %s, failed = failed + %s,"
            " bytes_imported = bytes_imported - %s, status = 'completed_with_errors'"
            " WHERE id = %s",
            (len(rows), len(rows), sum(size for _, size in rows), import_id),
        )
    return sorted(file_ids)


@pytest.fixture(scope="module")
async def finished_import(api: AsyncTestClient[Any], stack: Stack) -> dict[str, Any]:
    """A real import of the `mixed` folder, completed by the worker."""
    import_id = await start_import(api, stack.drive.fixture.link("mixed"))
    result = await wait_for_import(api, import_id)
    assert result["status"] == "completed", result
    return result


async def test_retry_requeues_the_failed_files_and_the_import_completes_again_with_exact_counts(
    api: AsyncTestClient[Any], stack: Stack, finished_import: dict[str, Any]
) -> None:
    import_id = finished_import["import_id"]
    failed = fail_imported_files(stack, import_id, 3)
    damaged = (await api.get(f"/imports/{import_id}")).json()
    assert damaged["status"] == "completed_with_errors"
    assert damaged["counts"]["failed"] == 3
    failures, _ = await follow_pages(api, f"/imports/{import_id}/failures", limit=2)
    assert [f["file_id"] for f in failures] == failed
    jobs_before = transfer_jobs(stack, import_id)

    response = await api.post(f"/imports/{import_id}/retry")

    assert response.status_code == 202
    assert response.json() == {"import_id": import_id, "status": "running", "requeued": 3}
    eventually(requeued_once(stack, import_id, jobs_before, failed))

    result = await wait_for_import(api, import_id)
    assert result["status"] == "completed"
    assert result["counts"] == finished_import["counts"]
    assert result["bytes_imported"] == finished_import["bytes_imported"]
    assert result["finished_at"] is not None
    assert (await api.get(f"/imports/{import_id}/failures")).json()["items"] == []
    assert {file_states(stack, import_id)[file_id] for file_id in failed} == {"imported"}
    with stack.db() as db:
        (images,) = db.execute(
            "SELECT count(*) FROM images WHERE source_file_id = ANY(%s)", (failed,)
        ).fetchone() or (0,)
    assert images == 3


async def test_retrying_an_import_without_failures_requeues_nothing(
    api: AsyncTestClient[Any], stack: Stack, finished_import: dict[str, Any]
) -> None:
    import_id = finished_import["import_id"]
    await wait_for_import(api, import_id)
    jobs_before = transfer_jobs(stack, import_id)

    response = await api.post(f"/imports/{import_id}/retry")

    assert response.status_code == 202
    assert response.json() == {"import_id": import_id, "status": "completed", "requeued": 0}
    assert transfer_jobs(stack, import_id) == jobs_before


async def test_racing_retries_queue_each_failed_file_once(
    api: AsyncTestClient[Any],
    stack: Stack,
    finished_import: dict[str, Any],
    services: tuple[Pool, Any],
) -> None:
    pool, job_app = services
    import_id = finished_import["import_id"]
    await wait_for_import(api, import_id)
    failed = fail_imported_files(stack, import_id, 2)
    jobs_before = transfer_jobs(stack, import_id)

    async def retry(conn: Any) -> RetryAccepted:
        return await service.retry_failed_files(conn, job_app, import_id)

    first, second = await race(stack, pool, retry, retry)

    assert first.requeued == 2
    assert second == RetryAccepted(import_id=import_id, status="running", requeued=0)
    eventually(requeued_once(stack, import_id, jobs_before, failed))
    result = await wait_for_import(api, import_id)
    assert result["status"] == "completed"
    assert result["counts"] == finished_import["counts"]


async def test_retrying_a_running_import_keeps_it_running_and_queues_its_failed_files(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    with stack.db() as db:
        import_id = insert_import(
            db, status="running", started_at="2026-01-01T00:00:00Z", discovered=5, failed=2
        )
        failed = sorted(
            insert_import_file(db, import_id, state="failed", reason="gone", attempts=3)
            for _ in range(2)
        )
        for _ in range(3):
            insert_import_file(db, import_id)

    response = await api.post(f"/imports/{import_id}/retry")

    assert response.status_code == 202
    assert response.json() == {"import_id": import_id, "status": "running", "requeued": 2}

    def queued() -> bool:
        """the worker queued the two failed files as one batch"""
        with stack.db() as db:
            return job_log.transfer_batches(db, import_id) == [
                {"import_id": import_id, "file_ids": failed}
            ]

    eventually(queued)


@pytest.mark.parametrize(
    ("status", "fragment"), [("failed", "could not be listed"), ("queued", "not started")]
)
async def test_an_import_that_failed_as_a_whole_or_has_not_started_cannot_be_retried(
    api: AsyncTestClient[Any], stack: Stack, status: str, fragment: str
) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status=status, error="folder not found", failed=1)
        file_id = insert_import_file(db, import_id, state="failed", reason="gone")

    response = await api.post(f"/imports/{import_id}/retry")

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "conflict"
    assert fragment in body["detail"]
    assert file_states(stack, import_id) == {file_id: "failed"}
    assert transfer_jobs(stack, import_id) == {}


async def test_an_import_cannot_run_again_while_another_import_of_its_folder_is_live(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    folder_id = new_folder_id()
    with stack.db() as db:
        import_id = insert_import(
            db, folder_id=folder_id, status="completed_with_errors", discovered=1, failed=1
        )
        file_id = insert_import_file(db, import_id, state="failed", reason="gone")
        insert_import(db, folder_id=folder_id, status="running")

    response = await api.post(f"/imports/{import_id}/retry")

    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert "another import of the same folder" in response.json()["detail"]
    view = (await api.get(f"/imports/{import_id}")).json()
    assert (view["status"], view["counts"]["failed"]) == ("completed_with_errors", 1)
    assert file_states(stack, import_id) == {file_id: "failed"}
    assert transfer_jobs(stack, import_id) == {}


@pytest.mark.parametrize("import_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
async def test_retrying_an_unknown_import_is_404(api: AsyncTestClient[Any], import_id: str) -> None:
    response = await api.post(f"/imports/{import_id}/retry")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
