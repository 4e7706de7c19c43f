"""`make up` keeps its services running as compose's `restart: unless-stopped` does: a service
that dies is started again, with a growing delay while it keeps dying, and says so; PostgreSQL
or S3 dying, or Ctrl-C, stops everything."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from devstack.ports import free_port
from devstack.process import ChildProcess
from devstack.supervisor import (
    RESTART_FIRST_DELAY_SECONDS,
    RESTART_MAX_DELAY_SECONDS,
    restart_delay,
    supervise,
)


def test_the_restart_delay_doubles_up_to_its_maximum() -> None:
    delays = [restart_delay(n) for n in range(1, 12)]
    assert delays[:3] == [RESTART_FIRST_DELAY_SECONDS * f for f in (1, 2, 4)]
    assert delays == sorted(delays)
    assert delays[-1] == RESTART_MAX_DELAY_SECONDS


def test_a_service_that_exits_is_restarted_and_the_log_says_so() -> None:
    lines: list[str] = []
    children: list[ChildProcess] = []
    pids: list[int] = []

    def start(name: str) -> ChildProcess:
        child = ChildProcess(name, [sys.executable, "-c", "raise SystemExit(3)"], lambda _: None)
        child.start()
        children.append(child)
        pids.append(child.pid)
        return child

    def stack_stops_after_two_restarts() -> int | None:
        return 0 if len(pids) >= 3 else None

    first = start("worker")
    code = supervise(
        [first], children, start, [("postgres", stack_stops_after_two_restarts)], lines.append
    )

    assert code == 1
    assert len(set(pids)) == 3
    assert lines[0].startswith("worker exited (exit code 3) after ")
    assert lines[0].endswith(f"restarting it in {RESTART_FIRST_DELAY_SECONDS:g}s")
    assert lines[1] == f"worker restarted (pid {pids[1]})"
    assert lines[2].endswith(f"restarting it in {restart_delay(2):g}s")
    assert lines[-1] == "postgres exited unexpectedly (exit code 0); stopping everything"
    for child in children:
        child.stop()


def wait_until(check: Callable[[], object], what: str, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.2)
    return value


def children_of(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = command
    return found


def worker_of(devstack: int) -> int | None:
    workers = [p for p, cmd in children_of(devstack).items() if "image-import-worker" in cmd]
    return workers[0] if workers else None


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.stack  # starts its own servers
def test_make_up_brings_a_killed_worker_back_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    api_port = free_port()
    env = {
        **os.environ,
        "API_PORT": str(api_port),
        "WEB_PORT": str(free_port()),
        "POSTGRES_PORT": str(free_port()),
        "S3_PORT": str(free_port()),
        "DATA_DIR": str(tmp_path / "data"),
        "NO_COLOR": "1",
    }
    log = tmp_path / "devstack.log"
    with log.open("w") as out:
        devstack = subprocess.Popen(
            [sys.executable, "-m", "devstack", "up"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "Ctrl-C stops everything" in log.read_text(), "the services", 180)
        wait_until(lambda: answers(f"http://127.0.0.1:{api_port}/healthz"), "the api", 60)
        first = wait_until(lambda: worker_of(devstack.pid), "the worker", 30)
        assert isinstance(first, int)
        services = children_of(devstack.pid)

        os.kill(first, signal.SIGKILL)
        wait_until(lambda: "worker restarted (pid" in log.read_text(), "the restart", 30)
        second = wait_until(lambda: worker_of(devstack.pid), "the new worker", 30)
        assert second != first
        text = log.read_text()
        assert "worker exited (killed by SIGKILL)" in text
        assert f"worker restarted (pid {second})" in text
        # The rest of the stack never noticed.
        assert devstack.poll() is None
        assert answers(f"http://127.0.0.1:{api_port}/healthz")

        devstack.send_signal(signal.SIGINT)
        assert devstack.wait(timeout=60) == 0
        assert "stopped" in log.read_text().splitlines()[-1]
        still_running = [p for p in [*services, second] if p != first and alive(p)]
        assert still_running == [], still_running
    finally:
        if devstack.poll() is None:
            devstack.kill()
            devstack.wait()
