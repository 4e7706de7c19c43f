"""A child process whose output is read line by line: the one way devstack runs anything."""

import ctypes
import os
import pwd
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

LineSink = Callable[[str], None]

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before exec: if devstack itself is killed (even with SIGKILL), the
    kernel sends the child SIGTERM, so no orphaned service keeps holding its port."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class FileSink:
    """A `LineSink` that appends to a log file, for servers started without a console."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: TextIO = path.open("a", buffering=1, encoding="utf-8")

    def __call__(self, line: str) -> None:
        self._file.write(line + "\n")

    def close(self) -> None:
        self._file.close()


class ChildProcess:
    """Runs `argv` with stdout and stderr merged and read on a daemon thread.

    Every line goes to `sink`, and the last `tail_lines` are kept so a failure can quote
    them. The child gets its own process group: a Ctrl-C in the terminal then reaches only
    devstack, which decides the order things stop in, and stopping a child also stops
    whatever it forked.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        sink: LineSink,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: pwd.struct_passwd | None = None,
        tail_lines: int = 40,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self._sink = sink
        self._env = dict(env) if env is not None else None
        self._cwd = cwd
        self._user = user
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._popen: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        user = self._user
        self._popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            env=self._env,
            cwd=self._cwd,
            process_group=0,
            user=user.pw_uid if user else None,
            # Without these the child would keep root's groups.
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
            preexec_fn=_die_with_parent,
        )
        self._reader = threading.Thread(
            target=self._read, args=(self._popen.stdout,), name=f"{self.name}-output", daemon=True
        )
        self._reader.start()

    def _read(self, stream: TextIO) -> None:
        with stream:
            for raw in stream:
                line = raw.rstrip("\n")
                self._tail.append(line)
                self._sink(line)

    @property
    def pid(self) -> int:
        assert self._popen is not None, "not started"
        return self._popen.pid

    def poll(self) -> int | None:
        """The exit code, or None while running (or never started)."""
        return self._popen.poll() if self._popen is not None else None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit and for the output to be drained; raises TimeoutExpired."""
        assert self._popen is not None, "not started"
        code = self._popen.wait(timeout)
        if self._reader is not None:
            # Grandchildren may still hold the pipe open; don't hang on them.
            self._reader.join(timeout=2)
        return code

    def send_signal(self, sig: int, *, whole_group: bool = True) -> None:
        if self._popen is None or self._popen.poll() is not None:
            return
        try:
            if whole_group:
                os.killpg(self._popen.pid, sig)
            else:
                os.kill(self._popen.pid, sig)
        except ProcessLookupError:
            pass

    def stop(
        self, sig: int = signal.SIGTERM, timeout: float = 10.0, *, whole_group: bool = True
    ) -> int | None:
        """Send `sig`, wait up to `timeout` seconds, then SIGKILL the whole group."""
        if self._popen is None:
            return None
        self.send_signal(sig, whole_group=whole_group)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send_signal(signal.SIGKILL)
            return self.wait()

    def tail(self) -> str:
        return "\n".join(self._tail)
