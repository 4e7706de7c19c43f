"""Every curl script, and the Postman collection through newman, against the live stack: the API
under uvicorn on a port, the real worker, PostgreSQL, S3, the Drive and Dropbox emulators, and a
public bucket seeded in the test S3 server (SeaweedFS), read anonymously."""

import json
import os
import pty
import re
import subprocess
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.dropbox import DropboxEmulatorServer
from emulators.google_drive import DriveFixture
from emulators.public_s3 import seed_public_bucket
from tests.conftest import Stack
from tests.curl.conftest import (
    API_TOKEN,
    COLLECTION,
    CURL_DIR,
    SHELL,
    requests_of,
    run,
    script_env,
)

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
NEWMAN = CURL_DIR / "node_modules" / ".bin" / "newman"
# The API (tests/conftest.py: api_url) expects the token, and takes more than the default 30
# changes a minute from the scripts and the collection; the limit itself is tested in
# tests/api/test_security.py.
OPS_TOKEN = "curl-ops-token"
# The public bucket is on the test S3 server, on loopback: both the API (which resolves a
# bucket's host when the import is asked for) and the worker must be let reach it.
BUCKET_NETWORKS = {"PUBLIC_S3_ALLOWED_NETWORKS": "127.0.0.0/8"}
API_ENV = {
    "API_TOKEN": API_TOKEN,
    "OPS_TOKEN": OPS_TOKEN,
    "START_RATE_LIMIT_PER_MINUTE": "600",
    **BUCKET_NETWORKS,
}
WORKER_ENV = BUCKET_NETWORKS


def start(api_url: str, link: str, *options: str) -> str:
    result = run("import-google-drive.sh", link, *options, env=script_env(api_url))
    assert result.returncode == 0, result.stderr
    import_id = result.stdout.strip()
    assert UUID.match(import_id), result.stdout
    return import_id


def watch(api_url: str, import_id: str) -> subprocess.CompletedProcess[str]:
    return run("watch-import.sh", import_id, env=script_env(api_url, WATCH_INTERVAL="0.2"))


