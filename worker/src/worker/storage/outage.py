"""An outage of a service the worker needs (its object store): noticed once, logged once, and
probed with growing pauses until the service answers again, while the work waits for it."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("worker.outage")
# While the service is down, how long between two checks that it is back.
PROBE_SECONDS = (0.5, 10.0)


class Outage:
    def __init__(
        self,
        event: str,
        context: str,
        answers: Callable[[], Awaitable[bool]],
        *,
        expected: tuple[type[BaseException], ...],
    ) -> None:
        # Logged as `<event>.unavailable <context> reason=...` and `<event>.available <context>`.
        self._event = event
        self._context = context
        # Whether the service answers now; raising one of `expected` means it does not.
        self._answers = answers
        self._expected = expected
        self._available = asyncio.Event()
        self._available.set()
        self._probe: asyncio.Task[None] | None = None

    def begin(self, reason: str) -> None:
        """The service failed: unless an outage is known already, log it and start probing."""
        if self._available.is_set():
            log.warning("%s.unavailable %s reason=%s", self._event, self._context, reason)
            self._available.clear()
            self._probe = asyncio.get_running_loop().create_task(self._wait_for_service())

    async def over(self) -> None:
        """Return at once while the service works; while it is down, when it is back."""
        await self._available.wait()

    def cancel(self) -> None:
        if self._probe is not None:
            self._probe.cancel()

    async def _wait_for_service(self) -> None:
        pause, longest = PROBE_SECONDS
        while True:
            await asyncio.sleep(pause)
            try:
                if await self._answers():
                    break
            except self._expected:
                pass
            pause = min(longest, pause * 2)
        log.warning("%s.available %s", self._event, self._context)
        self._available.set()
