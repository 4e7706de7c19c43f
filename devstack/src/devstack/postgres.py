"""PostgreSQL 16 from the pgserver wheel, run directly as a child process listening on TCP."""

import functools
import importlib.util
import os
import pwd
import signal
import stat
import time
import warnings
from pathlib import Path
from types import ModuleType

import psutil  # type: ignore[import-untyped]
import psycopg
from psycopg import sql

from devstack.errors import DevstackError
from devstack.process import ChildProcess, FileSink, LineSink

SUPERUSER = "postgres"
# Postgres refuses to run as root, so as root we run it as this system user.
SYSTEM_USER = "pgserver"
# Linux sun_path is 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH = 107


def _pgserver_dir() -> Path:
    # Found without importing pgserver: its package import computes a per-user runtime dir
    # (and warns when XDG_RUNTIME_DIR is unset) for a server manager we don't use.
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver package is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


POSTGRES_BIN_PATH = _pgserver_dir() / "pginstall" / "bin"


def _pgserver_utils() -> ModuleType:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgserver import utils

    return utils


class PostgresStartError(DevstackError):
    pass


@functools.cache
def _run_as() -> pwd.struct_passwd | None:
    """The user to run postgres as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    utils = _pgserver_utils()
    user: pwd.struct_passwd = utils.ensure_user_exists(SYSTEM_USER)
    # The wheel may be installed root-only (0700 parents, e.g. under /root); the unprivileged
    # user has to reach and execute the binaries and read the libraries and share files.
    utils.ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    utils.ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
    utils.ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    utils.ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "share", read)
    return user


class EmbeddedPostgres:
    """A private PostgreSQL server for one data directory.

    `initdb` runs on first start (trust auth, UTF-8, superuser `postgres`); later starts reuse
    the data. The server is a child process that `stop()` shuts down; one left running by a
    run that was killed is found through `postmaster.pid` and shut down before starting
    again. When no `log_line` sink is given,
    server output goes to `<data_dir>.log` next to the data directory (initdb needs the data
    directory empty, so the log cannot live inside it).
    """

    def __init__(
        self, data_dir: Path, port: int, host: str = "127.0.0.1", *, fsync: bool = True
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.host = host
        # Off only for throwaway test servers: faster, and a crash there loses nothing of value.
        self.fsync = fsync
        self._process: ChildProcess | None = None
        self._log_file: FileSink | None = None

    @property
    def url(self) -> str:
        return self.url_for(SUPERUSER)

    def url_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@{self.host}:{self.port}/{database}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + ".log")

    def start(self, log_line: LineSink | None = None, timeout: float = 60.0) -> None:
        """Initialise the data directory if needed, start the server, wait until it answers."""
        if self._process is not None:
            raise RuntimeError("already started")
        user = _run_as()
        sink = log_line or self._open_log_file()
        try:
            self._prepare_data_dir(user)
            self.stop_leftover()
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb(user, sink)
            self._start_server(user, sink, timeout)
        except BaseException:
            self._close_log_file()
            raise

    def _start_server(self, user: pwd.struct_passwd | None, sink: LineSink, timeout: float) -> None:
        argv = [
            str(POSTGRES_BIN_PATH / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-h", self.host,
            "-k", self._socket_dir(),
        ]  # fmt: skip
        # Warnings and errors only (the default logs every checkpoint too).
        argv += ["-c", "log_min_messages=warning", "-c", "log_checkpoints=off"]
        if not self.fsync:
            argv += ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            argv += ["-c", "full_page_writes=off"]
        self._process = ChildProcess("postgres", argv, sink, cwd=self.data_dir, user=user)
        self._process.start()
        self._wait_until_ready(timeout)

    def _open_log_file(self) -> FileSink:
        self._log_file = FileSink(self.log_path)
        return self._log_file

    def _prepare_data_dir(self, user: pwd.struct_passwd | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is not None:
            _pgserver_utils().ensure_prefix_permissions(self.data_dir)
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)

    def _initdb(self, user: pwd.struct_passwd | None, sink: LineSink) -> None:
        argv = [
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D", str(self.data_dir),
            "-U", SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            # The C locale always exists; a locale taken from the environment may not.
            "--locale=C",
            "--no-instructions",
        ]  # fmt: skip
        if not self.fsync:
            argv.append("--no-sync")
        initdb = ChildProcess("initdb", argv, sink, cwd=self.data_dir, user=user)
        initdb.start()
        code = initdb.wait(timeout=120)
        if code != 0:
            raise PostgresStartError(
                f"initdb failed with exit code {code} for {self.data_dir}:\n{initdb.tail()}"
            )

    def _socket_dir(self) -> str:
        # A unix socket in the data dir keeps psql handy without clashing with a system server;
        # if the path is too long for a socket, TCP alone is enough.
        if len(str(self.data_dir / f".s.PGSQL.{self.port}")) <= _MAX_SOCKET_PATH:
            return str(self.data_dir)
        return ""

    def _wait_until_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                self._process.wait()
                self._close_log_file()
                tail = self._process.tail()
                self._process = None
                raise PostgresStartError(
                    f"postgres exited with code {code} during start; last output:\n{tail}"
                )
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                last_error = exc
            time.sleep(0.05)
        tail = self._process.tail()
        self.stop()
        raise PostgresStartError(
            f"postgres did not accept connections on {self.host}:{self.port} within {timeout:.0f}s"
            f" ({last_error}); last output:\n{tail}"
        )

    def poll(self) -> int | None:
        """The server's exit code if it has exited, else None."""
        return self._process.poll() if self._process is not None else None

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit); then SIGKILL."""
        if self._process is not None:
            # Only the postmaster: it stops its backends itself.
            self._process.stop(signal.SIGINT, timeout, whole_group=False)
            self._process = None
        self._close_log_file()

    def _close_log_file(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def stop_leftover(self, timeout: float = 30.0) -> None:
        """Shut down a server left running on this data dir by a killed run; drop a stale pid file.

        Postgres itself ignores a pid file whose process is gone, but not one whose pid has
        since been reused by an unrelated process of the same user, so we remove it ourselves.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return
        if self._process is not None and pid == self._process.pid:
            return
        try:
            proc = psutil.Process(pid)
            ours = proc.name() == "postgres" and str(self.data_dir) in proc.cmdline()
        except psutil.Error:
            ours = False
        if not ours:
            pid_file.unlink(missing_ok=True)
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def create_database(self, name: str) -> str:
        """Create `name` unless it exists; return its URL."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if found.fetchone() is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url_for(name)
