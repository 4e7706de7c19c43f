"""Benchmark scenarios of what limits an import besides CPU and distance: a source's quotas, and
other imports sharing the workers (issue 23). `bench/transfer_vs_rclone.py` runs them
(BENCH_SCENARIOS=quota, fairness) on its own stack (embedded PostgreSQL, SeaweedFS, the Drive
emulator, the API and `python -m worker` processes); they measure ours only, since rclone has
neither quotas to find nor imports to share.

quota      BENCH_QUOTA_FILES (default 1,000) images of ~20 KB in one folder, behind the Drive
           emulator's per-user quota: BENCH_QUOTA_RPS requests a second (default 10, as rclone's
           docs say Drive allows by default), a burst of BENCH_QUOTA_BURST (default: one second's
           worth), refused with BENCH_QUOTA_ANSWER (user_rate_limit_exceeded: 403
           userRateLimitExceeded, the default; rate_limit_exceeded; too_many_requests: 429). Our
           pace is lifted (SOURCE_REQUESTS_PER_SECOND=100000 unless set), so the worker must find
           the rate from the answers. BENCH_QUOTA_HELD_FILES images (default 2, in the first half
           of the folder) answer downloadQuotaExceeded for BENCH_QUOTA_HELD_SECONDS (default 30)
           from their first download, then serve, as a popular file's quota clears. Printed:
           files/s against the quota, files failed (and why), the emulator's answers (served,
           rate-limited, quota-refused), the requests retried, and the requests beyond those the
           answers asked to retry (a file downloaded twice, an answer neither served nor refused).
           Targets (issue 23): files/s within 10 % of the quota, no file failed, nothing beyond.
fairness   a small import (20 images of ~150 KB) alone, then the same size of import started
           BENCH_FAIRNESS_DELAY_S (default 30) seconds into a large one (BENCH_FAIRNESS_BIG_FILES
           images of ~20 KB, default 100,000, the target's size; 10,000 or 20,000 make a run of a
           few minutes). Printed: the small import's time alone and during the large one, and
           their ratio (target: at most 2), and how far the large one had got meanwhile.

Both verify the data before printing a figure: every imported image's row and object (size,
MD5, key) match the fixture's, and nothing else is in the bucket; the quota scenario lists the
files that failed instead of refusing to print. BENCH_WAN=1 runs them behind the WAN delays;
BENCH_WORKERS sets the worker processes (default 1); BENCH_KEEP=1 keeps the work directory.

    BENCH_SCENARIOS=quota make bench
    BENCH_QUOTA_FILES=3000 BENCH_QUOTA_ANSWER=too_many_requests BENCH_SCENARIOS=quota make bench
    BENCH_FAIRNESS_BIG_FILES=20000 BENCH_SCENARIOS=fairness make bench
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import yaml
from transfer_vs_rclone import (
    OURS,
    Scenario,
    Stack,
    Wan,
    f1,
    f2,
    parse_time,
    stop_process,
    table,
    verify_bucket,
    verify_ours,
    wait_until_up,
    work_dir,
)

from emulators.google_drive import DriveFixture, ExpectedFile
from emulators.google_drive.cli import spread

FINISHED = {"completed", "completed_with_errors", "failed", "cancelled"}
POLL_SECONDS = 0.5


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, str(default)))


# --- ours: the API and the workers, and imports through them ---------------------------------


@contextmanager
def ours_running(stack: Stack) -> Iterator[httpx.Client]:
    """The API and BENCH_WORKERS worker processes on `stack`; a client of the API. A file held
    by its download quota is tried again after 5 s (SOURCE_QUOTA_RETRY_SECONDS unless set), not
    the production quarter of an hour: the held files' window is seconds long here."""
    env = {"SOURCE_QUOTA_RETRY_SECONDS": "5", **stack.env(OURS)}
    api = stack.spawn(
        "-m", "uvicorn", "api.app:app", "--port", str(stack.api_port), "--log-level", "warning",
        env=env,
    )  # fmt: skip
    processes = str(_env_int("BENCH_WORKERS", 1))
    workers = [stack.spawn("-m", "worker", env={**env, "WORKER_PROCESSES": processes})]
    try:
        wait_until_up(f"http://127.0.0.1:{stack.api_port}/healthz")
        time.sleep(2)  # the workers connect and start polling
        with httpx.Client(base_url=f"http://127.0.0.1:{stack.api_port}", timeout=60) as api_client:
            yield api_client
    finally:
        for process in [*workers, api]:
            stop_process(process)


