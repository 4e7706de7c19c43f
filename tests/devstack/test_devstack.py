import io
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from botocore.exceptions import ClientError

from devstack.ports import PortInUse, ensure_port_free, free_port
from devstack.postgres import EmbeddedPostgres
from devstack.runner import Console
from devstack.s3 import EmbeddedS3, s3_client
from devstack.testing import start_postgres_for_tests, start_s3_for_tests


@pytest.mark.stack  # starts its own server
def test_embedded_postgres_answers_queries_on_a_free_port(tmp_path: Path) -> None:
    postgres = start_postgres_for_tests(tmp_path)
    try:
        assert postgres.port != 5432
        url = postgres.create_database("image_import")
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT current_database(), current_setting('server_version_num')")
            database, version = row.fetchone() or ("", "0")
        assert database == "image_import"
        assert int(version) >= 160000
    finally:
        postgres.stop()


@pytest.mark.stack  # starts its own server
def test_postgres_restart_on_the_same_data_dir_keeps_data(tmp_path: Path) -> None:
    postgres = start_postgres_for_tests(tmp_path)
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (value text)")
        conn.execute("INSERT INTO kept VALUES ('still here')")
    postgres.stop()

    again = EmbeddedPostgres(postgres.data_dir, free_port(), fsync=False)
    again.start()
    try:
        with psycopg.connect(again.url) as conn:
            assert conn.execute("SELECT value FROM kept").fetchall() == [("still here",)]
    finally:
        again.stop()


@pytest.mark.stack  # starts its own server
def test_postgres_restarts_after_the_previous_server_was_killed(tmp_path: Path) -> None:
    postgres = start_postgres_for_tests(tmp_path)
    pid_file = postgres.data_dir / "postmaster.pid"
    os.kill(int(pid_file.read_text().split("\n", 1)[0]), signal.SIGKILL)
    postgres.stop()
    assert pid_file.exists(), "a killed postmaster leaves its pid file behind"

    again = EmbeddedPostgres(postgres.data_dir, postgres.port, fsync=False)
    again.start(timeout=60)
    try:
        with psycopg.connect(again.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        again.stop()


@pytest.mark.stack  # starts its own server
def test_embedded_s3_round_trips_only_signed_requests(tmp_path: Path) -> None:
    s3 = start_s3_for_tests(tmp_path, "images")
    try:
        client = s3.client()
        client.put_object(Bucket="images", Key="a/b.txt", Body=b"hello")
        assert client.get_object(Bucket="images", Key="a/b.txt")["Body"].read() == b"hello"

        wrong_secret = s3_client(s3.endpoint_url, s3.access_key, "not-the-secret")
        with pytest.raises(ClientError) as refused:
            wrong_secret.get_object(Bucket="images", Key="a/b.txt")
        assert refused.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

        with pytest.raises(urllib.error.HTTPError) as anonymous:
            urllib.request.urlopen(f"{s3.endpoint_url}/images/a/b.txt", timeout=5)
        assert anonymous.value.code == 403
    finally:
        s3.stop()


@pytest.mark.stack  # starts its own server
def test_s3_restart_on_the_same_data_dir_keeps_objects(tmp_path: Path) -> None:
    s3 = start_s3_for_tests(tmp_path, "images")
    s3.client().put_object(Bucket="images", Key="kept", Body=b"still here")
    s3.stop()

    again = EmbeddedS3(s3.data_dir, free_port(), s3.access_key, s3.secret_key, "images")
    again.start()
    try:
        body = again.client().get_object(Bucket="images", Key="kept")["Body"].read()
        assert body == b"still here"
    finally:
        again.stop()


def test_ensure_port_free_explains_a_busy_port_in_one_line() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        with pytest.raises(PortInUse) as busy:
            ensure_port_free(port, "API_PORT")

    assert str(busy.value) == (
        f"port {port} is already in use (API_PORT); "
        "stop what is using it or set API_PORT to another port"
    )
    ensure_port_free(port, "API_PORT")


def test_devstack_up_with_a_busy_port_prints_one_line_and_exits_1(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = dict(
            os.environ,
            API_PORT=str(port),
            WEB_PORT=str(free_port()),
            # External servers, so nothing embedded is started before the port check.
            DATABASE_URL="postgresql://postgres@127.0.0.1:1/none",
            S3_ENDPOINT_URL="http://127.0.0.1:1",
        )
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "devstack", "up"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"devstack: port {port} is already in use (API_PORT); "
        "stop what is using it or set API_PORT to another port"
    ]
    assert time.monotonic() - started < 30


def test_console_prefixes_each_line_with_the_padded_service_name() -> None:
    out = io.StringIO()
    console = Console(["postgres", "api"], stream=out)

    console.sink("api")("listening")
    console.sink("postgres")("ready")

    assert out.getvalue() == "api      | listening\npostgres | ready\n"


@pytest.mark.stack  # starts its own server
def test_migrating_a_new_and_a_migrated_database_logs_no_server_errors(tmp_path: Path) -> None:
    from migrate.__main__ import apply_migrations

    postgres = start_postgres_for_tests(tmp_path)
    try:
        url = postgres.create_database("image_import")
        assert apply_migrations(url)
        assert apply_migrations(url) == []
    finally:
        postgres.stop()
    log = postgres.log_path.read_text()
    assert "ERROR" not in log, log


@pytest.mark.stack  # starts its own server
def test_embedded_s3_prints_warnings_only_and_keeps_its_info_lines_in_files(
    tmp_path: Path,
) -> None:
    s3 = start_s3_for_tests(tmp_path, "images")
    try:
        s3.client().put_object(Bucket="images", Key="k", Body=b"x")
    finally:
        s3.stop()
    printed = s3.log_path.read_text().splitlines()
    # glog's lines start with their severity: I(nfo), W(arning), E(rror), F(atal).
    assert not [line for line in printed if line[:1] == "I" and line[1:5].isdigit()]
    assert any(path.name.startswith("weed.") for path in (s3.data_dir / "logs").iterdir())
