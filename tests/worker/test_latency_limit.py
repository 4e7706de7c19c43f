"""The files a process keeps moving follow the time they take: more while files take their
usual time (a far source needs many in flight), fewer once they take longer (a saturated
machine, pace or quota only makes them wait in line)."""

from collections.abc import Callable

from worker.latency_limit import LatencyLimit

SIZE = 150_000
STEP_SECONDS = 0.05


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(
    seconds_for: Callable[[int], float],
    *,
    for_seconds: float,
    in_flight: Callable[[int], int] = lambda limit: limit,
    maximum: int = 1000,
    sizes: tuple[int, ...] = (SIZE,),
    limit: LatencyLimit | None = None,
) -> LatencyLimit:
    """Files end 10 at a time every STEP_SECONDS, each taking `seconds_for(files in flight)`."""
    clock = Clock()
    if limit is None:
        limit = LatencyLimit(initial=16, minimum=4, maximum=maximum, clock=clock)
    else:
        clock = limit._clock  # type: ignore[assignment]
    end = clock.now + for_seconds
    while clock.now < end:
        moving = in_flight(limit.current)
        for size in sizes:
            for _ in range(10):
                limit.observe(seconds_for(moving) * size / SIZE, size, moving)
        clock.now += STEP_SECONDS
    return limit


def test_files_that_take_their_usual_time_let_the_limit_grow_to_the_maximum() -> None:
    # A source 150 ms away and nothing saturated: more in flight, more files per second.
    limit = run(lambda _: 0.15, for_seconds=30, maximum=256)
    assert limit.current == 256


def test_files_that_wait_in_line_bring_the_limit_to_near_what_the_machine_needs() -> None:
    # The machine moves 300 files/s however many are in flight, a file 150 ms on its own:
    # 45 in flight fill it; beyond them each file waits in line (in_flight / 300 s).
    limit = run(lambda moving: max(0.15, moving / 300), for_seconds=90)
    assert 45 <= limit.current <= 2.5 * 45


def test_a_source_that_became_slower_for_good_is_learnt() -> None:
    latency = {"seconds": 0.15}

    def seconds(moving: int) -> float:
        return max(latency["seconds"], moving / 300)

    limit = run(seconds, for_seconds=60)
    near_source = limit.current
    latency["seconds"] = 0.6
    # Four times the latency needs about four times the files in flight for the same rate.
    run(seconds, for_seconds=120, limit=limit)
    assert limit.current >= 2.5 * near_source


def test_an_unused_limit_does_not_grow() -> None:
    limit = run(lambda _: 0.15, for_seconds=30, in_flight=lambda _: 2)
    assert limit.current == 16


def test_large_files_are_compared_with_large_files_not_with_small_ones() -> None:
    limit = run(lambda _: 0.15, for_seconds=30, sizes=(SIZE, 200 * SIZE), maximum=256)
    assert limit.current == 256
