"""Benchmark: the operators' console's pages with 100,000 failed or cancelled and 100,000
queued jobs in Procrastinate's table (issue 26's target: every page under 100 ms at p99), and
what the job counters' triggers cost the job queue's hot path.

Fills a throwaway PostgreSQL with the jobs (and their events, as Procrastinate's triggers
record them) in a few INSERT ... SELECT, folds the job counters as the worker would, runs one
API and one web process under uvicorn, signs in as an operator, and asks each page, and each
API route behind it, one request at a time. Prints p50, p99 and the worst per page.

Then, on a second database, the hot path of a job through Procrastinate's own SQL functions
(defer one job, fetch it, finish it deleting it, as the worker does on success; and a batch
deferral of 32 jobs), BENCH_WRITE_JOBS times, with the counters' triggers enabled (and their
fold every 1,000 jobs) and then disabled, in alternating rounds: the time per job with and
without them. It checks nothing (a benchmark, not a test).

    uv run python bench/ops_console.py   (BENCH_REQUESTS=200 per page, BENCH_WRITE_JOBS=3000,
                                          BENCH_PARTS=pages,writes: either or both)
"""

import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres
from migrate.__main__ import apply_migrations

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
WARM_UP_REQUESTS = 10
WRITE_JOBS = int(os.environ.get("BENCH_WRITE_JOBS", "3000"))
# Which parts run: the pages (with the counting queries), the hot path's cost, or both.
PARTS = set(os.environ.get("BENCH_PARTS", "pages,writes").split(","))
WRITE_ROUNDS = 5
# The worker folds every 5 s; at a few hundred jobs a second, about this many.
FOLD_EVERY_JOBS = 1000
COUNTER_TRIGGERS = (
    "job_counts_inserted",
    "job_counts_deleted",
    "job_counts_moved",
    "job_counts_truncated",
)
OPS_TOKEN = "bench-ops-token"  # noqa: S105 (a throwaway server's)
OPS_PASSWORD = "bench-ops-password"  # noqa: S105

# 100 imports' worth of jobs over three queues: 100,000 queued (todo), 70,000 failed and
# 30,000 cancelled, each with the events Procrastinate records on the way there.
_FILL = """
INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts)
SELECT (ARRAY['transfers', 'transfers', 'listing', 'derivatives'])[1 + n % 4],
       (ARRAY['import.transfer_batch', 'import.transfer_batch', 'import.list_folder_page',
              'image.make_derivatives'])[1 + n % 4],
       jsonb_build_object('import_id', md5((n % 100)::text)::uuid::text,
                          'file_ids', jsonb_build_array(n, n + 1, n + 2)),
       CASE WHEN n <= 100000 THEN 'todo' WHEN n <= 170000 THEN 'failed' ELSE 'cancelled' END
           ::procrastinate_job_status,
       CASE WHEN n <= 100000 THEN 0 ELSE 3 END
FROM generate_series(1, 200000) AS n;
INSERT INTO procrastinate_events (job_id, type, at)
SELECT j.id, e.type::procrastinate_job_event_type, now() - make_interval(secs => e.ago)
FROM procrastinate_jobs j
CROSS JOIN LATERAL (VALUES ('started', 30), ('failed', 20)) AS e(type, ago)
WHERE j.status = 'failed';
INSERT INTO procrastinate_events (job_id, type)
SELECT id, 'cancelled' FROM procrastinate_jobs WHERE status = 'cancelled';
"""


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-ops-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "postgres", free_port())
        servers: list[subprocess.Popen[bytes]] = []
        try:
            postgres.start()
            if "pages" in PARTS:
                pages_and_counts(postgres, servers)
            if "writes" in PARTS:
                write_cost(postgres.create_database("bench_writes"))
        finally:
            for server in servers:
                server.terminate()
                server.wait()
            postgres.stop()