def start_import(api: httpx.Client, link: str) -> str:
    response = api.post("/import/google-drive", json={"url": link})
    response.raise_for_status()
    return str(response.json()["import_id"])


def import_status(api: httpx.Client, import_id: str) -> dict[str, Any]:
    body: dict[str, Any] = api.get(f"/imports/{import_id}").raise_for_status().json()
    return body


def wait_for_import(api: httpx.Client, import_id: str, timeout: float) -> dict[str, Any]:
    """Poll until the import ends; past `timeout` seconds, cancel it and report what it did."""
    deadline = time.monotonic() + timeout
    while True:
        body = import_status(api, import_id)
        if body["status"] in FINISHED:
            return body
        if time.monotonic() > deadline:
            api.post(f"/imports/{import_id}/cancel").raise_for_status()
            print(f"  import {import_id} still {body['status']} after {timeout:g} s: cancelled")
            timeout = float("inf")
        time.sleep(POLL_SECONDS)


def elapsed_of(body: dict[str, Any]) -> float:
    """The import's own start-to-end time, from the server's timestamps."""
    return parse_time(body["finished_at"]) - parse_time(body["created_at"])


def failure_reasons(api: httpx.Client, import_id: str) -> tuple[Counter[str], set[str]]:
    """The failed files' reasons (counted) and ids."""
    reasons: Counter[str] = Counter()
    ids: set[str] = set()
    cursor: str | None = None
    while True:
        params = {"limit": "200", **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/imports/{import_id}/failures", params=params).raise_for_status().json()
        for item in page["items"]:
            reasons[(item["reason"] or "")[:90]] += 1
            ids.add(item["file_id"])
        cursor = page["next_cursor"]
        if not cursor:
            return reasons, ids


def verify_imported(stack: Stack, expected: dict[str, ExpectedFile], failed: set[str]) -> None:
    """Every image that was not reported failed has its row and its object, exact; nothing
    else is there."""
    with psycopg.connect(stack.database_url) as conn:
        rows = conn.execute("SELECT source_file_id, md5_checksum, size, storage_key FROM images")
        by_id = {row[0]: row[1:] for row in rows.fetchall()}
    assert set(by_id) == set(expected) - failed, "image rows are not the images not failed"
    for file_id, (md5, size, key) in by_id.items():
        image = expected[file_id]
        assert (md5, size, key) == (image.md5, image.size, f"google_drive/{file_id}"), file_id
    verify_bucket(stack, OURS, {file_id: expected[file_id] for file_id in by_id})


# --- the stack of one of these scenarios -------------------------------------------------------


@contextmanager
def scenario_stack(
    name: str, spec: dict[str, Any], keep: bool
) -> Iterator[tuple[Stack, DriveFixture, dict[str, ExpectedFile]]]:
    """A started stack serving a fixture written from `spec` (one root folder), and the
    root's images, every checksum computed (here and in the emulator) before anything is
    measured."""
    with work_dir(name, keep) as work:
        fixture_path = work / "fixture.yaml"
        fixture_path.write_text(yaml.safe_dump(spec))
        fixture = DriveFixture.from_yaml(fixture_path)
        root = spec["folders"][0]["name"]
        scenario = Scenario(name, str(fixture_path), root, 1, name, default=False)
        wan = Wan.of(scenario)
        if wan is not None:
            print(f"  {wan}", flush=True)
        stack = Stack(work, scenario, fixture, wan)
        try:
            stack.start()
            stack.warm_emulator()
            expected = {image.id: image for image in fixture.expected_images(root)}
            for image in expected.values():
                image.md5  # noqa: B018 - computed now, not while ours is measured
            yield stack, fixture, expected
        finally:
            stack.stop()


def emulator_control(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=f"{stack.drive_url}/_emulator", timeout=30)


# --- quota ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    rate: float
    burst: float
    answer: str
    held_files: int
    held_seconds: float

    @classmethod
    def from_env(cls) -> Quota:
        return cls(
            _env_float("BENCH_QUOTA_RPS", 10),
            _env_float("BENCH_QUOTA_BURST", 0),
            os.environ.get("BENCH_QUOTA_ANSWER", "user_rate_limit_exceeded"),
            _env_int("BENCH_QUOTA_HELD_FILES", 2),
            _env_float("BENCH_QUOTA_HELD_SECONDS", 30),
        )

    def __str__(self) -> str:
        burst = f"{self.burst:g}" if self.burst else "one second's worth"
        return f"{self.rate:g} requests/s per user, burst {burst}, refused with {self.answer}"


def run_quota(keep: bool) -> None:
    files = _env_int("BENCH_QUOTA_FILES", 1000)
    quota = Quota.from_env()
    spec = {
        "seed": 2028,
        "folders": [
            {
                "name": "quota",
                "files": [
                    {"name_pattern": "IMG_{i:05d}.jpg", "count": files, "size": [15000, 25000]}
                ],
            }
        ],
    }
    pace = os.environ.get("SOURCE_REQUESTS_PER_SECOND", "100000")
    print(
        f"\n== quota: {files:,} images of ~20 KB behind Drive's per-user quota ({quota});"
        f" our pace {pace} requests/s ==",
        flush=True,
    )
    with scenario_stack("quota", spec, keep) as (stack, fixture, expected):
        held = spread(list(expected)[: max(1, len(expected) // 2)], quota.held_files)
        with emulator_control(stack) as control:
            control.post(
                "/settings",
                json={
                    "rate_limit_per_s": quota.rate,
                    "rate_limit_burst": quota.burst,
                    "rate_limit_answer": quota.answer,
                },
            ).raise_for_status()
            for file_id in held if quota.held_files else []:
                window = {"download_quota_window_s": quota.held_seconds}
                control.post(f"/files/{file_id}", json=window).raise_for_status()
            control.delete("/stats").raise_for_status()  # the warm-up's listing is not ours
            with ours_running(stack) as api:
                import_id = start_import(api, fixture.link("quota"))
                body = wait_for_import(api, import_id, _env_float("BENCH_QUOTA_TIMEOUT_S", 1800))
                reasons, failed = failure_reasons(api, import_id)
            stats = control.get("/stats").raise_for_status().json()
        verify_imported(stack, expected, failed)
    print_quota(quota, files, body, reasons, failed, set(held), stats)


def print_quota(
    quota: Quota,
    files: int,
    body: dict[str, Any],
    reasons: Counter[str],
    failed: set[str],
    held: set[str],
    stats: dict[str, Any],
) -> None:
    counts = body["counts"]
    elapsed = elapsed_of(body)
    imported = counts["imported"] + counts["unchanged"]
    requests: dict[str, int] = stats["requests"]
    answers = Counter(stats["answers"])

    def answered(outcome: str, kinds: tuple[str, ...] = ("list", "get", "media")) -> int:
        return sum(answers[f"{kind} {outcome}"] for kind in kinds)

    media = requests.get("media", 0)
    metadata = requests.get("list", 0) + requests.get("get", 0)
    files_asked = len(stats["media_requests_by_file"])
    files_served = sum(1 for served in stats["bytes_by_file"].values() if served > 0)
    media_refused = answered("rate_limited", ("media",)) + answered("quota_refused", ("media",))
    metadata_refused = answered("rate_limited", ("list", "get"))
    retried = (media - files_asked) + metadata_refused
    # A media request is accounted for by a first download of its file or by a refusal that
    # asked for another; a listing request by being served or refused.
    beyond = (media - files_served - media_refused) + (
        metadata - answered("served", ("list", "get")) - metadata_refused
    )
    files_per_second = imported / elapsed
    rows = [
        ["", "ours"],
        ["import status", body["status"]],
        ["files imported / failed / in the folder",
         f"{imported:,} / {counts['failed']:,} / {files:,}"],
        ["elapsed, s", f1(elapsed)],
        ["files/s", f1(files_per_second)],
        ["files/s / the quota's requests/s", f2(files_per_second / quota.rate)],
        ["API requests: list + get / media", f"{metadata:,} / {media:,}"],
        ["answers: served", f"{answered('served'):,}"],
        ["answers: rate-limited", f"{answered('rate_limited'):,}"],
        ["answers: quota-refused (downloadQuotaExceeded)", f"{answered('quota_refused'):,}"],
        ["retried requests", f"{retried:,}"],
        ["requests beyond those the answers asked to retry", f"{beyond:,}"],
        [f"held files ({quota.held_seconds:g} s): imported / failed",
         f"{len(held - failed)} / {len(held & failed)}" if held else "-"],
    ]  # fmt: skip
    print()
    print(table(rows))
    print(
        f"quota: {quota}; files/s within 10 % of the quota would be ≥ {0.9 * quota.rate:.1f}"
        " (each file takes at least one request, listing pages some more)"
    )
    for reason, count in reasons.most_common(5):
        print(f"  failed x{count}: {reason}")


# --- fairness ----------------------------------------------------------------------------------


def run_fairness(keep: bool) -> None:
    big_files = _env_int("BENCH_FAIRNESS_BIG_FILES", 100_000)
    delay = _env_float("BENCH_FAIRNESS_DELAY_S", 30)
    small = {"name_pattern": "IMG_{i:03d}.jpg", "count": 20, "size": [100_000, 200_000]}
    big = {"name_pattern": "IMG_{i:06d}.jpg", "count": big_files, "size": [10_000, 30_000]}
    folders = [
        {"name": "small_alone", "files": [small]},
        {"name": "small_during", "files": [small]},
        {"name": "big", "files": [big]},
    ]
    spec = {"seed": 2029, "folders": [{"name": "fairness", "folders": folders}]}
    print(
        f"\n== fairness: a 20-image import alone, then {delay:g} s into a {big_files:,}-image"
        " import ==",
        flush=True,
    )
    with scenario_stack("fairness", spec, keep) as (stack, fixture, expected):
        with ours_running(stack) as api:
            link = fixture.link("fairness/small_alone")
            alone = wait_for_import(api, start_import(api, link), 600)
            print(f"  small import alone: {elapsed_of(alone):.1f} s", flush=True)
            big_id = start_import(api, fixture.link("fairness/big"))
            time.sleep(delay)
            big_at_start = import_status(api, big_id)["counts"]["settled"]
            link = fixture.link("fairness/small_during")
            during = wait_for_import(api, start_import(api, link), 7200)
            big_at_end = import_status(api, big_id)["counts"]["settled"]
            print(f"  small import during the large one: {elapsed_of(during):.1f} s", flush=True)
            big_body = wait_for_import(api, big_id, 7200)
        for body in (alone, during, big_body):
            assert body["status"] == "completed", f"import ended {body['status']}: {body['error']}"
        verify_ours(stack, expected)
    print_fairness(big_files, delay, alone, during, big_body, (big_at_start, big_at_end))


def print_fairness(
    big_files: int,
    delay: float,
    alone: dict[str, Any],
    during: dict[str, Any],
    big: dict[str, Any],
    big_settled: tuple[int, int],
) -> None:
    ratio = elapsed_of(during) / elapsed_of(alone)
    big_elapsed = elapsed_of(big)
    rows = [
        ["", "s"],
        ["small import (20 images) alone", f1(elapsed_of(alone))],
        [f"small import started {delay:g} s into the large one", f1(elapsed_of(during))],
        [f"large import ({big_files:,} images)", f1(big_elapsed)],
    ]
    print()
    print(table(rows))
    print(
        f"small during / small alone: {ratio:.2f} (target: at most 2);"
        f" the large import settled {big_settled[0]:,} files before the small one started and"
        f" {big_settled[1]:,} by the time it finished; large import {big_files / big_elapsed:.1f}"
        " files/s"
    )


SCENARIOS: dict[str, Callable[[bool], None]] = {"quota": run_quota, "fairness": run_fairness}

if __name__ == "__main__":
    raise SystemExit("run it through bench/transfer_vs_rclone.py: BENCH_SCENARIOS=quota make bench")
