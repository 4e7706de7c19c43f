"""The curl scripts and the Postman collection on their own, without the stack: help, arguments,
a missing tool, an unreachable API, the bearer token and error bodies (against a small local
server that records what it was sent), shellcheck, and the collection's structure."""

import json
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devstack.ports import free_port
from tests.curl.conftest import COLLECTION, CURL_DIR, SCRIPTS, SHELL, requests_of, run

IMPORT_ID = "6f1c8a52-3f9e-4d43-a6b4-2f3d8c1e9a10"
SYNC_ID = "0d4b7e21-8c6a-4f0e-9b3d-5a2c1e7f6d80"
DRIVE_LINK = "https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOpQrStUvWxYz012345"
# Each script with arguments that make it call the API once.
CALLS = {
    "cancel.sh": [IMPORT_ID],
    "deliveries.sh": [IMPORT_ID],
    "download-archive.sh": ["--import", IMPORT_ID, "-o", "-"],
    "failures.sh": [IMPORT_ID],
    "import-dropbox.sh": ["https://www.dropbox.com/scl/fo/abc123/def456?rlkey=xyz"],
    "import-google-drive.sh": [DRIVE_LINK],
    "import.sh": [DRIVE_LINK],
    "list-images.sh": [],
    "ops-job.sh": ["42"],
    "retry.sh": [IMPORT_ID],
    "sync.sh": [DRIVE_LINK, "--every", "1h"],
    "sync-change.sh": [SYNC_ID, "--every", "2h"],
    "sync-delete.sh": [SYNC_ID],
    "sync-pause.sh": [SYNC_ID],
    "sync-resume.sh": [SYNC_ID],
    "sync-run.sh": [SYNC_ID],
    "sync-show.sh": [SYNC_ID],
    "syncs.sh": [],
    "watch-import.sh": [IMPORT_ID],
}


def test_every_script_has_a_call_here() -> None:
    assert sorted(CALLS) == SCRIPTS


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass
class RecordingApi:
    """A stand-in API that answers every request with one canned answer and keeps the requests."""

    url: str
    requests: list[Recorded] = field(default_factory=list)
    status: int = 200
    content_type: str = "application/json"
    body: bytes = b"{}"


@pytest.fixture
def recording_api() -> Iterator[RecordingApi]:
    api = RecordingApi(url="")

    class Handler(BaseHTTPRequestHandler):
        def answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            api.requests.append(
                Recorded(
                    self.command,
                    self.path,
                    {key.lower(): value for key, value in self.headers.items()},
                    self.rfile.read(length),
                )
            )
            self.send_response(api.status)
            self.send_header("content-type", api.content_type)
            self.send_header("content-length", str(len(api.body)))
            self.end_headers()
            self.wfile.write(api.body)

        do_GET = do_POST = do_PATCH = do_DELETE = answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


