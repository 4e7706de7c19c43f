"""`devstack up`: embedded Postgres and S3, the migration, then the services, supervised (a
service that dies is restarted: supervisor.py)."""

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from string import Template
from types import FrameType
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from devstack.errors import DevstackError
from devstack.ports import ensure_port_free
from devstack.postgres import EmbeddedPostgres
from devstack.process import ChildProcess, LineSink
from devstack.s3 import EmbeddedS3, ensure_bucket, s3_client
from devstack.settings import DevstackSettings
from devstack.supervisor import Essential, describe_exit, supervise

# The long-running services, in start order, Procfile style: a Procfile or compose file
# mirrors this list. `$NAME` is filled in from the environment the services get.
SERVICES: dict[str, str] = {
    "api": "uvicorn api.app:app --host 0.0.0.0 --port $API_PORT --no-proxy-headers",
    "worker": "image-import-worker",
    "web": "uvicorn web.app:app --host 0.0.0.0 --port $WEB_PORT --no-proxy-headers",
}
# Run to completion before the services start.
MIGRATE = "migrate"
DATABASE_NAME = "image_import"
STOP_TIMEOUT_SECONDS = 10.0

_COLOURS = ("36", "33", "32", "35", "34", "91", "96", "93")


class Console:
    """Writes each line as `name     | line`, names padded to one width, coloured on a terminal."""

    def __init__(self, names: Iterable[str], stream: TextIO = sys.stdout) -> None:
        self._names = list(names)
        self._width = max(len(name) for name in self._names)
        self._stream = stream
        self._colour = stream.isatty() and "NO_COLOR" not in os.environ
        self._lock = threading.Lock()

    def sink(self, name: str) -> LineSink:
        prefix = f"{name:<{self._width}} | "
        if self._colour:
            code = _COLOURS[self._names.index(name) % len(_COLOURS)]
            prefix = f"\033[{code}m{prefix}\033[0m"

        def write(line: str) -> None:
            with self._lock:
                self._stream.write(prefix + line + "\n")
                self._stream.flush()

        return write


def up(settings: DevstackSettings) -> int:
    """Run the whole stack until Ctrl-C/SIGTERM (exit 0), restarting a service that dies, or
    until PostgreSQL or S3 dies (exit 1)."""
    console = Console(["devstack", "postgres", "s3", MIGRATE, *SERVICES])
    say = console.sink("devstack")
    data_dir = settings.data_dir.absolute()
    postgres = (
        None
        if settings.database_url
        else EmbeddedPostgres(data_dir / "postgres", settings.postgres_port)
    )
    s3 = (
        None
        if settings.s3_endpoint_url
        else EmbeddedS3(
            data_dir / "s3",
            settings.s3_port,
            settings.aws_access_key_id,
            settings.aws_secret_access_key,
            settings.s3_bucket,
            region=settings.aws_region,
        )
    )
    # A run that was killed outright may have left them running, holding their ports.
    if postgres is not None:
        postgres.stop_leftover()
    if s3 is not None:
        s3.stop_leftover()
    _check_ports(settings, embedded_postgres=postgres is not None, embedded_s3=s3 is not None)

    env = _service_env(settings)
    children: list[ChildProcess] = []
    _handle_stop_signals(_raise_keyboard_interrupt)
    try:
        if postgres is not None:
            say(f"starting Postgres on 127.0.0.1:{postgres.port} (data in {postgres.data_dir})")
            postgres.start(console.sink("postgres"))
            env["DATABASE_URL"] = postgres.create_database(DATABASE_NAME)
        if s3 is not None:
            say(f"starting S3 (SeaweedFS) on {s3.endpoint_url} (data in {s3.data_dir})")
            s3.start(console.sink("s3"))
            env["S3_ENDPOINT_URL"] = s3.endpoint_url
        else:
            _ensure_external_bucket(settings)

        migrate = _start(MIGRATE, MIGRATE, env, console, children)
        code = migrate.wait()
        children.remove(migrate)
        if code != 0:
            say(f"{MIGRATE} failed ({describe_exit(code)}); not starting the services")
            return code if code > 0 else 1

        def start(name: str) -> ChildProcess:
            return _start(name, SERVICES[name], env, console, children)

        services = [start(name) for name in SERVICES]
        say(
            f"api on http://127.0.0.1:{settings.api_port}, "
            f"web on http://127.0.0.1:{settings.web_port}; a service that exits is restarted; "
            "Ctrl-C stops everything"
        )
        essentials: list[Essential] = []
        if postgres is not None:
            essentials.append(("postgres", postgres.poll))
        if s3 is not None:
            essentials.append(("s3", s3.poll))
        return supervise(services, children, start, essentials, say)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        # A second Ctrl-C must not cut the shutdown short and leave servers running.
        _handle_stop_signals(signal.SIG_IGN)
        _stop_children(children, say)
        if s3 is not None:
            s3.stop()
        if postgres is not None:
            postgres.stop()
        say("stopped")


