"""WORKER_PROCESSES: one `image-import-worker` runs that many worker processes, serves their
metrics as one, stops them all on SIGTERM, and exits non-zero when one of them dies unasked."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from devstack.ports import free_port
from tests.conftest import Stack
from worker.processes import cpus_available, process_count


def write_cpu_max(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpu.max"
    path.write_text(text)
    return path


def test_auto_is_the_cpus_a_cgroup_limit_allows(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    assert cpus_available(write_cpu_max(tmp_path, "max 100000\n")) == affinity
    assert cpus_available(write_cpu_max(tmp_path, "100000 100000\n")) == 1
    # 1.5 CPUs keep two processes busy part of the time: rounded up, within the affinity.
    assert cpus_available(write_cpu_max(tmp_path, "150000 100000\n")) == min(2, affinity)
    assert cpus_available(tmp_path / "no-cgroup-v2") == affinity


def test_a_number_of_processes_is_taken_as_it_is() -> None:
    assert process_count(3) == 3
    assert process_count("auto") == cpus_available()


def start_workers(stack: Stack, tmp_path: Path, metrics_port: int) -> subprocess.Popen[bytes]:
    log = tmp_path / "workers.log"
    env = {**stack.env, "WORKER_PROCESSES": "2", "METRICS_PORT": str(metrics_port)}
    process = subprocess.Popen(
        [sys.executable, "-m", "worker"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 90
    while log.read_text(errors="replace").count("worker.starting") < 2:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"the workers did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def metrics_text(port: int) -> str:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


def children(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return psutil.Process(process.pid).children()


@pytest.mark.stack
def test_two_processes_serve_one_metrics_port_and_all_stop_on_sigterm(
    stack: Stack, tmp_path: Path
) -> None:
    port = free_port()
    supervisor = start_workers(stack, tmp_path, port)
    workers = children(supervisor)
    assert len(workers) == 2
    # The processes' metrics, summed on the supervisor's one port (a metric shows once a
    # process recorded it: the periodic jobs run every few seconds).
    deadline = time.monotonic() + 30
    while "image_import_jobs_total{" not in (text := metrics_text(port)):
        assert time.monotonic() < deadline, text
        time.sleep(0.5)

    supervisor.send_signal(signal.SIGTERM)

    assert supervisor.wait(timeout=30) == 0
    assert not any(worker.is_running() for worker in workers)


@pytest.mark.stack
def test_a_process_killed_stops_the_others_and_the_worker_exits_non_zero(
    stack: Stack, tmp_path: Path
) -> None:
    supervisor = start_workers(stack, tmp_path, 0)
    killed, other = children(supervisor)

    killed.kill()

    assert supervisor.wait(timeout=30) == 1
    assert not other.is_running()
    log = (tmp_path / "workers.log").read_text()
    assert f"worker.process_exited pid={killed.pid} exit=-9" in log
    assert "worker.process_killed" not in log  # the other stopped gracefully


@pytest.mark.stack
def test_the_processes_die_with_a_killed_supervisor(stack: Stack, tmp_path: Path) -> None:
    supervisor = start_workers(stack, tmp_path, 0)
    workers = children(supervisor)

    supervisor.kill()
    supervisor.wait()

    _gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