def env_for(url: str, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "API_URL": url, **extra}


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_gives_usage_settings_and_exit_codes(script: str, flag: str) -> None:
    result = run(script, flag, env=env_for("http://127.0.0.1:9"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: {script}")
    for words in ("API_URL", "API_TOKEN", "Exit status:", "  0  ", "  3  ", "  4  ", "  64 "):
        assert words in result.stdout, words
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("script", "args", "complaint"),
    [
        ("import-google-drive.sh", [], "give the folder's link"),
        ("import-google-drive.sh", [DRIVE_LINK, DRIVE_LINK], "give one link"),
        ("import-google-drive.sh", [DRIVE_LINK, "--recursive"], "unknown option: --recursive"),
        ("import-dropbox.sh", [], "give the shared folder's link"),
        ("watch-import.sh", [], "give the import's id"),
        ("failures.sh", [IMPORT_ID, "--limit"], "--limit needs a value"),
        ("list-images.sh", ["--import"], "--import needs a value"),
        ("download-archive.sh", [], "give --import ID or image ids"),
        (
            "download-archive.sh",
            ["--import", IMPORT_ID, SYNC_ID],
            "give --import ID or image ids, not both",
        ),
        ("list-images.sh", ["photos"], "unexpected argument: photos"),
        ("retry.sh", [IMPORT_ID, IMPORT_ID], "give one import id"),
        ("cancel.sh", [], "give the import's id"),
        ("sync.sh", [DRIVE_LINK], "give --every INTERVAL, e.g. --every 1h"),
        ("sync.sh", ["--every", "1h"], "give the folder's link"),
        ("sync-show.sh", [], "give the sync's id"),
        ("sync-pause.sh", [SYNC_ID, SYNC_ID], "give one sync id"),
        ("sync-change.sh", [SYNC_ID], "nothing to change: give --every, --on-removed or --notify"),
        ("sync-change.sh", [SYNC_ID, "--on-removed", "shred"], "--on-removed is keep or delete"),
        ("syncs.sh", ["--limit"], "--limit needs a value"),
        ("ops-job.sh", [], "give the job's id"),
        ("ops-job.sh", ["42", "--retry", "--cancel"], "give --retry or --cancel, not both"),
        ("ops-job.sh", ["job-42"], "a job's id is a number: job-42"),
    ],
)
def test_wrong_arguments_exit_64_and_point_to_help(
    script: str, args: list[str], complaint: str
) -> None:
    result = run(script, *args, env=env_for("http://127.0.0.1:9"))
    assert result.returncode == 64
    assert result.stdout == ""
    assert f"{script}: {complaint}\nTry '{script} --help'." in result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_unreachable_api_exits_4_with_where_it_looked(script: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run(script, *CALLS[script], env=env_for(url))
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert f"{script}: cannot reach the API at {url}: Failed to connect" in result.stderr
    assert "set API_URL" in result.stderr


def test_the_default_api_url_is_localhost_8000() -> None:
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8000)) == 0:
            pytest.skip("something listens on port 8000 here")
    result = run("list-images.sh", env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert result.returncode == 4
    assert "cannot reach the API at http://localhost:8000: " in result.stderr


@pytest.mark.parametrize("missing", ["jq", "curl"])
def test_a_missing_tool_exits_127_saying_what_to_install(tmp_path: Path, missing: str) -> None:
    # A PATH with every command the scripts use, less one.
    for tool in ("curl", "jq", "sed", "head", "tr", "dirname", "sleep"):
        if tool != missing and (found := shutil.which(tool)):
            (tmp_path / tool).symlink_to(found)
    result = run("list-images.sh", env={"PATH": str(tmp_path), "API_URL": "http://127.0.0.1:9"})
    assert result.returncode == 127
    assert f"list-images.sh: {missing} is not installed" in result.stderr
    assert f"apt-get install {missing}" in result.stderr


@pytest.mark.parametrize("script", SCRIPTS)
def test_api_token_is_sent_as_a_bearer_token(recording_api: RecordingApi, script: str) -> None:
    recording_api.status = 202
    recording_api.body = json.dumps(
        {
            "import_id": IMPORT_ID,
            "status": "completed",
            "source": "google_drive",
            "folder_id": "1Ab",
            "counts": {
                "discovered": 0,
                "imported": 0,
                "unchanged": 0,
                "skipped": 0,
                "failed": 0,
                "settled": 0,
            },
            "bytes_imported": 0,
            "elapsed_seconds": None,
            "rate": None,
            "requeued": 0,
            "cancelled_jobs": 0,
            "items": [],
            "next_cursor": None,
        }
    ).encode()
    token = 'tok "with" \\ quotes'
    with_token = run(script, *CALLS[script], env=env_for(recording_api.url, API_TOKEN=token))
    without = run(script, *CALLS[script], env=env_for(recording_api.url))

    assert with_token.returncode == without.returncode == 0, (with_token.stderr, without.stderr)
    first, second = recording_api.requests
    assert first.headers["authorization"] == f"Bearer {token}"
    assert "authorization" not in second.headers


def test_an_import_posts_json_with_the_link_and_recursive(recording_api: RecordingApi) -> None:
    recording_api.status = 202
    recording_api.body = json.dumps({"import_id": IMPORT_ID, "status": "queued"}).encode()
    link = DRIVE_LINK + '?usp=sharing&x="quoted"'
    deep = run("import-google-drive.sh", link, env=env_for(recording_api.url))
    flat = run("import-google-drive.sh", "--no-subfolders", link, env=env_for(recording_api.url))
    dropbox = run(
        "import-dropbox.sh",
        "https://www.dropbox.com/scl/fo/a/b?rlkey=c",
        env=env_for(recording_api.url, DROPBOX_LINK_PASSWORD="open sesame"),
    )
    any_source = run(
        "import.sh",
        "https://www.dropbox.com/sh/a/b",
        env=env_for(recording_api.url, LINK_PASSWORD="hunter2"),
    )

    assert deep.stdout == flat.stdout == dropbox.stdout == any_source.stdout == f"{IMPORT_ID}\n"
    sent = [(r.method, r.path, r.headers["content-type"]) for r in recording_api.requests]
    assert sent == [
        ("POST", "/import/google-drive", "application/json"),
        ("POST", "/import/google-drive", "application/json"),
        ("POST", "/import/dropbox", "application/json"),
        ("POST", "/imports", "application/json"),
    ]
    bodies = [json.loads(r.body) for r in recording_api.requests]
    assert bodies == [
        {"url": link, "recursive": True},
        {"url": link, "recursive": False},
        {
            "url": "https://www.dropbox.com/scl/fo/a/b?rlkey=c",
            "recursive": True,
            "password": "open sesame",
        },
        {"url": "https://www.dropbox.com/sh/a/b", "recursive": True, "password": "hunter2"},
    ]


def test_sync_posts_its_interval_options_and_changes_send_only_what_is_given(
    recording_api: RecordingApi,
) -> None:
    recording_api.status = 201
    recording_api.body = json.dumps(
        {"sync_id": SYNC_ID, "last_run": {"import_id": IMPORT_ID}}
    ).encode()
    created = run(
        "sync.sh",
        DRIVE_LINK,
        "--every",
        "6h",
        "--no-subfolders",
        "--delete-removed",
        "--notify",
        "https://hooks.example.com/x",
        env=env_for(recording_api.url),
    )
    assert created.returncode == 0, created.stderr
    assert created.stdout == f"{SYNC_ID}\n"
    assert f"first run: import {IMPORT_ID} (watch-import.sh {IMPORT_ID})" in created.stderr
    changed = run(
        "sync-change.sh", SYNC_ID, "--no-notify", "--every", "1d", env=env_for(recording_api.url)
    )
    assert changed.returncode == 0, changed.stderr
    post, patch = recording_api.requests
    assert (post.method, post.path) == ("POST", "/syncs")
    assert json.loads(post.body) == {
        "url": DRIVE_LINK,
        "every": "6h",
        "recursive": False,
        "on_removed": "delete",
        "notify_url": "https://hooks.example.com/x",
    }
    assert (patch.method, patch.path) == ("PATCH", f"/syncs/{SYNC_ID}")
    assert json.loads(patch.body) == {"notify_url": None, "every": "1d"}


def test_an_error_body_that_is_not_json_is_shown_as_text(recording_api: RecordingApi) -> None:
    recording_api.status = 502
    recording_api.content_type = "text/html"
    recording_api.body = b"<html>\n<h1>502 Bad Gateway</h1>\n</html>"
    result = run("retry.sh", IMPORT_ID, env=env_for(recording_api.url))
    assert result.returncode == 3
    assert result.stderr == (
        "retry.sh: the API answered HTTP 502: <html> <h1>502 Bad Gateway</h1> </html>\n"
    )


def test_401_without_a_token_says_to_set_api_token(recording_api: RecordingApi) -> None:
    recording_api.status = 401
    recording_api.body = b'{"error":"unauthorized","detail":"missing bearer token"}'
    result = run("list-images.sh", env=env_for(recording_api.url))
    assert result.returncode == 3
    assert result.stderr == (
        "list-images.sh: the API answered HTTP 401: unauthorized: missing bearer token\n"
        "list-images.sh: this API wants a token: set API_TOKEN\n"
    )


def test_scripts_pass_shellcheck() -> None:
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    scripts = sorted(str(path) for path in CURL_DIR.glob("*.sh"))
    result = subprocess.run(
        ["shellcheck", "--shell=sh", "--external-sources", *scripts],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_scripts_run_under_posix_sh() -> None:
    assert Path(SHELL).name in {"dash", "sh"}
    for path in CURL_DIR.glob("*.sh"):
        text = path.read_text()
        if path.name != "lib.sh":
            assert text.startswith("#!/bin/sh\n"), path.name
            assert "\nset -eu\n" in text, path.name
            assert path.stat().st_mode & 0o111, f"{path.name} is not executable"
        result = subprocess.run([SHELL, "-n", str(path)], capture_output=True, check=False)
        assert result.returncode == 0, (path.name, result.stderr)


def test_the_collection_is_v2_1_with_tests_and_no_saved_answers_on_every_request() -> None:
    collection = json.loads(COLLECTION.read_text())
    assert collection["info"]["schema"] == (
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    )
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables["baseUrl"] == "http://localhost:8000"
    assert {"folderLink", "importId", "imageId", "apiToken"} <= set(variables)
    items = list(requests_of(collection["item"]))
    assert len(items) >= 15
    for item in items:
        assert item["request"]["url"]["raw"].startswith("{{baseUrl}}/"), item["name"]
        # The API's answers are described once, in its OpenAPI document; a saved example here
        # would be a second description, left behind when the API changes.
        assert not item.get("response"), f"{item['name']} saves an example answer"
        tests = "\n".join(
            line
            for event in item["event"]
            if event["listen"] == "test"
            for line in event["script"]["exec"]
        )
        assert "pm.response.to.have.status" in tests or "to.be.oneOf" in tests, item["name"]
        # A 204 has no body to check the shape of; an archive's bytes are checked by the
        # headers that describe them (Content-Type, -Length, -Range).
        assert (
            "jsonSchema" in tests
            or "headers.get('Location')" in tests
            or "to.have.status(204)" in tests
            or "headers.get('Content-" in tests
        ), item["name"]


def import_view(status: str, **fields: Any) -> bytes:
    counts = {
        "discovered": 3,
        "imported": 2,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
        "settled": 3,
    }
    view = {
        "import_id": IMPORT_ID,
        "status": status,
        "counts": counts,
        "bytes_imported": 2_500_000,
        "error": None,
        "elapsed_seconds": 12.34,
        "rate": {"files_per_second": 0.243, "bytes_per_second": 202593.2},
        **fields,
    }
    return json.dumps(view).encode()


@pytest.mark.parametrize(
    ("status", "error", "exit_code", "complaint"),
    [
        ("completed", None, 0, ""),
        (
            "completed_with_errors",
            None,
            2,
            f"watch-import.sh: 1 file(s) failed for good: failures.sh {IMPORT_ID} lists them,"
            f" retry.sh {IMPORT_ID} retries them\n",
        ),
        (
            "failed",
            "the folder is not shared publicly",
            1,
            f"watch-import.sh: import {IMPORT_ID} failed: the folder is not shared publicly\n",
        ),
        ("cancelled", None, 1, f"watch-import.sh: import {IMPORT_ID} was cancelled\n"),
    ],
)
def test_watch_exit_code_says_how_the_import_ended(
    recording_api: RecordingApi, status: str, error: str | None, exit_code: int, complaint: str
) -> None:
    recording_api.body = import_view(status, error=error)
    result = run("watch-import.sh", IMPORT_ID, env=env_for(recording_api.url))
    assert result.returncode == exit_code
    assert result.stdout == (
        f"{status}: 3/3 files (2 imported, 0 unchanged, 0 skipped, 1 failed), 2.5 MB,"
        " 0.2 files/s, 202.6 kB/s, 12.3s\n"
    )
    assert result.stderr == complaint
    assert [r.path for r in recording_api.requests] == [f"/imports/{IMPORT_ID}"]


def test_watch_prints_how_many_imports_are_ahead_while_the_import_waits(
    recording_api: RecordingApi,
) -> None:
    recording_api.body = import_view("queued", queue_position=3)
    env = env_for(recording_api.url, WATCH_INTERVAL="0.1")
    with subprocess.Popen(
        [SHELL, str(CURL_DIR / "watch-import.sh"), IMPORT_ID],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as watching:
        assert watching.stdout is not None
        assert watching.stdout.readline() == "queued: waiting: 2 imports ahead\n"
        recording_api.body = import_view("queued", queue_position=2)
        assert watching.stdout.readline() == "queued: waiting: 1 import ahead\n"
        recording_api.body = import_view("completed", queue_position=None)
        rest, _ = watching.communicate(timeout=30)
    assert watching.returncode == 0
    assert rest.startswith("completed: 3/3 files")


def test_cancel_prints_the_status_and_the_jobs_it_cancelled(recording_api: RecordingApi) -> None:
    recording_api.status = 202
    recording_api.body = json.dumps(
        {"import_id": IMPORT_ID, "status": "cancelled", "cancelled_jobs": 12}
    ).encode()
    cancelled = run("cancel.sh", IMPORT_ID, env=env_for(recording_api.url))
    recording_api.status = 409
    recording_api.body = b'{"error":"conflict","detail":"the import has already finished"}'
    finished = run("cancel.sh", IMPORT_ID, env=env_for(recording_api.url))

    assert cancelled.returncode == 0
    assert cancelled.stdout == f"import {IMPORT_ID}: cancelled; 12 queued job(s) cancelled\n"
    assert [(r.method, r.path) for r in recording_api.requests] == [
        ("POST", f"/imports/{IMPORT_ID}/cancel")
    ] * 2
    assert finished.returncode == 3
    assert finished.stderr == (
        "cancel.sh: the API answered HTTP 409: conflict: the import has already finished\n"
    )


def test_ops_job_sends_ops_token_and_the_operator_and_posts_the_change(
    recording_api: RecordingApi,
) -> None:
    recording_api.status = 200
    recording_api.body = json.dumps(
        {
            "job_id": 42,
            "action": "abort_requested",
            "status": "doing",
            "task": "import.transfer_batch",
            "queue": "transfers",
            "attempts": 1,
            "abort_requested": True,
            "import_id": None,
            "worker_id": 3,
            "failures": [
                {
                    "attempt": 1,
                    "outcome": "retried",
                    "error_class": "httpx.ReadTimeout",
                    "message": "timed out",
                    "traceback": "Traceback (most recent call last):\nhttpx.ReadTimeout",
                    "failed_at": "2026-05-01T10:00:00Z",
                }
            ],
        }
    ).encode()
    env = env_for(recording_api.url, API_TOKEN="reader", OPS_TOKEN="ops", OPERATOR="carol")
    result = run("ops-job.sh", "42", "--cancel", "--traceback", env=env)

    assert result.returncode == 0, result.stderr
    post, get = recording_api.requests
    assert (post.method, post.path, get.method, get.path) == (
        "POST",
        "/ops/jobs/42/cancel",
        "GET",
        "/ops/jobs/42",
    )
    for request in (post, get):
        assert request.headers["authorization"] == "Bearer ops"
        assert request.headers["x-operator"] == "carol"
    assert result.stderr == "job 42: abort requested (now doing)\n"
    lines = result.stdout.splitlines()
    assert "status: doing (asked to abort)" in lines
    assert "last error: httpx.ReadTimeout: timed out" in lines
    assert "last error at: 2026-05-01T10:00:00Z (attempt 1, retried)" in lines
    assert lines[-1] == "httpx.ReadTimeout"
