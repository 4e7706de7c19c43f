"""Drive imports a team can trust: every image exactly once and byte-exact, across a tricky
tree, rate limits and cut downloads, re-imports and a worker killed mid-import (three times)."""

import asyncio
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from emulators.google_drive import FaultRule
from tests.conftest import Stack, start_worker, stop_worker
from tests.helpers import all_images, start_import, wait_for_import


def expected_tricky_images(stack: Stack) -> dict[str, Any]:
    fixture = stack.drive.fixture
    found = fixture.expected_images("tricky", follow_shortcuts=True)
    # The shortcut to a folder outside the tree is descended into as well.
    found += fixture.expected_images("outside/folder")
    return {image.id: image for image in found}


async def test_a_tricky_tree_imports_every_image_exactly_once_and_byte_exact(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    expected = expected_tricky_images(stack)
    import_id = await start_import(api, stack.drive.fixture.link("tricky"))
    result = await wait_for_import(api, import_id, timeout=300)

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected)
    assert result["counts"]["failed"] == 0
    images = await all_images(api, import_id=import_id, limit=500)
    assert len(images) == len(expected)
    assert {image["source_file_id"] for image in images} == set(expected)
    objects = stack.objects()
    for image in images:
        source = expected[image["source_file_id"]]
        key = image["storage_path"].split("/", 3)[3]
        assert objects[key] == source.size
        assert image["md5_checksum"] == source.md5
    by_name = {image["name"]: image for image in images}
    for hostile in ["../../x.jpg", "a/b.jpg", "tab\there\nnewline.png", "x" * 996 + ".jpg"]:
        assert by_name[hostile]["storage_path"].startswith(f"s3://{stack.bucket}/content/")
    for source in list(expected.values())[::250]:
        assert stack.read_object(f"content/{source.sha256}") == source.read()

    with stack.db() as db:
        skipped = dict(
            db.execute(
                "SELECT name, reason FROM import_files WHERE import_id = %s AND state = 'skipped'",
                (import_id,),
            ).fetchall()
        )
    assert "Budget" in skipped and "Google-native" in skipped["Budget"]
    assert skipped["clip.mp4"] == "not an image (video/mp4)"
    assert "dangling shortcut" in skipped["gone.jpg"]
    assert "in the bin.jpg" not in skipped  # trashed files are not listed at all
    assert result["counts"]["skipped"] == len(skipped)


