"""How much one worker process moves at once, over every batch it runs: a number of files and a
budget of bytes held in memory. Batches share it, so running more batch jobs at once never
means more downloads or more memory."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class InFlightLimit:
    def __init__(self, *, files: int, buffer_bytes: int) -> None:
        self._files = asyncio.Semaphore(files)
        self._budget = buffer_bytes
        self._free = buffer_bytes
        self._freed = asyncio.Condition()
        # Files moving or waiting for their turn, and when the last of them finished: what
        # derivatives give way to.
        self._wanted = 0
        self._idle_since = 0.0

    @asynccontextmanager
    async def slot(self, holds_bytes: int) -> AsyncIterator[None]:
        """A turn to move one file that will hold up to `holds_bytes` in memory. A file larger
        than the whole budget waits until it has the budget to itself."""
        holds = min(holds_bytes, self._budget)
        self._wanted += 1
        try:
            async with self._files:
                async with self._freed:
                    await self._freed.wait_for(lambda: self._free >= holds)
                    self._free -= holds
                try:
                    yield
                finally:
                    async with self._freed:
                        self._free += holds
                        self._freed.notify_all()
        finally:
            async with self._freed:
                self._wanted -= 1
                if self._wanted == 0:
                    self._idle_since = asyncio.get_running_loop().time()
                self._freed.notify_all()

    async def wait_until_idle(self, quiet_seconds: float) -> None:
        """Return once no file has moved or waited to move for `quiet_seconds`: the work that
        yields to transfers (derivatives) goes on between batches, never during one."""
        loop = asyncio.get_running_loop()
        while True:
            async with self._freed:
                await self._freed.wait_for(lambda: self._wanted == 0)
            quiet_for = loop.time() - self._idle_since
            if quiet_for >= quiet_seconds:
                return
            await asyncio.sleep(quiet_seconds - quiet_for)
