"""Transfers in batches: a page's images go out as bounded batches, a large file alone; a file
that fails for a while is retried on its own, and the rest of its batch moves exactly once."""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from emulators.google_drive import FaultRule
from tests.conftest import Stack
from tests.helpers import all_images, start_import, wait_for_import
from tests.job_log import install_job_log, transfer_batches

BATCH_FILES = 40
MULTIPART_THRESHOLD = 5 * 1024 * 1024
WORKER_ENV = {
    "TRANSFER_BATCH_FILES": str(BATCH_FILES),
    "S3_MULTIPART_THRESHOLD_BYTES": str(MULTIPART_THRESHOLD),
    "S3_PART_SIZE_BYTES": str(MULTIPART_THRESHOLD),
}


@pytest.fixture(scope="module", autouse=True)
def log_jobs(stack: Stack) -> None:
    with stack.db() as db:
        install_job_log(db)


@pytest.fixture
def three_flaky_files(stack: Stack) -> Iterator[list[str]]:
    """Three files of the folder whose downloads fail twice each (a 500, then a cut body)."""
    fixture = stack.drive.fixture
    flaky = [fixture.id_of(f"batched/b_{i:03d}.jpg") for i in (5, 77, 201)]
    stack.drive.stats.reset()
    # One pair of rules per file: however the files' tries interleave, each meets both faults.
    stack.drive.set_faults(
        *(
            FaultRule(fault, routes={"media"}, every=1, limit=1, file_ids=frozenset({file_id}))
            for file_id in flaky
            for fault in ("backend_error", "cut_body")
        )
    )
    try:
        yield flaky
    finally:
        stack.drive.set_faults()


async def test_a_flaky_file_is_retried_alone_and_the_rest_of_its_batch_moves_once(
    api: AsyncTestClient[Any], stack: Stack, three_flaky_files: list[str]
) -> None:
    fixture = stack.drive.fixture
    expected = {image.id: image for image in fixture.expected_images("batched")}
    import_id = await start_import(api, fixture.link("batched"))
    result = await wait_for_import(api, import_id, timeout=180)

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected) == 251
    downloads = stack.drive.stats.media_requests_by_file
    assert {file_id: downloads[file_id] for file_id in three_flaky_files} == dict.fromkeys(
        three_flaky_files, 3
    )
    assert {downloads[file_id] for file_id in expected if file_id not in three_flaky_files} == {1}
    with stack.db() as db:
        batches = [args["file_ids"] for args in transfer_batches(db, import_id)]
        attempts = dict(
            db.execute(
                "SELECT source_file_id, attempts FROM import_files WHERE import_id = %s",
                (import_id,),
            ).fetchall()
        )
    # The listing's batches hold every file once, at most BATCH_FILES each, the large one
    # alone; the retries hold only the flaky files.
    large = fixture.id_of("batched/large.png")
    first_round = [batch for batch in batches if not set(batch) <= set(three_flaky_files)]
    retries = [batch for batch in batches if set(batch) <= set(three_flaky_files)]
    assert sorted(file_id for batch in first_round for file_id in batch) == sorted(expected)
    assert max(len(batch) for batch in first_round) == BATCH_FILES
    assert [large] in first_round
    assert sum(len(batch) for batch in retries) == 6  # each flaky file retried twice
    assert {attempts[file_id] for file_id in three_flaky_files} == {3}
    assert {attempts[file_id] for file_id in expected if file_id not in three_flaky_files} == {1}
    for image in await all_images(api, import_id=import_id, limit=500):
        assert image["md5_checksum"] == expected[image["source_file_id"]].md5
    assert stack.read_object(f"content/{expected[large].sha256}") == expected[large].read()
    for file_id in three_flaky_files:
        assert stack.read_object(f"content/{expected[file_id].sha256}") == expected[file_id].read()


async def test_a_file_that_keeps_failing_fails_alone_with_its_reason(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    doomed = fixture.id_of("batched/b_100.jpg")
    stack.drive.set_faults(
        FaultRule("backend_error", routes={"media"}, every=1, file_ids=frozenset({doomed}))
    )
    # Should the folder have been imported before, the doomed file is made to look changed,
    # and its bytes unknown to the catalogue, so that this import downloads it again.
    with stack.db() as db:
        db.execute(
            """UPDATE images
               SET checksums = checksums || '{"md5": "stale", "sha256": "stale"}',
                   content_id = NULL
               WHERE source_file_id = %s""",
            (doomed,),
        )
        db.execute(
            "DELETE FROM contents c"
            " WHERE NOT EXISTS (SELECT 1 FROM images im WHERE im.content_id = c.sha256)"
        )
    try:
        import_id = await start_import(api, fixture.link("batched"))
        result = await wait_for_import(api, import_id, timeout=180)
    finally:
        stack.drive.set_faults()

    assert result["status"] == "completed_with_errors", result
    counts = result["counts"]
    assert (counts["failed"], counts["imported"] + counts["unchanged"]) == (1, 250)
    failures = (await api.get(f"/imports/{import_id}/failures")).json()["items"]
    assert [f["file_id"] for f in failures] == [doomed]
    assert "500" in failures[0]["reason"] or "backend" in failures[0]["reason"].lower()
