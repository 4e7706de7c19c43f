"""Derivatives made by the real worker from real S3 objects: thumbnails and facts of every
format, the refusals, the backfill, and derivatives off the import's path (queued by the
transfers, not waited for, not remade for an unchanged file, cancelled with their import)."""

import io
import time
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from tests.conftest import Stack
from tests.helpers import start_import, wait_for_import
from tests.image_files import (
    CAMERA,
    FORMATS,
    TAKEN_AT,
    ImageFile,
    animated_file,
    image_file,
    png_bomb,
    truncated_jpeg,
)
from tests.job_log import install_job_log
from tests.seeded_images import run_backfill, seed_images, wait_for_derivatives

WORKER_ENV = {"DERIVATIVE_BATCH_IMAGES": "4"}


@pytest.fixture(scope="module", autouse=True)
def log_jobs(stack: Stack) -> None:
    with stack.db() as db:
        install_job_log(db)


def image_rows(stack: Stack, image_ids: list[str]) -> dict[str, dict[str, Any]]:
    with stack.db() as db:
        cur = db.execute(
            """
            SELECT name, derivative_state, derivative_reason, width, height, taken_at,
                   camera_make, camera_model, animated, thumbnail_key
            FROM images WHERE id = ANY(%s::uuid[])
            """,
            (image_ids,),
        )
        columns = [c.name for c in cur.description or []]
        return {row[0]: dict(zip(columns, row, strict=True)) for row in cur.fetchall()}


def derivative_jobs(stack: Stack, **match: str) -> list[dict[str, Any]]:
    with stack.db() as db:
        rows = db.execute(
            "SELECT args FROM test_job_log WHERE task_name = 'image.make_derivatives'"
            " ORDER BY job_id"
        ).fetchall()
    return [args for (args,) in rows if all(args.get(k) == v for k, v in match.items())]


