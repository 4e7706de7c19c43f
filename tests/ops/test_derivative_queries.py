"""The operators' thumbnail files, run with psql: queueing derivatives for images stored
without them, a bounded number at a time, and each import's thumbnail progress."""

from tests.conftest import Stack
from tests.image_files import image_file, truncated_jpeg
from tests.ops.psql import ops
from tests.seeded_images import seed_images, wait_for_derivatives


def test_queue_derivatives_is_bounded_and_goes_on_and_progress_counts_each_state(
    stack: Stack,
) -> None:
    files = [image_file("webp", 64, 48, name=f"w{i}.webp") for i in range(4)]
    import_id, ids = seed_images(stack, [*files, truncated_jpeg()])

    before = ops(stack.database_url, "thumbnail_progress.sql", import_id=import_id)
    assert before == [
        {"import_id": import_id, "import_status": "completed", "done": "0", "pending": "0",
         "not_possible": "0", "missing": "5"}
    ]  # fmt: skip
    first = ops(stack.database_url, "queue_derivatives.sql", max_images=3)
    rest = ops(stack.database_url, "queue_derivatives.sql")
    assert [first[0]["queued_images"], rest[0]["queued_images"]] == ["3", "2"]
    assert ops(stack.database_url, "queue_derivatives.sql")[0]["queued_images"] == "0"

    wait_for_derivatives(stack, list(ids.values()))
    after = ops(stack.database_url, "thumbnail_progress.sql", import_id=import_id)
    assert (after[0]["done"], after[0]["not_possible"], after[0]["missing"]) == ("4", "1", "0")
