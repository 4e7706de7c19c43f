"""The test stack: real PostgreSQL, real S3 (SeaweedFS), the real Procrastinate worker, and the
Drive and Dropbox emulators standing in for Google and Dropbox.

Servers start once per session on free ports. DATABASE_URL / S3_ENDPOINT_URL (with
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) point the suite at servers of your own instead.
Each test module gets its own database and bucket and its own worker, so tests never see
another module's imports and never clean up by deleting.

One fixture per piece of the stack, defined here and nowhere else: `database_url` (a migrated
database of the module's own), `stack` (that database, a bucket and a worker), `api` (the API
in process), `api_url` (the API under uvicorn), `receiver` (a webhook receiver). A module
changes their settings with module-level dicts, never with a fixture of its own:
WORKER_ENV (the worker's environment), API_SETTINGS (the in-process API's `Settings`) and
API_ENV (the uvicorn API's environment).
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.app import create_app
from api.settings import Settings as ApiSettings
from devstack.postgres import EmbeddedPostgres
from devstack.s3 import EmbeddedS3, ensure_bucket, s3_client
from devstack.testing import (
    TEST_ACCESS_KEY,
    TEST_SECRET_KEY,
    start_postgres_for_tests,
    start_s3_for_tests,
)
from emulators.dropbox import DropboxEmulatorServer, DropboxFixture
from emulators.google_drive import DriveFixture, EmulatorServer
from migrate.__main__ import apply_migrations
from tests.drive_fixtures import TEST_DRIVE_SPEC
from tests.dropbox_fixtures import DROPBOX_TOKEN, TEST_DROPBOX_SPEC
from tests.servers import FAST_TIER_ENV, Server, refuse_in_fast_tier, start_server
from tests.webhook_receiver import WebhookReceiver, running_receiver

DRIVE_API_KEY = "test-api-key"

# The fixtures that start a server process (everything else the tests start, the emulators and
# the webhook receiver, runs in the test's own process). A test that needs one of them,
# directly or through other fixtures, is marked `stack`; the others are the fast tier.
SERVER_FIXTURES = frozenset({"postgres_server_url", "s3_server", "browser"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fast",
        action="store_true",
        help="only the tests that need no server (PostgreSQL, S3, the worker, uvicorn,"
        " Chromium): those not marked `stack`; a test that starts one anyway fails",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "stack: needs servers (PostgreSQL, S3, the worker, uvicorn or Chromium); set by"
        " tests/conftest.py from the test's fixtures, by hand only on a test that starts a"
        " server itself (tests/devstack)",
    )
    if config.getoption("fast"):
        os.environ[FAST_TIER_ENV] = "1"
        # The embedded servers refuse to start too, whoever starts them: a test that does so
        # without being marked fails in the fast tier rather than slowing it down.
        patch = pytest.MonkeyPatch()
        config.add_cleanup(patch.undo)
        for server in (EmbeddedPostgres, EmbeddedS3):
            patch.setattr(server, "start", refusing_start(server.__name__))


def refusing_start(what: str) -> Callable[..., None]:
    def start(*args: Any, **kwargs: Any) -> None:
        refuse_in_fast_tier(what)

    return start


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: the marks must be there before `-m stack` / `-m "not stack"` selects by them.
    fast, needs_servers = [], []
    for item in items:
        if item.get_closest_marker("stack"):
            needs_servers.append(item)
        elif SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.stack)
            needs_servers.append(item)
        else:
            fast.append(item)
    if config.getoption("fast"):
        config.hook.pytest_deselected(items=needs_servers)
        items[:] = fast


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    def client(self) -> Any:
        return s3_client(self.endpoint_url, self.access_key, self.secret_key, self.region)


@dataclass
class Stack:
    """One module's world: its database, bucket, worker and the environment they share."""

    database_url: str
    bucket: str
    s3: S3Server
    drive: EmulatorServer
    env: dict[str, str]
    worker_log: Path
    worker: subprocess.Popen[bytes]

    def db(self) -> psycopg.Connection[tuple[Any, ...]]:
        return psycopg.connect(self.database_url, autocommit=True)

    def objects(self, prefix: str = "") -> dict[str, int]:
        """Every object in the bucket under `prefix`: key → size."""
        client = self.s3.client()
        found: dict[str, int] = {}
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        ):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = obj["Size"]
        return found

    def read_object(self, key: str) -> bytes:
        body: bytes = self.s3.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return body


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    server = start_postgres_for_tests(tmp_path_factory.mktemp("postgres"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if url := os.environ.get("S3_ENDPOINT_URL"):
        yield S3Server(
            url,
            os.environ["AWS_ACCESS_KEY_ID"],
            os.environ["AWS_SECRET_ACCESS_KEY"],
            os.environ.get("AWS_REGION", "us-east-1"),
        )
        return
    server = start_s3_for_tests(tmp_path_factory.mktemp("s3"), bucket="unused")
    try:
        yield S3Server(server.endpoint_url, TEST_ACCESS_KEY, TEST_SECRET_KEY)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def drive() -> Iterator[EmulatorServer]:
    with EmulatorServer(DriveFixture(TEST_DRIVE_SPEC)) as server:
        yield server


@pytest.fixture(scope="session")
def dropbox() -> Iterator[DropboxEmulatorServer]:
    with DropboxEmulatorServer(DropboxFixture(TEST_DROPBOX_SPEC)) as server:
        yield server


def create_database(server_url: str) -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(server_url, dbname=name)


def as_url(conninfo: str) -> str:
    """psycopg accepts key=value strings; yoyo and the services' settings want a URL."""
    if "://" in conninfo:
        return conninfo
    params = conninfo_to_dict(conninfo)
    user = params.get("user", "postgres")
    password = f":{params['password']}" if params.get("password") else ""
    host = params.get("host", "127.0.0.1")
    port = params.get("port", 5432)
    return f"postgresql://{user}{password}@{host}:{port}/{params['dbname']}"


WORKER_START_SECONDS = 90


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    refuse_in_fast_tier("The worker")
    log = log_path.open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    # Generous: a clean machine's first start compiles every module, on two busy cores.
    deadline = time.monotonic() + WORKER_START_SECONDS
    while "worker.starting" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    return process


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def database_url(postgres_server_url: str) -> str:
    """A migrated database of the module's own: all a module that needs neither S3 nor the
    worker asks for."""
    url = as_url(create_database(postgres_server_url))
    apply_migrations(url)
    return url


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest,
    database_url: str,
    s3_server: S3Server,
    drive: EmulatorServer,
    dropbox: DropboxEmulatorServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """A test module may set WORKER_ENV (a dict) to change the worker's settings."""
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    ensure_bucket(s3_server.client(), bucket, s3_server.region)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "S3_ENDPOINT_URL": s3_server.endpoint_url,
        "S3_BUCKET": bucket,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_REGION": s3_server.region,
        "GOOGLE_API_KEY": DRIVE_API_KEY,
        "GOOGLE_DRIVE_API_URL": drive.base_url,
        "GOOGLE_DRIVE_WEB_URL": drive.base_url,
        "GOOGLE_DRIVE_DOWNLOAD_URL": drive.base_url,
        "DROPBOX_ACCESS_TOKEN": DROPBOX_TOKEN,
        "DROPBOX_API_URL": dropbox.base_url,
        "DROPBOX_CONTENT_URL": dropbox.base_url,
        "DROPBOX_WEB_URL": dropbox.base_url,
        # One process, whatever the machine's CPUs (tests/worker/test_processes.py runs more).
        "WORKER_PROCESSES": "1",
        "WORKER_CONCURRENCY": "8",
        "MAX_ATTEMPTS": "8",
        "RETRY_BASE_SECONDS": "0.05",
        "RETRY_MAX_SECONDS": "0.5",
        "SHUTDOWN_GRACE_SECONDS": "5",
        # A killed worker's jobs come back within seconds, not the production half minute.
        "HEARTBEAT_SECONDS": "1",
        "STALLED_WORKER_SECONDS": "4",
        # Test workers serve no metrics unless a module asks (a fixed port would clash).
        "METRICS_PORT": "0",
        **getattr(request.module, "WORKER_ENV", {}),
    }
    worker_log = tmp_path_factory.mktemp("worker") / "worker.log"
    stack = Stack(
        database_url, bucket, s3_server, drive, env, worker_log, start_worker(env, worker_log)
    )
    try:
        yield stack
    finally:
        stop_worker(stack.worker)


# The worker's log is where a failed end-to-end test's cause usually is; CI keeps only what
# pytest prints.
WORKER_LOG_LINES_ON_FAILURE = 120


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    stack = getattr(item, "funcargs", {}).get("stack")
    if report.failed and isinstance(stack, Stack) and stack.worker_log.exists():
        lines = stack.worker_log.read_text(errors="replace").splitlines()
        report.sections.append(
            (
                f"worker log (last {WORKER_LOG_LINES_ON_FAILURE} lines)",
                "\n".join(lines[-WORKER_LOG_LINES_ON_FAILURE:]),
            )
        )
    return report


ApiClient = AsyncTestClient[Any]
ApiClientFactory = Callable[..., AbstractAsyncContextManager[ApiClient]]


@pytest.fixture(scope="module")
def api_client_with(stack: Stack) -> ApiClientFactory:
    """The API in process on the module's stack, with some `Settings` changed (for a module
    that needs two differently configured APIs at once)."""

    @asynccontextmanager
    async def client(**overrides: Any) -> AsyncIterator[ApiClient]:
        settings = ApiSettings(
            database_url=stack.database_url,
            s3_endpoint_url=stack.s3.endpoint_url,
            s3_bucket=stack.bucket,
            aws_access_key_id=stack.s3.access_key,
            aws_secret_access_key=stack.s3.secret_key,
            aws_region=stack.s3.region,
            **overrides,
        )
        async with AsyncTestClient(app=create_app(settings)) as test_client:
            yield test_client

    return client


@pytest.fixture(scope="module")
async def api(
    request: pytest.FixtureRequest, api_client_with: ApiClientFactory
) -> AsyncIterator[ApiClient]:
    """The API in process on the module's stack. A test module may set API_SETTINGS (a dict of
    `api.settings.Settings` fields) to change its settings."""
    async with api_client_with(**getattr(request.module, "API_SETTINGS", {})) as client:
        yield client


def start_api(stack: Stack, log: Path, **env: str) -> Server:
    """The API under uvicorn on the stack's database and bucket, `env` added to the stack's."""
    return start_server("api.app:app", {**stack.env, **env}, log)


@pytest.fixture(scope="module")
def api_url(
    request: pytest.FixtureRequest, stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The API under uvicorn, as it runs in production, on the module's stack; its base URL. A
    test module may set API_ENV (a dict) to change its environment."""
    log = tmp_path_factory.mktemp("api") / "api.log"
    server = start_api(stack, log, **getattr(request.module, "API_ENV", {}))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver on 127.0.0.1, recording what it is sent."""
    with running_receiver() as running:
        yield running
