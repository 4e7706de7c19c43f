"""How a page's files become batches."""

from worker.imports.transfers import plan_batches

MB = 1_000_000


def test_batches_close_at_their_file_count() -> None:
    files = [(f"f{i}", 1000) for i in range(250)]
    batches = plan_batches(files, max_files=100, max_bytes=10**9, alone_from_bytes=10**9)
    assert [len(batch) for batch in batches] == [100, 100, 50]
    assert [file_id for batch in batches for file_id in batch] == [f for f, _ in files]


def test_batches_close_before_the_file_that_would_take_them_over_their_bytes() -> None:
    files = [("a", 30 * MB), ("b", 30 * MB), ("c", 30 * MB), ("d", 1 * MB)]
    batches = plan_batches(files, max_files=100, max_bytes=64 * MB, alone_from_bytes=40 * MB)
    assert batches == [["a", "b"], ["c", "d"]]


def test_a_file_at_the_multipart_threshold_goes_alone_and_unknown_sizes_count_by_number() -> None:
    files = [("small", 10), ("big", 16 * MB), ("unknown1", None), ("unknown2", None)]
    batches = plan_batches(files, max_files=2, max_bytes=64 * MB, alone_from_bytes=16 * MB)
    assert batches == [["big"], ["small", "unknown1"], ["unknown2"]]


def test_no_files_no_batches() -> None:
    assert plan_batches([], max_files=10, max_bytes=10, alone_from_bytes=10) == []
