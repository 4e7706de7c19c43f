"""What one worker process moves at once, over every batch it runs: a number of files (that
follows the time files take, latency_limit.py) and a budget of bytes held in memory. Batches
share it, so running more batch jobs at once never means more downloads or more memory.

Files waiting for a turn wait in one line per import, and turns go round the imports in
order: a 20-file import started during a 100,000-file one gets every other turn, instead of
waiting behind the thousands of files the big one has lined up in this process.
"""

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from worker import metrics
from worker.latency_limit import LatencyLimit


@dataclass
class _Waiter:
    holds: int
    turn: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Turn:
    """A file's turn to move; `moved(size)` tells the limit how long a file took."""

    def __init__(self, limit: "InFlightLimit") -> None:
        self._limit = limit
        self._started = asyncio.get_running_loop().time()

    def moved(self, size: int) -> None:
        seconds = asyncio.get_running_loop().time() - self._started
        self._limit.files.observe(seconds, size, self._limit.moving)
        metrics.FILES_IN_FLIGHT_LIMIT.set(self._limit.files.current)


class InFlightLimit:
    def __init__(self, *, files: LatencyLimit, buffer_bytes: int) -> None:
        self.files = files
        self._budget = buffer_bytes
        self._free = buffer_bytes
        self.moving = 0
        # Each import's files waiting for a turn; the dict's order is the order of turns.
        self._lines: dict[str, deque[_Waiter]] = {}
        # Files moving or waiting for their turn, and when the last of them finished: what
        # derivatives give way to.
        self._wanted = 0
        self._idle_since = 0.0
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def slot(self, holds_bytes: int, *, line: str) -> AsyncIterator[Turn]:
        """A turn to move one file of `line` (its import) that will hold up to `holds_bytes`
        in memory. A file larger than the whole budget waits until it has the budget to
        itself."""
        waiter = _Waiter(min(holds_bytes, self._budget))
        self._wanted += 1
        self._idle.clear()
        self._lines.setdefault(line, deque()).append(waiter)
        try:
            self._hand_out_turns()
            try:
                await waiter.turn
            except asyncio.CancelledError:
                if waiter.turn.done() and not waiter.turn.cancelled():
                    self._give_back(waiter.holds)
                else:
                    self._leave_line(line, waiter)
                raise
            try:
                yield Turn(self)
            finally:
                self._give_back(waiter.holds)
        finally:
            self._wanted -= 1
            if self._wanted == 0:
                self._idle_since = asyncio.get_running_loop().time()
                self._idle.set()

    def _hand_out_turns(self) -> None:
        # Strictly in turn: a large file at the head of the next line waits for the bytes
        # rather than being overtaken for ever by small ones.
        while self._lines and self.moving < self.files.current:
            line, waiters = next(iter(self._lines.items()))
            first = waiters[0]
            if first.turn.done():
                # Cancelled while waiting; its task has not left the line yet.
                waiters.popleft()
                if not waiters:
                    del self._lines[line]
                continue
            if first.holds > self._free:
                return
            waiters.popleft()
            del self._lines[line]
            if waiters:
                self._lines[line] = waiters  # to the back: the next line has the next turn
            self.moving += 1
            self._free -= first.holds
            first.turn.set_result(None)

    def _give_back(self, holds: int) -> None:
        self.moving -= 1
        self._free += holds
        self._hand_out_turns()

    def _leave_line(self, line: str, waiter: _Waiter) -> None:
        waiters = self._lines.get(line)
        if waiters is None or waiter not in waiters:
            return
        waiters.remove(waiter)
        if not waiters:
            del self._lines[line]
        self._hand_out_turns()

    async def wait_until_idle(self, quiet_seconds: float) -> None:
        """Return once no file has moved or waited to move for `quiet_seconds`: the work that
        yields to transfers (derivatives) goes on between batches, never during one."""
        loop = asyncio.get_running_loop()
        while True:
            await self._idle.wait()
            quiet_for = loop.time() - self._idle_since
            if quiet_for >= quiet_seconds:
                return
            await asyncio.sleep(quiet_seconds - quiet_for)
