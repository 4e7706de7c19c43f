"""How many files one worker process keeps moving at once, found from the time they take.

Files in flight should be about rate x latency (Little's law): 16 files that each wait 150 ms
for a source far away move ~100 files/s however idle the machine is, while on loopback 16 is
plenty. No fixed number fits both, so the limit follows the measured time per file, as a
gradient limit does (Netflix's concurrency-limits, Gradient2): it grows by about its square
root each window while files take no longer than usual, and shrinks in proportion when they
take longer — the sign that something (our CPU, the source's pace, its quota, the network) is
already saturated and more files in flight would only wait in line.

Files differ in size, so "usual" is kept per size class (a power of four of bytes): a 20 MB file
is compared with 20 MB files, not with thumbnails. The memory budget and MAX_FILES bound it
from above (in_flight.py); rate-limit answers slow the shared pace instead (pacing.py), which
this limit then follows through the longer waits.
"""

import math
import time
from collections import deque
from collections.abc import Callable

# Where a process starts, and the fewest files it keeps moving however slow they are.
INITIAL_FILES_IN_FLIGHT = 16
MINIMUM_FILES_IN_FLIGHT = 4
# A window closes after this many files and at least this long: enough files that one slow
# file does not move the limit, short enough that the limit follows a change within seconds.
WINDOW_MIN_FILES = 8
WINDOW_MIN_SECONDS = 0.1
# Files may take this much longer than their size class's quickest before the limit shrinks.
TOLERANCE = 1.5
# A size class's quickest time is the lowest window average of this many last seconds: a
# source that became slower for good is learnt within them, while the limit's own swings (it
# shrinks whenever files wait in line) keep showing the time without a line.
BASELINE_SECONDS = 30.0
# While files wait in line their times say nothing of the time without one, so every
# PROBE_EVERY_SECONDS the limit drops to a quarter for PROBE_SECONDS (as BBR's ProbeRTT does):
# the line drains and the quickest time is seen again, at a cost of ~1 % of the throughput.
PROBE_EVERY_SECONDS = 10.0
PROBE_SECONDS = 0.3
# The new limit's share of the next one (the rest is the old one): damping.
SMOOTHING = 0.5


class LatencyLimit:
    def __init__(
        self,
        *,
        initial: int,
        minimum: int,
        maximum: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.minimum = max(1, minimum)
        self.maximum = max(self.minimum, maximum)
        self._limit = float(min(max(initial, self.minimum), self.maximum))
        self._clock = clock
        # Each size class's window averages (moment, seconds) that may still be its lowest.
        self._averages: dict[int, deque[tuple[float, float]]] = {}
        self._window: dict[int, list[float]] = {}
        self._files = 0
        self._ratios = 0.0
        self._compared = 0
        self._busiest = 0
        self._window_started = clock()
        self._probe_at = self._window_started + PROBE_EVERY_SECONDS
        self._probe_until = 0.0

    @property
    def current(self) -> int:
        if self._clock() < self._probe_until:
            return max(self.minimum, int(self._limit / 4))
        return int(self._limit)

    def observe(self, seconds: float, size: int, in_flight: int) -> None:
        """A file of `size` bytes moved in `seconds` (from its turn to its last byte stored),
        with `in_flight` files moving when it ended."""
        if seconds <= 0:
            return
        size_class = max(size, 1).bit_length() // 2
        totals = self._window.setdefault(size_class, [0.0, 0])
        totals[0] += seconds
        totals[1] += 1
        self._files += 1
        averages = self._averages.get(size_class)
        if averages:
            self._ratios += seconds / averages[0][1]
            self._compared += 1
        self._busiest = max(self._busiest, in_flight)
        now = self._clock()
        if self._files >= WINDOW_MIN_FILES and now - self._window_started >= WINDOW_MIN_SECONDS:
            self._close_window(now)

    def _close_window(self, now: float) -> None:
        if now >= self._probe_at:
            self._probe_until = now + PROBE_SECONDS
            self._probe_at = now + PROBE_EVERY_SECONDS
        elif self._compared and now >= self._probe_until:
            slower_by = self._ratios / self._compared
            gradient = min(1.0, max(0.5, TOLERANCE / slower_by))
            # A limit that was not used up says nothing about a larger one: it only shrinks.
            room = math.sqrt(self._limit) if self._busiest >= self._limit / 2 else 0.0
            proposed = self._limit * gradient + room
            limit = (1 - SMOOTHING) * self._limit + SMOOTHING * proposed
            self._limit = min(max(limit, self.minimum), self.maximum)
        for size_class, (total, count) in self._window.items():
            self._remember(size_class, now, total / count)
        self._window.clear()
        self._files = self._compared = self._busiest = 0
        self._ratios = 0.0
        self._window_started = now

    def _remember(self, size_class: int, now: float, average: float) -> None:
        """Keep the window averages that may be the lowest of the last BASELINE_SECONDS, the
        lowest first (a monotonic queue: a later, lower average retires the higher ones)."""
        averages = self._averages.setdefault(size_class, deque())
        while averages and averages[-1][1] >= average:
            averages.pop()
        averages.append((now, average))
        while averages[0][0] < now - BASELINE_SECONDS:
            averages.popleft()
