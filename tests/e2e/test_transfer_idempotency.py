"""A transfer job that runs again — retried after a crash, or queued twice — changes nothing."""

import asyncio
import time
from typing import Any

import procrastinate
from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.helpers import jobs_succeeded, start_import, wait_for_import


async def wait_until_jobs_done(stack: Stack, job_ids: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with stack.db() as db:
        while not jobs_succeeded(db, job_ids):
            assert time.monotonic() < deadline, "jobs still running"
            await asyncio.sleep(0.1)


async def defer_transfer(stack: Stack, import_id: str, file_id: str) -> int:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=stack.database_url))
    async with app.open_async():
        deferrer: Any = app.configure_task("import.transfer_batch", queue="transfers")
        job_id: int = await deferrer.defer_async(import_id=import_id, file_ids=[file_id])
    return job_id


async def test_rerunning_a_transfer_job_leaves_one_row_and_one_object(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("reruns"), recursive=False)
    before = await wait_for_import(api, import_id)
    source = fixture.expected_images("reruns", recursive=False)[0]

    # The state a worker leaves when it dies after uploading but before recording: the object
    # is in the bucket, the file is still pending, no row, and the import not yet complete.
    with stack.db() as db:
        db.execute(
            "DELETE FROM images WHERE source = 'google_drive' AND source_file_id = %s",
            (source.id,),
        )
        db.execute(
            "UPDATE import_files SET state = 'pending' WHERE import_id = %s"
            " AND source_file_id = %s",
            (import_id, source.id),
        )
        db.execute(
            "UPDATE imports SET imported = imported - 1, bytes_imported = bytes_imported - %s,"
            " status = 'running', finished_at = NULL WHERE id = %s",
            (source.size, import_id),
        )

    # The retried job, and a duplicate of it queued at the same time.
    job_ids = [await defer_transfer(stack, import_id, source.id) for _ in range(3)]
    await wait_until_jobs_done(stack, job_ids)

    after = await wait_for_import(api, import_id)
    assert after["status"] == "completed"
    assert after["counts"] == before["counts"]
    assert after["bytes_imported"] == before["bytes_imported"]
    with stack.db() as db:
        rows = db.execute(
            "SELECT count(*) FROM images WHERE source = 'google_drive' AND source_file_id = %s",
            (source.id,),
        ).fetchone()
    assert rows == (1,)
    key = f"content/{source.sha256}"
    assert stack.objects(prefix=key) == {key: source.size}
    assert stack.read_object(key) == source.read()


async def test_running_a_finished_transfer_job_again_changes_nothing(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("reruns"), recursive=False)
    before = await wait_for_import(api, import_id)
    source = fixture.expected_images("reruns", recursive=False)[1]
    with stack.db() as db:
        updated_before = db.execute(
            "SELECT updated_at FROM images WHERE source_file_id = %s", (source.id,)
        ).fetchone()

    await wait_until_jobs_done(stack, [await defer_transfer(stack, import_id, source.id)])

    assert (await wait_for_import(api, import_id)) == before
    with stack.db() as db:
        assert (
            db.execute(
                "SELECT updated_at FROM images WHERE source_file_id = %s", (source.id,)
            ).fetchone()
            == updated_before
        )