def _check_ports(settings: DevstackSettings, *, embedded_postgres: bool, embedded_s3: bool) -> None:
    ports = {"API_PORT": settings.api_port, "WEB_PORT": settings.web_port}
    if embedded_postgres:
        ports["POSTGRES_PORT"] = settings.postgres_port
    if embedded_s3:
        ports["S3_PORT"] = settings.s3_port
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            raise DevstackError(f"{seen[port]} and {name} are both {port}; give each its own port")
        seen[port] = name
        ensure_port_free(port, name)


def _service_env(settings: DevstackSettings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        S3_BUCKET=settings.s3_bucket,
        AWS_ACCESS_KEY_ID=settings.aws_access_key_id,
        AWS_SECRET_ACCESS_KEY=settings.aws_secret_access_key,
        AWS_REGION=settings.aws_region,
        API_PORT=str(settings.api_port),
        WEB_PORT=str(settings.web_port),
        API_URL=settings.api_url or f"http://127.0.0.1:{settings.api_port}",
        # Python buffers a pipe in 8 KiB blocks; logs should show up as they happen.
        PYTHONUNBUFFERED="1",
        # So the commands resolve to this venv even when devstack was not started via `uv run`.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
    )
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    if settings.s3_endpoint_url:
        env["S3_ENDPOINT_URL"] = settings.s3_endpoint_url
    return env


def _ensure_external_bucket(settings: DevstackSettings) -> None:
    client = s3_client(
        settings.s3_endpoint_url,
        settings.aws_access_key_id,
        settings.aws_secret_access_key,
        settings.aws_region,
    )
    try:
        ensure_bucket(client, settings.s3_bucket, settings.aws_region)
    except (BotoCoreError, ClientError) as exc:
        raise DevstackError(
            f"could not make sure bucket {settings.s3_bucket!r} exists"
            f" at {settings.s3_endpoint_url}: {exc}"
        ) from None


def _start(
    name: str, command: str, env: dict[str, str], console: Console, children: list[ChildProcess]
) -> ChildProcess:
    argv = shlex.split(Template(command).substitute(env))
    child = ChildProcess(name, argv, console.sink(name), env=env)
    try:
        child.start()
    except FileNotFoundError:
        raise DevstackError(f"{name}: command not found: {argv[0]}") from None
    children.append(child)
    return child


def _stop_children(children: list[ChildProcess], say: LineSink) -> None:
    """SIGTERM all at once, give them STOP_TIMEOUT_SECONDS together, then SIGKILL."""
    for child in children:
        child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"{child.name} did not stop within {STOP_TIMEOUT_SECONDS:.0f}s; killing it")
            child.send_signal(signal.SIGKILL)
            child.wait()


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _handle_stop_signals(
    handler: Callable[[int, FrameType | None], None] | signal.Handlers,
) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