def api_get(api_url: str, path: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    response = httpx.get(f"{api_url}{path}", params=params, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def rows(output: str) -> list[list[str]]:
    return [line.split("\t") for line in output.splitlines()]


def has_route(api_url: str, method: str, path: str) -> bool:
    return method in api_get(api_url, "/schema/openapi.json")["paths"].get(path, {})


@pytest.fixture(scope="module")
def public_bucket(stack: Stack) -> str:
    """A public bucket on the stack's S3 server, its objects under `curl/` and `postman/`
    (three images and a text file each); the link of the bucket, to which a prefix is added."""
    name = f"curl-public-{uuid.uuid4().hex[:8]}"
    files = [
        {"name_pattern": "IMG_{i:02d}.jpg", "count": 3, "size": [400, 2000]},
        {"name": "notes.txt", "size": 100},
    ]
    spec = {"seed": 5, "folders": [{"name": n, "files": files} for n in ("curl", "postman")]}
    seed_public_bucket(stack.s3.client(), name, DriveFixture(spec))
    return f"s3+{stack.s3.endpoint_url}/{name}"


@pytest.fixture(scope="module")
def flat_import(stack: Stack, api_url: str) -> str:
    """A completed import of "curl flat" without its subfolder: four images and a text file."""
    import_id = start(api_url, stack.drive.fixture.link("curl flat"), "--no-subfolders")
    assert watch(api_url, import_id).returncode == 0
    return import_id


def test_import_prints_the_id_and_watch_exits_0_when_it_completes(
    stack: Stack, api_url: str
) -> None:
    import_id = start(api_url, stack.drive.fixture.link("curl photos"))

    result = watch(api_url, import_id)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    last = result.stdout.splitlines()[-1]
    assert last.startswith(
        "completed: 7/7 files (6 imported, 0 unchanged, 1 skipped, 0 failed), "
    ), result.stdout
    assert re.search(r", [\d.]+ kB, [\d.]+ files/s, [\d.]+ [kM]?B/s, [\d.]+s$", last), last
    assert api_get(api_url, f"/imports/{import_id}")["status"] == "completed"


def test_import_sh_imports_a_folder_of_a_public_bucket(api_url: str, public_bucket: str) -> None:
    result = run("import.sh", f"{public_bucket}/curl/", env=script_env(api_url))
    assert result.returncode == 0, result.stderr
    import_id = result.stdout.strip()
    assert UUID.match(import_id), result.stdout

    watched = watch(api_url, import_id)

    assert watched.returncode == 0, watched.stderr
    assert watched.stdout.splitlines()[-1].startswith(
        "completed: 4/4 files (3 imported, 0 unchanged, 1 skipped, 0 failed), "
    ), watched.stdout
    assert api_get(api_url, f"/imports/{import_id}")["source"] == "public_s3"


def test_a_folder_with_a_live_import_prints_that_import_and_watch_prints_each_change(
    stack: Stack, api_url: str
) -> None:
    link = stack.drive.fixture.link("curl busy")
    first = start(api_url, link)
    again = run("import-google-drive.sh", link, env=script_env(api_url))

    assert again.returncode == 0
    assert again.stdout.strip() == first
    assert "already has a live import" in again.stderr

    result = watch(api_url, first)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # Not a terminal: a line per change, so several while 300 files settle, none twice.
    assert len(lines) >= 3, lines
    assert len(set(lines)) == len(lines)
    assert all("\r" not in line for line in lines)
    assert lines[-1].startswith("completed: 300/300 files (300 imported,")


def test_watch_redraws_one_line_on_a_terminal(api_url: str, flat_import: str) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [SHELL, str(CURL_DIR / "watch-import.sh"), flat_import],
        env=script_env(api_url),
        stdout=terminal,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    assert process.wait(timeout=30) == 0
    text = output.decode()
    assert text.startswith("\rcompleted: 5/5 files (4 imported, 0 unchanged, 1 skipped"), text
    assert text.endswith("\x1b[K\r\n")  # the terminal turns the final \n into \r\n


def test_list_images_prints_one_page_or_all_of_them(api_url: str, flat_import: str) -> None:
    env = script_env(api_url)
    images = api_get(api_url, "/images", import_id=flat_import)["items"]
    assert len(images) == 4

    one_page = run("list-images.sh", "--import", flat_import, "--limit", "3", env=env)
    every_page = run("list-images.sh", "--import", flat_import, "--limit", "3", "--all", env=env)

    assert one_page.returncode == every_page.returncode == 0
    expected = [[i["id"], str(i["size"]), i["mime_type"], i["name"]] for i in images]
    assert rows(one_page.stdout) == expected[:3]
    assert one_page.stderr == "list-images.sh: more images: add --all to list them all\n"
    assert rows(every_page.stdout) == expected
    assert every_page.stderr == ""
    assert sorted(name for *_, name in expected) == [f"pic_{i}.png" for i in (1, 2, 3, 4)]


def test_download_archive_saves_and_resumes_an_import_as_a_zip(
    api_url: str, flat_import: str, tmp_path: Path
) -> None:
    env = script_env(api_url)
    whole = tmp_path / "whole.zip"
    saved = run("download-archive.sh", "--import", flat_import, "-o", str(whole), env=env)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout == f"{whole}\n"
    with zipfile.ZipFile(whole) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == [f"pic_{i}.png" for i in (1, 2, 3, 4)]
    # A cut download: the first half and its ETag, as a cut run leaves them.
    cut = tmp_path / "cut.zip"
    data = whole.read_bytes()
    Path(f"{cut}.part").write_bytes(data[: len(data) // 2])
    etag = httpx.get(
        f"{api_url}/imports/{flat_import}/archive",
        headers={"Authorization": f"Bearer {API_TOKEN}", "Range": "bytes=0-0"},
    ).headers["etag"]
    Path(f"{cut}.part.etag").write_text(f"{etag}\n")
    resumed = run("download-archive.sh", "--import", flat_import, "-o", str(cut), env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert cut.read_bytes() == data
    assert not Path(f"{cut}.part").exists()
    images = api_get(api_url, "/images", import_id=flat_import)["items"]
    chosen = run("download-archive.sh", images[0]["id"], "-o", str(tmp_path / "one.zip"), env=env)
    assert chosen.returncode == 0, chosen.stderr
    assert zipfile.ZipFile(tmp_path / "one.zip").namelist() == [images[0]["name"]]


def test_list_images_filters_by_source(
    stack: Stack, api_url: str, dropbox: DropboxEmulatorServer, flat_import: str
) -> None:
    result = run("import-dropbox.sh", dropbox.fixture.link("small"), env=script_env(api_url))
    assert result.returncode == 0, result.stderr
    assert watch(api_url, result.stdout.strip()).returncode == 0

    from_dropbox = run("list-images.sh", "--source", "dropbox", "--all", env=script_env(api_url))
    from_drive = run("list-images.sh", "--source", "google_drive", "--all", env=script_env(api_url))

    assert from_dropbox.returncode == from_drive.returncode == 0
    assert sorted(name for *_, name in rows(from_dropbox.stdout)) == [
        "deep.png",
        *(f"photo_{i}.jpg" for i in (1, 2, 3, 4)),
    ]
    drive_ids = {image_id for image_id, *_ in rows(from_drive.stdout)}
    dropbox_ids = {image_id for image_id, *_ in rows(from_dropbox.stdout)}
    assert not drive_ids & dropbox_ids
    flat_ids = {i["id"] for i in api_get(api_url, "/images", import_id=flat_import)["items"]}
    assert flat_ids <= drive_ids


def test_failures_lists_every_page_and_retry_requeues_them(stack: Stack, api_url: str) -> None:
    env = script_env(api_url)
    import_id = start(api_url, stack.drive.fixture.link("curl failing"))

    watched = watch(api_url, import_id)
    assert watched.returncode == 2, watched.stderr
    assert watched.stdout.splitlines()[-1].startswith(
        "completed_with_errors: 5/5 files (3 imported, 0 unchanged, 0 skipped, 2 failed)"
    )
    assert f"2 file(s) failed for good: failures.sh {import_id} lists them" in watched.stderr

    failures = run("failures.sh", import_id, "--limit", "1", env=env)
    assert failures.returncode == 0, failures.stderr
    listed = rows(failures.stdout)
    assert [name for _, _, name, _ in listed] == sorted(
        ["flagged_1.jpg", "flagged_2.jpg"],
        key=lambda name: stack.drive.fixture.id_of(f"curl failing/{name}"),
    )
    for file_id, attempts, _, reason in listed:
        assert file_id.startswith("1")
        assert int(attempts) >= 1
        assert "cannotDownloadAbusiveFile" in reason

    retried = run("retry.sh", import_id, env=env)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == f"import {import_id}: 2 failed file(s) queued again; status running\n"
    # Drive still refuses them: the import ends as it did.
    assert watch(api_url, import_id).returncode == 2


def test_an_api_error_exits_3_with_the_api_s_detail(stack: Stack, api_url: str) -> None:
    env = script_env(api_url)
    file_link = "https://drive.google.com/file/d/1AbCdEfGhIjKlMnOpQrStUvWxYz012345/view"

    bad_link = run("import-google-drive.sh", file_link, env=env)
    bad_dropbox_link = run("import-dropbox.sh", "https://example.com/photos", env=env)
    bad_source = run("list-images.sh", "--source", "flickr", env=env)

    assert bad_link.returncode == bad_dropbox_link.returncode == bad_source.returncode == 3
    assert bad_link.stdout == ""
    assert bad_link.stderr == (
        "import-google-drive.sh: the API answered HTTP 422: invalid_input: this is a link to a "
        "single file, not a folder: share the folder and paste its link\n"
    )
    assert "HTTP 422: invalid_input: " in bad_dropbox_link.stderr
    assert "HTTP 422: invalid_input: unknown source 'flickr'" in bad_source.stderr


@pytest.mark.parametrize("script", ["watch-import.sh", "failures.sh", "retry.sh"])
def test_an_unknown_import_exits_3_not_found(api_url: str, script: str) -> None:
    result = run(script, UNKNOWN_ID, env=script_env(api_url))
    assert result.returncode == 3
    assert result.stdout == ""
    assert f"{script}: the API answered HTTP 404: not_found: " in result.stderr


def test_cancel_stops_a_running_import_and_refuses_a_finished_one(
    stack: Stack, api_url: str, flat_import: str
) -> None:
    if not has_route(api_url, "post", "/imports/{import_id}/cancel"):
        pytest.skip("the API has no POST /imports/{import_id}/cancel yet (being added)")
    env = script_env(api_url)
    import_id = start(api_url, stack.drive.fixture.link("curl to cancel"))

    cancelled = run("cancel.sh", import_id, env=env)
    if re.search(r"HTTP 40[45]", cancelled.stderr):
        pytest.skip(f"the API's cancel route is not there: {cancelled.stderr.strip()}")
    assert cancelled.returncode == 0, cancelled.stderr
    assert re.fullmatch(
        rf"import {import_id}: cancelled; \d+ queued job\(s\) cancelled\n", cancelled.stdout
    )

    watched = watch(api_url, import_id)
    assert watched.returncode == 1
    assert f"import {import_id} was cancelled" in watched.stderr

    finished = run("cancel.sh", flat_import, env=env)
    assert finished.returncode == 3
    assert finished.stdout == ""
    assert "cancel.sh: the API answered HTTP 409: conflict: " in finished.stderr


def test_without_the_token_a_token_protected_api_says_to_set_api_token(api_url: str) -> None:
    # API_TOKEN guards the routes that start or change work; reads stay open.
    env = script_env(api_url)
    del env["API_TOKEN"]
    unknown = "00000000-0000-0000-0000-000000000000"
    missing = run("retry.sh", unknown, env=env)
    wrong = run("retry.sh", unknown, env={**env, "API_TOKEN": "not-the-token"})

    assert missing.returncode == wrong.returncode == 3
    assert "HTTP 401" in missing.stderr
    assert "set API_TOKEN" in missing.stderr
    assert "HTTP 401" in wrong.stderr


def test_the_sync_scripts_create_show_pause_run_change_and_delete_a_sync(
    stack: Stack, api_url: str
) -> None:
    env = script_env(api_url)
    created = run("sync.sh", stack.drive.fixture.link("curl synced"), "--every", "6h", env=env)
    assert created.returncode == 0, created.stderr
    sync_id = created.stdout.strip()
    assert UUID.match(sync_id), created.stdout
    first_run = re.search(r"first run: import (\S+) \(watch-import.sh", created.stderr)
    assert first_run, created.stderr
    assert watch(api_url, first_run[1]).returncode == 0

    again = run("sync.sh", stack.drive.fixture.link("curl synced"), "--every", "1h", env=env)
    assert again.returncode == 3
    assert "HTTP 409: conflict: folder " in again.stderr and sync_id in again.stderr

    listed = rows(run("syncs.sh", "--all", env=env).stdout)
    mine = [row for row in listed if row[0] == sync_id]
    assert len(mine) == 1
    assert mine[0][1] == "6h"
    assert mine[0][3:6] == ["completed", first_run[1], "1"]

    shown = run("sync-show.sh", sync_id, env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"last run: {first_run[1]} completed\n" in shown.stdout
    assert (
        "last run counts: 7 discovered, 6 imported, 0 unchanged, 1 skipped, 0 failed, 0 removed"
        in shown.stdout
    )

    paused = run("sync-pause.sh", sync_id, env=env)
    assert paused.stdout == f"sync {sync_id}: paused\n", paused.stderr
    refused = run("sync-run.sh", sync_id, env=env)
    assert refused.returncode == 3
    assert "HTTP 409: conflict: " in refused.stderr and "paused" in refused.stderr
    resumed = run("sync-resume.sh", sync_id, env=env)
    assert resumed.stdout.startswith(f"sync {sync_id}: every 6h, next run "), resumed.stderr

    changed = run("sync-change.sh", sync_id, "--every", "1d", "--on-removed", "delete", env=env)
    assert changed.returncode == 0, changed.stderr
    assert rows(changed.stdout)[0][:2] == [sync_id, "1d"]
    too_short = run("sync-change.sh", sync_id, "--every", "1m", env=env)
    assert too_short.returncode == 3
    assert "SYNC_MIN_INTERVAL_SECONDS" in too_short.stderr

    second_run = run("sync-run.sh", sync_id, env=env)
    assert second_run.returncode == 0, second_run.stderr
    assert watch(api_url, second_run.stdout.strip()).returncode == 0
    assert api_get(api_url, f"/imports/{second_run.stdout.strip()}")["counts"]["unchanged"] == 6

    deleted = run("sync-delete.sh", sync_id, env=env)
    assert deleted.stdout == f"sync {sync_id}: deleted\n", deleted.stderr
    gone = run("sync-show.sh", sync_id, env=env)
    assert gone.returncode == 3
    assert "HTTP 404: not_found: " in gone.stderr


def route_of(path: list[str]) -> str:
    """A collection URL path as the OpenAPI writes it, variables and ids as `{}`."""
    placeholder = re.compile(r"^(\{\{\w+\}\}|:\w+|[0-9a-f-]{36})$")
    return "/" + "/".join("{}" if placeholder.match(part) else part for part in path)


def test_the_collection_covers_every_route_of_the_api(api_url: str) -> None:
    paths = api_get(api_url, "/schema/openapi.json")["paths"]
    routes = {
        (method.upper(), re.sub(r"\{\w+\}", "{}", path))
        for path, operations in paths.items()
        for method in operations
    }
    collection = json.loads(COLLECTION.read_text())
    covered = {
        (item["request"]["method"], route_of(item["request"]["url"]["path"]))
        for item in requests_of(collection["item"])
    }
    assert len(routes) >= 10
    assert routes <= covered, f"not in the collection: {sorted(routes - covered)}"


@pytest.fixture(scope="module")
def newman() -> Path:
    if not NEWMAN.exists():
        pytest.fail("newman is not installed: run `npm ci` in curl/ (make test does)")
    return NEWMAN


def test_newman_runs_the_collection_against_the_stack(
    stack: Stack,
    api_url: str,
    dropbox: DropboxEmulatorServer,
    public_bucket: str,
    newman: Path,
    tmp_path: Path,
) -> None:
    report = tmp_path / "newman.json"
    variables = {
        "baseUrl": api_url,
        "apiToken": API_TOKEN,
        "opsToken": OPS_TOKEN,
        "folderLink": stack.drive.fixture.link("postman"),
        "cancelFolderLink": stack.drive.fixture.link("postman to cancel"),
        "dropboxLink": dropbox.fixture.link("legacy"),
        "bucketLink": f"{public_bucket}/postman/",
        "syncFolderLink": stack.drive.fixture.link("postman synced"),
    }
    command = [str(newman), "run", str(COLLECTION), "--reporters", "cli,json"]
    command += ["--reporter-json-export", str(report), "--color", "off", "--timeout", "120000"]
    for name, value in variables.items():
        command += ["--env-var", f"{name}={value}"]
    result = subprocess.run(
        command, cwd=CURL_DIR, capture_output=True, text=True, timeout=180, check=False
    )

    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    run_report = json.loads(report.read_text())["run"]
    assert run_report["failures"] == []
    executed = {execution["item"]["name"] for execution in run_report["executions"]}
    every_request = requests_of(json.loads(COLLECTION.read_text())["item"])
    assert executed == {item["name"] for item in every_request}
    assert run_report["stats"]["assertions"]["total"] >= 50
    # Every request carried its token: the operators' token on the operators' routes.
    for execution in run_report["executions"]:
        headers = {h["key"].lower(): h["value"] for h in execution["request"]["header"]}
        ops = execution["request"]["url"]["path"][0] == "ops"
        token = OPS_TOKEN if ops else API_TOKEN
        assert headers.get("authorization") == f"Bearer {token}", execution["item"]["name"]


def test_ops_job_shows_a_jobs_last_error_cancels_it_and_refuses_a_retry(
    stack: Stack, api_url: str
) -> None:
    with stack.db() as db:
        # A job queued for an hour from now (no worker takes it), which failed once before.
        ((job_id,),) = db.execute(
            "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('listing', 'import.start', 0, NULL,"
            " NULL, '{}'::jsonb, now() + interval '1 hour')::procrastinate_job_to_defer_v1])"
        ).fetchone()
        db.execute(
            "SELECT job_failure_record(%s, 'import.start', 1, 'retried', 'httpx.ReadTimeout',"
            " 'timed out', 'Traceback (most recent call last):\nhttpx.ReadTimeout: timed out')",
            (job_id,),
        )
    env = script_env(api_url, OPS_TOKEN=OPS_TOKEN, OPERATOR="carol")

    shown = run("ops-job.sh", str(job_id), "--traceback", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[:4] == [f"job: {job_id}", "task: import.start", "queue: listing", "status: todo"]
    assert "last error: httpx.ReadTimeout: timed out" in lines
    assert lines[-1] == "httpx.ReadTimeout: timed out"

    cancelled = run("ops-job.sh", str(job_id), "--cancel", env=env)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stderr == f"job {job_id}: cancelled (now cancelled)\n"
    assert "status: cancelled" in cancelled.stdout.splitlines()

    refused = run("ops-job.sh", str(job_id), "--retry", env=env)
    assert refused.returncode == 3
    assert "HTTP 409" in refused.stderr and "only a failed or stalled job" in refused.stderr

    # API_TOKEN alone opens no operators' route.
    reader = run("ops-job.sh", str(job_id), env=script_env(api_url))
    assert reader.returncode == 3
    assert "HTTP 401" in reader.stderr