def pages_and_counts(postgres: EmbeddedPostgres, servers: list[subprocess.Popen[bytes]]) -> None:
    """Every page and API route of the console, then the counting query alone."""
    url = postgres.create_database("bench")
    apply_migrations(url)
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        conn.execute(_FILL)
        conn.commit()
        conn.execute("SELECT job_counts_fold()")
        conn.commit()
        conn.execute("ANALYZE")
        (jobs,) = conn.execute("SELECT count(*) FROM procrastinate_jobs").fetchone() or (0,)
        (failed_id,) = conn.execute(
            "SELECT max(id) FROM procrastinate_jobs WHERE status = 'failed'"
        ).fetchone() or (0,)
    print(f"bench: {jobs} jobs inserted in {time.monotonic() - started:.1f} s", flush=True)
    api_port, web_port = free_port(), free_port()
    base_env = {"PATH": os.environ.get("PATH", ""), "OPS_TOKEN": OPS_TOKEN}
    servers.append(
        uvicorn(
            "api.app:app",
            api_port,
            {
                **base_env,
                "DATABASE_URL": url,
                "S3_ENDPOINT_URL": "http://127.0.0.1:9",
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "x",
            },
        )
    )
    servers.append(
        uvicorn(
            "web.app:app",
            web_port,
            {
                **base_env,
                "API_URL": f"http://127.0.0.1:{api_port}",
                "OPS_PASSWORD": OPS_PASSWORD,
            },
        )
    )
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{api_port}",
        headers={"Authorization": f"Bearer {OPS_TOKEN}"},
        timeout=60,
    )
    web = httpx.Client(base_url=f"http://127.0.0.1:{web_port}", timeout=60)
    wait_until_up(api, "/healthz")
    wait_until_up(web, "/healthz")
    sign_in(web)
    api_routes = [
        "/ops/queues",
        "/ops/jobs?status=failed",
        "/ops/jobs?status=todo&queue=transfers",
        f"/ops/jobs?import_id={import_id(url)}&status=failed",
        f"/ops/jobs/{failed_id}",
        "/ops/stalled",
        "/ops/workers",
        "/ops/periodic",
        "/ops/imports",
    ]
    pages = [
        ("/ops", {}),
        ("/ops (htmx poll)", {"HX-Request": "true"}),
        ("/ops/jobs?status=failed", {}),
        ("/ops/jobs?status=todo&queue=transfers", {}),
        (f"/ops/jobs/{failed_id}", {}),
        ("/ops/imports", {}),
    ]
    heading = f"web page ({REQUESTS} requests each)"
    print(f"\n{heading:46} {'p50':>8} {'p99':>8} {'worst':>8}")
    for name, headers in pages:
        path = name.split(" ")[0]
        warm_up(web, path, headers)
        report(name, [timed(web, path, headers) for _ in range(REQUESTS)])
    print(f"\n{'API route behind them':46} {'p50':>8} {'p99':>8} {'worst':>8}")
    for path in api_routes:
        warm_up(api, path, {})
        report(path, [timed(api, path, {}) for _ in range(REQUESTS)])
    for server in servers:
        server.terminate()
        server.wait()
    servers.clear()
    count_queries(url)


# Counting the jobs themselves, as the first job_counts view did (one pass over every job), and
# as an index-only scan could (an index on (status, queue_name, task_name) that the queue does
# not have; this bench builds it to compare), against the counters.
_COUNT_QUERIES = (
    ("counters: SELECT * FROM job_counts", "SELECT * FROM job_counts"),
    (
        "one pass: count(*) GROUP BY queue, task, status",
        "SELECT queue_name, task_name, status, count(*) FROM procrastinate_jobs GROUP BY 1, 2, 3",
    ),
    (
        "index-only: the same on (status, queue, task)",
        "SELECT queue_name, task_name, status, count(*) FROM procrastinate_jobs GROUP BY 1, 2, 3",
    ),
)


def count_queries(url: str) -> None:
    """The counting query alone, in the database: p50 and p99 of REQUESTS runs each."""
    print(f"\n{'counting the jobs (SQL alone)':46} {'p50':>8} {'p99':>8} {'worst':>8}")
    with psycopg.connect(url, autocommit=True) as conn:
        for name, query in _COUNT_QUERIES:
            if name.startswith("index-only"):
                conn.execute(
                    "CREATE INDEX bench_status_queue_task_idx"
                    " ON procrastinate_jobs (status, queue_name, task_name)"
                )
                conn.execute("VACUUM ANALYZE procrastinate_jobs")
                # The planner prefers the sequential pass: ask for the index.
                conn.execute("SET enable_seqscan = off")
                plan = conn.execute("EXPLAIN " + query).fetchall()
                assert any("Index Only Scan" in line for (line,) in plan), plan
            seconds = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                conn.execute(query).fetchall()
                seconds.append(time.perf_counter() - started)
            report(name, seconds)
        conn.execute("RESET enable_seqscan")
        conn.execute("DROP INDEX bench_status_queue_task_idx")


# One job's way through Procrastinate's functions on success, as its worker calls them (defer,
# fetch, finish deleting it, and commit, as the worker's autocommit calls do), many times inside
# the database, so that the client's round trips
# (which the triggers do not change) and a loaded machine's scheduling of the client stay out of
# the figure; the counters are folded every FOLD_EVERY_JOBS jobs when they are on. Then batch
# deferrals of 32 jobs.
_HOT_PATH = """
DO $$
DECLARE
    worker bigint;
    job bigint;
BEGIN
    SELECT worker_id INTO worker FROM procrastinate_register_worker_v1();
    FOR i IN 1..{jobs} LOOP
        PERFORM procrastinate_defer_jobs_v1(ARRAY[ROW('transfers', 'import.transfer_batch', 0,
            NULL, NULL, '{{}}'::jsonb, NULL)::procrastinate_job_to_defer_v1]);
        SELECT id INTO job FROM procrastinate_fetch_job_v2(ARRAY['transfers']::varchar[], worker);
        PERFORM procrastinate_finish_job_v1(job, 'succeeded', true);
        IF {fold} AND i % {fold_every} = 0 THEN
            PERFORM job_counts_fold();
        END IF;
        COMMIT;
    END LOOP;
END $$
"""
_BATCHES = """
DO $$
BEGIN
    FOR i IN 1..{batches} LOOP
        PERFORM procrastinate_defer_jobs_v1(array_fill(ROW('derivatives',
            'image.make_derivatives', 0, NULL, NULL, '{{}}'::jsonb,
            NULL)::procrastinate_job_to_defer_v1, ARRAY[32]));
        COMMIT;
    END LOOP;
END $$
"""