async def test_reimporting_a_folder_moves_no_image_bytes(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    first = await wait_for_import(api, await start_import(api, stack.drive.fixture.link("tricky")))
    bytes_before = stack.drive.stats.bytes_served

    again = await wait_for_import(api, await start_import(api, stack.drive.fixture.link("tricky")))

    assert again["status"] == "completed"
    assert again["counts"]["imported"] == 0
    assert (
        again["counts"]["unchanged"] == first["counts"]["imported"] + first["counts"]["unchanged"]
    )
    assert again["bytes_imported"] == 0
    assert stack.drive.stats.bytes_served == bytes_before


async def test_a_resource_key_in_the_link_unlocks_the_folder(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    link = fixture.link("keyed root")
    assert "resourcekey=" in link

    with_key = await wait_for_import(api, await start_import(api, link))
    without_key = await wait_for_import(api, await start_import(api, link.split("?")[0]))

    assert with_key["status"] == "completed"
    assert with_key["counts"]["imported"] == len(fixture.expected_images("keyed root")) == 4
    assert without_key["status"] == "failed"
    assert "not found or is not shared publicly" in without_key["error"]


@pytest.fixture
def faulty_drive(stack: Stack) -> Iterator[None]:
    # Dense enough that many files see a fault, bounded so that none can see one on every
    # one of its MAX_ATTEMPTS tries.
    stack.drive.stats.reset()
    stack.drive.set_faults(
        FaultRule("service_unavailable", routes={"get"}, every=1, limit=1),
        FaultRule("user_rate_limit_exceeded", routes={"list"}, every=1, limit=2),
        FaultRule("too_many_requests", routes={"media"}, every=13, limit=8, retry_after=1),
        FaultRule("backend_error", routes={"media", "get"}, every=11, limit=15),
        FaultRule("cut_body", routes={"media"}, every=7, limit=25, cut_at=0.5),
        seed=3,
    )
    try:
        yield
    finally:
        stack.drive.set_faults()


async def test_rate_limits_5xx_and_cut_downloads_still_end_byte_exact(
    api: AsyncTestClient[Any], stack: Stack, faulty_drive: None
) -> None:
    fixture = stack.drive.fixture
    expected = {image.id: image for image in fixture.expected_images("retried")}
    import_id = await start_import(api, fixture.link("retried"))
    result = await wait_for_import(api, import_id, timeout=300)

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected) == 300
    assert stack.drive.stats.faults_injected == {
        "service_unavailable": 1,
        "user_rate_limit_exceeded": 2,
        "too_many_requests": 8,
        "backend_error": 15,
        "cut_body": 25,
    }
    for image in await all_images(api, import_id=import_id, limit=500):
        source = expected[image["source_file_id"]]
        assert stack.read_object(f"content/{source.sha256}") == source.read()


async def test_a_worker_killed_mid_batch_three_times_leaves_nothing_stuck_or_doubled(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    expected = {image.id: image for image in fixture.expected_images("interrupted")}
    import_id = await start_import(api, fixture.link("interrupted"))
    # Let it get going (listing and batches both under way), then kill the worker outright;
    # three times, the later ones with the earlier ones' batches recovered and running again.
    for imported_before_kill in (100, 600, 1100):
        while (await api.get(f"/imports/{import_id}")).json()["counts"][
            "imported"
        ] < imported_before_kill:
            await asyncio.sleep(0.05)
        os.kill(stack.worker.pid, signal.SIGKILL)
        stack.worker.wait()
        stack.worker = start_worker(stack.env, stack.worker_log)
    result = await wait_for_import(api, import_id, timeout=300)

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected) == 1500
    assert result["bytes_imported"] == sum(image.size for image in expected.values())
    images = await all_images(api, import_id=import_id, limit=500)
    assert sorted(image["source_file_id"] for image in images) == sorted(expected)
    objects = stack.objects(prefix="content/")
    for image in images:
        source = expected[image["source_file_id"]]
        assert (image["md5_checksum"], objects[f"content/{source.sha256}"]) == (
            source.md5,
            source.size,
        )
        assert stack.read_object(f"content/{source.sha256}") == source.read()
    with stack.db() as db:
        pages = db.execute(
            "SELECT pages_listed FROM import_folders WHERE import_id = %s", (import_id,)
        ).fetchone()
        stuck = db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
        ).fetchone()
    # 1,500 files at 10 a page, each page committed once, whatever the kill interrupted.
    assert pages == (150,)
    assert stuck == (0,)


async def test_sigterm_lets_running_transfers_finish_and_the_next_worker_takes_the_rest(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("graceful"))
    while (await api.get(f"/imports/{import_id}")).json()["counts"]["imported"] < 50:
        await asyncio.sleep(0.05)
    stack.worker.send_signal(signal.SIGTERM)
    assert stack.worker.wait(timeout=30) == 0
    with stack.db() as db:
        doing = db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'doing'"
        ).fetchone()
    assert doing == (0,)  # nothing left half-done for the stalled-job sweep

    stack.worker = start_worker(stack.env, stack.worker_log)
    result = await wait_for_import(api, import_id, timeout=300)
    assert result["status"] == "completed"
    assert result["counts"]["imported"] == 400


async def test_transfers_cut_short_at_shutdown_run_again_and_the_import_completes(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    # No grace at all, and a slow pace: every batch running at the SIGTERM is cancelled.
    stop_worker(stack.worker)
    impatient = {**stack.env, "SHUTDOWN_GRACE_SECONDS": "0", "SOURCE_REQUESTS_PER_SECOND": "20"}
    stack.worker = start_worker(impatient, stack.worker_log)
    import_id = await start_import(api, stack.drive.fixture.link("cut short"))
    while (await api.get(f"/imports/{import_id}")).json()["counts"]["imported"] < 10:
        await asyncio.sleep(0.05)
    stack.worker.send_signal(signal.SIGTERM)
    assert stack.worker.wait(timeout=30) == 0
    with stack.db() as db:
        jobs = dict(
            db.execute(
                "SELECT status, count(*) FROM procrastinate_jobs"
                " WHERE task_name = 'import.transfer_batch' AND attempts > 0 GROUP BY status"
            ).fetchall()
        )
    # Cut short is no failure: back in the queue at once, not left `aborted` for good.
    assert "aborted" not in jobs and jobs.get("todo", 0) >= 1, jobs

    stack.worker = start_worker(stack.env, stack.worker_log)
    result = await wait_for_import(api, import_id, timeout=120)
    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == 120
    assert result["counts"]["failed"] == 0
