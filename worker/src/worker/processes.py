"""One worker process per CPU: `image-import-worker` with WORKER_PROCESSES above one becomes a
small supervisor of that many worker processes.

A worker process is one event loop, and on loopback the transfer is CPU-bound in it (issue
23): one process uses one core whatever WORKER_CONCURRENCY says. Each process is a fresh
interpreter (`python -m worker` with WORKER_PROCESSES=1) with its own database pool, HTTP
clients and Procrastinate workers; they share nothing but PostgreSQL, exactly as workers in
separate containers do (the shared pace, the queue and the import's state are all there).

What the supervisor does, and only that:
- **Metrics**: one scrape target per container, as before. The children record into
  prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, a fresh directory of
  memory-mapped files; every metric is a counter or a histogram, which it sums), and the
  supervisor serves their sum on METRICS_PORT. A port per process would need as many ports
  declared in every deployment as `auto` finds CPUs.
- **Stopping**: SIGTERM or SIGINT is passed to every child, each stops gracefully
  (SHUTDOWN_GRACE_SECONDS), and one still running after that and a margin is killed.
- **A child that exits unasked** (a bug, or the kernel's OOM killer) stops the others
  gracefully and the supervisor exits non-zero: the container fails as a whole, and the
  deployment's own restart (compose's `restart`, Kubernetes' restartPolicy, Render, devstack)
  starts it again and counts it, as it did for the single process. No second restart policy
  hides a crash loop inside a running container. The jobs the dead child held are put back
  in the queue by the stalled-job recovery, as for a killed container.
- **Dying with the supervisor**: each child asks the kernel (PR_SET_PDEATHSIG) for SIGTERM if
  the supervisor goes away, even killed with SIGKILL, so no orphan keeps taking jobs.
"""

import contextlib
import ctypes
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

from worker.settings import Settings

log = logging.getLogger("worker")

# After the grace the children were given, how long the supervisor waits before killing them.
KILL_MARGIN_SECONDS = 5
_PR_SET_PDEATHSIG = 1
_CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def process_count(setting: int | str) -> int:
    """The worker processes WORKER_PROCESSES asks for: `auto` is the CPUs available."""
    return setting if isinstance(setting, int) else cpus_available()


def cpus_available(cpu_max: Path = _CGROUP_CPU_MAX) -> int:
    """The CPUs this process may run on (its affinity), capped by the cgroup's CPU limit (a
    container's `cpus`, a pod's `limits.cpu`: 1.5 CPUs is 2): `os.cpu_count()` counts the
    whole host, so a pod limited to one CPU on a 64-core node would start 64 processes."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    try:
        quota, period = cpu_max.read_text().split()
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit to read: the affinity stands
    return max(1, cpus)


def supervise(settings: Settings, processes: int) -> int:
    """Run `processes` worker processes until SIGTERM/SIGINT (exit code 0 once all stopped) or
    until one exits unasked (1, after stopping the others)."""
    metrics_dir = _serve_metrics(settings.metrics_port)
    env = {**os.environ, "WORKER_PROCESSES": "1", "METRICS_PORT": "0"}
    if metrics_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    children: dict[int, subprocess.Popen[bytes]] = {}
    stopping = False
    exit_code = 0

    def stop(signum: int, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            signal.alarm(math.ceil(settings.shutdown_grace_seconds) + KILL_MARGIN_SECONDS)
        # A pid still in `children` is not reaped yet (running, or a zombie): never reused.
        for pid in children:
            _signal(pid, signal.SIGTERM)

    def kill_the_rest(_signum: int, _frame: FrameType | None) -> None:
        for pid in children:
            log.warning("worker.process_killed pid=%d after the shutdown grace", pid)
            _signal(pid, signal.SIGKILL)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGALRM, kill_the_rest)
    try:
        for index in range(processes):
            child = subprocess.Popen(
                [sys.executable, "-m", "worker"],
                env={**env, "WORKER_PROCESS_INDEX": str(index)},
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
            children[child.pid] = child
        log.info("worker.processes_started processes=%d pids=%s", processes, sorted(children))
        while children:
            # A signal's handler runs inside this wait, which then goes on waiting (PEP 475).
            pid, status = os.waitpid(-1, 0)
            if children.pop(pid, None) is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if metrics_dir is not None:
                _mark_dead(metrics_dir, pid)
            if stopping:
                continue
            log.error(
                "worker.process_exited pid=%d exit=%d: stopping the others, exiting 1", pid, code
            )
            exit_code = 1
            stop(signal.SIGTERM)
    finally:
        signal.alarm(0)
        for pid in children:
            _signal(pid, signal.SIGKILL)
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    log.info("worker.processes_stopped exit=%d", exit_code)
    return exit_code


def _serve_metrics(port: int) -> Path | None:
    """Serve the children's metrics on `port` from a fresh multiprocess directory; None (and
    nothing served) when `port` is 0."""
    if not port:
        return None
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    metrics_dir = Path(tempfile.mkdtemp(prefix="worker-metrics-"))
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))  # type: ignore[no-untyped-call]
    start_http_server(port, registry=registry)
    return metrics_dir


def _mark_dead(metrics_dir: Path, pid: int) -> None:
    from prometheus_client import multiprocess

    # Only live gauges care; counters and histograms of a dead process keep counting in the sum.
    multiprocess.mark_process_dead(pid, str(metrics_dir))  # type: ignore[no-untyped-call]


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM from the kernel when the supervisor dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
