"""The test stack: real PostgreSQL, real S3 (SeaweedFS), the real Procrastinate worker, and the
Drive and Dropbox emulators standing in for Google and Dropbox.

Servers start once per session on free ports. DATABASE_URL / S3_ENDPOINT_URL (with
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) point the suite at servers of your own instead.
Each test module gets its own database and bucket and its own worker, so tests never see
another module's imports and never clean up by deleting.
"""

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from litestar.testing import AsyncTestClient
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from api.app import create_app
from api.settings import Settings as ApiSettings
from devstack.s3 import ensure_bucket, s3_client
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

DRIVE_API_KEY = "test-api-key"


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
def stack(
    request: pytest.FixtureRequest,
    postgres_server_url: str,
    s3_server: S3Server,
    drive: EmulatorServer,
    dropbox: DropboxEmulatorServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """A test module may set WORKER_ENV (a dict) to change the worker's settings."""
    database_url = as_url(create_database(postgres_server_url))
    apply_migrations(database_url)
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


@pytest.fixture(scope="module")
async def api(stack: Stack) -> AsyncIterator[AsyncTestClient[Any]]:
    settings = ApiSettings(
        database_url=stack.database_url,
        s3_endpoint_url=stack.s3.endpoint_url,
        s3_bucket=stack.bucket,
        aws_access_key_id=stack.s3.access_key,
        aws_secret_access_key=stack.s3.secret_key,
        aws_region=stack.s3.region,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client