def test_the_backfill_makes_thumbnails_and_facts_of_every_format(stack: Stack) -> None:
    files = [
        image_file(kind, 1200, 900, orientation=6, name=f"turned.{extension}")
        for kind, (_, _, extension) in FORMATS.items()
    ]
    files += [animated_file("gif"), animated_file("webp")]
    _, ids = seed_images(stack, files)

    assert run_backfill(stack) == len(files)
    wait_for_derivatives(stack, list(ids.values()))

    rows = image_rows(stack, list(ids.values()))
    assert {row["derivative_state"] for row in rows.values()} == {"done"}
    for kind, (_, _, extension) in FORMATS.items():
        row = rows[f"turned.{extension}"]
        if kind in {"gif", "bmp"}:  # no EXIF: stored upright, as they are
            assert (row["width"], row["height"]) == (1200, 900), kind
            assert row["taken_at"] is None
        else:
            assert (row["width"], row["height"]) == (900, 1200), kind
            assert row["taken_at"] == TAKEN_AT
            assert (row["camera_make"], row["camera_model"]) == CAMERA
        assert row["animated"] is False
        thumbnail = Image.open(io.BytesIO(stack.read_object(row["thumbnail_key"])))
        assert thumbnail.format == "WEBP"
        # Upright, 320 px on its longest side.
        assert thumbnail.size == (row["width"] * 320 // 1200, row["height"] * 320 // 1200)
    assert rows["animated.gif"]["animated"] is True
    assert rows["animated.webp"]["animated"] is True
    head = stack.s3.client().head_object(
        Bucket=stack.bucket, Key=rows["turned.heic"]["thumbnail_key"]
    )
    assert head["ContentType"] == "image/webp"
    assert head["ContentLength"] < 30_000


def test_a_bomb_and_a_broken_file_stay_imported_with_the_reason(stack: Stack) -> None:
    _, ids = seed_images(stack, [png_bomb(), truncated_jpeg(), image_file("jpeg", name="ok.jpg")])

    run_backfill(stack)
    wait_for_derivatives(stack, list(ids.values()))

    rows = image_rows(stack, list(ids.values()))
    assert rows["bomb.png"]["derivative_state"] == "not_possible"
    assert "over the limit of 50,000,000" in rows["bomb.png"]["derivative_reason"]
    assert "DERIVATIVE_MAX_PIXELS" in rows["bomb.png"]["derivative_reason"]
    assert rows["cut.jpg"]["derivative_state"] == "not_possible"
    assert "does not decode" in rows["cut.jpg"]["derivative_reason"]
    assert rows["bomb.png"]["thumbnail_key"] is None
    assert rows["ok.jpg"]["derivative_state"] == "done"
    # The originals are where they were.
    with stack.db() as db:
        keys = [
            key
            for (key,) in db.execute(
                "SELECT storage_key FROM images WHERE id = ANY(%s::uuid[])", (list(ids.values()),)
            )
        ]
    assert all(key in stack.objects("google_drive/") for key in keys)


def test_the_backfill_is_bounded_and_goes_on_where_it_stopped(stack: Stack) -> None:
    _, ids = seed_images(stack, [image_file("png", 64, 48, name=f"b{i}.png") for i in range(7)])

    assert run_backfill(stack, "--max-images", "3", "--chunk", "2") == 3
    assert run_backfill(stack, "--max-images", "100") == 4
    assert run_backfill(stack) == 0  # every image has its job (or is done)
    wait_for_derivatives(stack, list(ids.values()))
    queued = [i for args in derivative_jobs(stack, import_id=None) for i in args["image_ids"]]
    assert sorted(set(ids.values()) & set(queued)) == sorted(ids.values())
    assert all(len(args["image_ids"]) <= 32 for args in derivative_jobs(stack))


def test_cancelling_an_import_cancels_its_derivatives_and_the_backfill_takes_them_over(
    stack: Stack,
) -> None:
    import_id, ids = seed_images(
        stack,
        [image_file("jpeg", 64, 48, name=f"c{i}.jpg") for i in range(3)],
        import_status="running",
    )
    with stack.db() as db:
        db.execute(
            "UPDATE images SET derivative_state = 'pending' WHERE import_id = %s", (import_id,)
        )
        # Queued as the transfers queue them, but for later: still waiting when cancelled.
        db.execute(
            """
            SELECT procrastinate_defer_jobs_v1(ARRAY[
                ROW('derivatives', 'image.make_derivatives', -10, NULL, NULL,
                    jsonb_build_object('import_id', %s::text, 'image_ids', to_jsonb(%s::text[])),
                    now() + interval '1 hour')::procrastinate_job_to_defer_v1])
            """,
            (import_id, list(ids.values())),
        )
        (cancelled,) = db.execute("SELECT cancel_import(%s)", (import_id,)).fetchone()
    assert cancelled == 1

    assert run_backfill(stack) == 3
    wait_for_derivatives(stack, list(ids.values()))
    assert {r["derivative_state"] for r in image_rows(stack, list(ids.values())).values()} == {
        "done"
    }


async def test_an_import_queues_derivatives_in_batches_without_waiting_for_them(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    fixture = stack.drive.fixture
    import_id = await start_import(api, fixture.link("mixed"))
    result = await wait_for_import(api, import_id)
    assert result["status"] == "completed"

    with stack.db() as db:
        image_ids = [
            i
            for (i,) in db.execute("SELECT id::text FROM images WHERE import_id = %s", (import_id,))
        ]
    assert len(image_ids) == 8
    jobs = derivative_jobs(stack, import_id=import_id)
    assert sorted(i for args in jobs for i in args["image_ids"]) == sorted(image_ids)
    assert all(len(args["image_ids"]) <= 4 for args in jobs)
    wait_for_derivatives(stack, image_ids)
    # The emulator's files only start like images: each stays imported, with the reason.
    rows = image_rows(stack, image_ids)
    assert {row["derivative_state"] for row in rows.values()} == {"not_possible"}
    assert all(row["derivative_reason"] for row in rows.values())

    again = await start_import(api, fixture.link("mixed"))
    result = await wait_for_import(api, again)
    assert result["counts"]["unchanged"] == 8
    assert derivative_jobs(stack, import_id=again) == []
    assert image_rows(stack, image_ids) == rows


def test_a_running_derivative_job_stops_once_its_import_is_cancelled(stack: Stack) -> None:
    slow = image_file("png", 2400, 1800)  # decoded whole: some tens of ms each
    files = [ImageFile(f"slow{i}.png", slow.mime_type, slow.data) for i in range(24)]
    import_id, ids = seed_images(stack, files, import_status="running")
    image_ids = sorted(ids.values())
    with stack.db() as db:
        db.execute(
            "UPDATE images SET derivative_state = 'pending' WHERE import_id = %s", (import_id,)
        )
        db.execute(
            """
            SELECT procrastinate_defer_jobs_v1(ARRAY[
                ROW('derivatives', 'image.make_derivatives', -10, NULL, NULL,
                    jsonb_build_object('import_id', %s::text, 'image_ids', to_jsonb(%s::text[])),
                    NULL)::procrastinate_job_to_defer_v1])
            """,
            (import_id, image_ids),
        )
        # Outcomes are recorded 8 at a time: cancel as soon as the first group is.
        deadline = time.monotonic() + 60
        while not _done(db, import_id):
            assert time.monotonic() < deadline, "no derivative was recorded"
            time.sleep(0.02)
        db.execute("SELECT cancel_import(%s)", (import_id,))
        # The job ends at its next group: it neither goes on nor fails.
        deadline = time.monotonic() + 60
        while db.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'image.make_derivatives'"
            " AND args->>'import_id' = %s",
            (import_id,),
        ).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the job did not end"
            time.sleep(0.1)
        done = _done(db, import_id)

    assert 8 <= done <= 16 < len(files)
    states = {row["derivative_state"] for row in image_rows(stack, image_ids).values()}
    assert states == {"done", "pending"}  # the rest is left for the backfill


def _done(db: Any, import_id: str) -> int:
    row = db.execute(
        "SELECT count(*) FROM images WHERE import_id = %s AND derivative_state = 'done'",
        (import_id,),
    ).fetchone()
    return int(row[0])
