"""Keeps the services of `make up` running, as compose's `restart: unless-stopped` keeps their
containers: a service that exits, whatever its exit code, is started again after a delay that
doubles from RESTART_FIRST_DELAY_SECONDS up to RESTART_MAX_DELAY_SECONDS while it keeps dying
soon after starting (Docker's restart policy, from 100 ms up to a minute), and starts from the
first delay again once a run lasted RESTART_RESET_AFTER_SECONDS. PostgreSQL and S3 are not
restarted: every service needs them, so their exit stops the whole stack.

Only the runner's stop (Ctrl-C, SIGTERM) ends it: it raises out of the loop, and the runner
stops whatever `children` holds then."""

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from devstack.process import ChildProcess, LineSink

RESTART_FIRST_DELAY_SECONDS = 0.1
RESTART_MAX_DELAY_SECONDS = 60.0
RESTART_RESET_AFTER_SECONDS = 10.0
POLL_SECONDS = 0.2

# Starts the named service and adds its process to the runner's `children`.
Starter = Callable[[str], ChildProcess]
# A process the stack cannot run without: its name and its exit code, or None while running.
Essential = tuple[str, Callable[[], int | None]]


@dataclass
class _Service:
    name: str
    child: ChildProcess
    started_at: float
    quick_exits: int = 0
    restart_at: float | None = None


def restart_delay(quick_exits: int) -> float:
    """The wait before a restart, after `quick_exits` runs in a row that ended early."""
    delay: float = RESTART_FIRST_DELAY_SECONDS * 2 ** max(0, quick_exits - 1)
    return min(RESTART_MAX_DELAY_SECONDS, delay)


def supervise(
    services: list[ChildProcess],
    children: list[ChildProcess],
    start: Starter,
    essentials: list[Essential],
    say: LineSink,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Restart each of `services` that exits; return 1 when one of `essentials` exits."""
    now = clock()
    watched = [_Service(child.name, child, now) for child in services]
    while True:
        for name, poll in essentials:
            code = poll()
            if code is not None:
                say(f"{name} exited unexpectedly ({describe_exit(code)}); stopping everything")
                return 1
        now = clock()
        for service in watched:
            if service.restart_at is None:
                _notice_exit(service, children, now, say)
            elif now >= service.restart_at:
                service.child = start(service.name)
                service.started_at, service.restart_at = now, None
                say(f"{service.name} restarted (pid {service.child.pid})")
        time.sleep(POLL_SECONDS)


def _notice_exit(
    service: _Service, children: list[ChildProcess], now: float, say: LineSink
) -> None:
    code = service.child.poll()
    if code is None:
        return
    if service.child in children:
        children.remove(service.child)
    ran = now - service.started_at
    service.quick_exits = 0 if ran >= RESTART_RESET_AFTER_SECONDS else service.quick_exits
    service.quick_exits += 1
    delay = restart_delay(service.quick_exits)
    service.restart_at = now + delay
    say(
        f"{service.name} exited ({describe_exit(code)}) after {ran:.1f}s; "
        f"restarting it in {delay:g}s"
    )


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"