def write_cost(url: str) -> None:
    """Microseconds per job of the hot path, with the counters' triggers and without, in
    alternating rounds (a shared machine drifts): the median round of each."""
    apply_migrations(url)
    batches = WRITE_JOBS // 32
    with psycopg.connect(url, autocommit=True) as conn:
        # The commits' waits for the disk are the same either way and would drown the rest.
        conn.execute("SET synchronous_commit = off")
        results: dict[str, dict[str, list[float]]] = {"with": {}, "without": {}}
        for _ in range(WRITE_ROUNDS):
            for mode in ("with", "without"):
                verb = "ENABLE" if mode == "with" else "DISABLE"
                for trigger in COUNTER_TRIGGERS:
                    conn.execute(f"ALTER TABLE procrastinate_jobs {verb} TRIGGER {trigger}")
                hot_path = _HOT_PATH.format(
                    jobs=WRITE_JOBS, fold=str(mode == "with"), fold_every=FOLD_EVERY_JOBS
                )
                started = time.perf_counter()
                conn.execute(hot_path.encode())
                one = (time.perf_counter() - started) / WRITE_JOBS
                started = time.perf_counter()
                conn.execute(_BATCHES.format(batches=batches).encode())
                batch = (time.perf_counter() - started) / (batches * 32)
                conn.execute("DELETE FROM procrastinate_jobs")
                conn.execute("DELETE FROM procrastinate_workers")
                conn.execute("SELECT job_counts_recount()")
                conn.execute("VACUUM procrastinate_jobs")
                results[mode].setdefault("one", []).append(one)
                results[mode].setdefault("batch", []).append(batch)
        for trigger in COUNTER_TRIGGERS:
            conn.execute(f"ALTER TABLE procrastinate_jobs ENABLE TRIGGER {trigger}")
    print(
        f"\nhot path in the database, {WRITE_JOBS} jobs x {WRITE_ROUNDS} rounds (median of"
        " each)\n"
        f"{'':46} {'with counters':>14} {'without':>10}"
    )
    for kind, label in (
        ("one", "defer + fetch + finish (deleted), per job"),
        ("batch", "batch deferral of 32, per job"),
    ):
        with_counters = statistics.median(results["with"][kind]) * 1e6
        without = statistics.median(results["without"][kind]) * 1e6
        rounds = " / ".join(
            f"{a * 1e6:.0f}-{b * 1e6:.0f}"
            for a, b in zip(results["with"][kind], results["without"][kind], strict=True)
        )
        print(f"{label:46} {with_counters:>11.0f} µs {without:>7.0f} µs  ({rounds})", flush=True)


def uvicorn(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"],
        env=env,
    )


def wait_until_up(client: httpx.Client, path: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get(path).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{client.base_url} did not come up")
        time.sleep(0.2)


def sign_in(web: httpx.Client) -> None:
    form = web.get("/ops/sign-in").text
    match = re.search(r'name="_csrf_token" value="([^"]+)"', form)
    assert match, "no CSRF token on the sign-in page"
    answer = web.post(
        "/ops/sign-in",
        data={"_csrf_token": match.group(1), "name": "bench", "password": OPS_PASSWORD},
    )
    assert answer.status_code == 303, answer.text


def import_id(url: str) -> str:
    with psycopg.connect(url) as conn:
        (value,) = conn.execute("SELECT md5('7')::uuid::text").fetchone() or ("",)
    return str(value)


def warm_up(client: httpx.Client, path: str, headers: dict[str, str]) -> None:
    """A few requests first, not counted: the first ones compile templates and plans and open
    the pools' connections, once per process rather than per request."""
    for _ in range(WARM_UP_REQUESTS):
        timed(client, path, headers)


def timed(client: httpx.Client, path: str, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    response = client.get(path, headers=headers)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{path}: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed


def report(name: str, seconds: list[float]) -> None:
    ordered = sorted(seconds)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
    print(
        f"{name:46} {ms(statistics.median(ordered)):>8} {ms(p99):>8} {ms(ordered[-1]):>8}",
        flush=True,
    )


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


if __name__ == "__main__":
    main()
