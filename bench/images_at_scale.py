"""Benchmark: GET /images over a million rows, with each filter, first page and deep pages.

Fills a throwaway PostgreSQL with 1,000,000 image rows in one INSERT ... SELECT, runs the API
under uvicorn, and prints the median and worst latency of each query shape measured in this run.

    make bench-images
"""

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

ROWS = 1_000_000
REPEATS = 20

_FILL = """
WITH batch AS (
    INSERT INTO imports (source, source_url, folder_id, status)
    VALUES ('google_drive', 'https://drive.google.com/drive/folders/bench', 'bench', 'completed')
    RETURNING id
)
INSERT INTO images (source, source_file_id, import_id, name, mime_type, size, md5_checksum,
                    storage_key, storage_path, created_at)
SELECT CASE WHEN n %% 4 = 0 THEN 'dropbox' ELSE 'google_drive' END,
       'f' || n, batch.id,
       'IMG_' || lpad(n::text, 7, '0') || CASE WHEN n %% 10 = 0 THEN '_beach' ELSE '' END || '.jpg',
       (ARRAY['image/jpeg', 'image/png', 'image/gif', 'image/webp'])[1 + n %% 4],
       1000 + (n::bigint * 7919) %% 5000000, md5(n::text), 'k/' || n, 's3://images/k/' || n,
       now() - make_interval(secs => n)
FROM batch, generate_series(1, %s) AS n
"""

QUERIES = {
    "newest first, first page": {},
    "source=dropbox": {"source": "dropbox"},
    "mime_type=image/png": {"mime_type": "image/png"},
    "q=beach (name contains)": {"q": "beach"},
    "q=0000042 (rare name)": {"q": "0000042"},
    "min_size=4900000 (rare)": {"min_size": 4_900_000},
    "size 1-2 MB and png": {"min_size": 1_000_000, "max_size": 2_000_000, "mime_type": "image/png"},
}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-images-") as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "postgres", free_port())
        api = None
        try:
            postgres.start()
            url = postgres.create_database("bench")
            apply_migrations(url)
            started = time.monotonic()
            with psycopg.connect(url) as conn:
                conn.execute(_FILL, (ROWS,))
                conn.execute("ANALYZE images")
            print(f"bench: {ROWS} rows inserted in {time.monotonic() - started:.1f} s", flush=True)
            port = free_port()
            env = {
                "DATABASE_URL": url,
                "S3_ENDPOINT_URL": "http://127.0.0.1:9",
                "AWS_ACCESS_KEY_ID": "x",
                "AWS_SECRET_ACCESS_KEY": "x",
                "PATH": "",
            }
            api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.app:app",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env=env,
            )
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
            wait_until_up(client)
            print(
                f"\n{'query (limit 50)':34} {'page 1 median':>14} {'page 20 median':>15} "
                f"{'worst':>8}"
            )
            for name, params in QUERIES.items():
                first, deep = measure(client, params)
                worst = max(first + deep)
                print(
                    f"{name:34} {ms(statistics.median(first)):>14} "
                    f"{ms(statistics.median(deep)) if deep else '(fewer pages)':>15} {ms(worst):>8}"
                )
        finally:
            if api is not None:
                api.terminate()
                api.wait()
            postgres.stop()


def measure(client: httpx.Client, params: dict[str, object]) -> tuple[list[float], list[float]]:
    """Latency of the first page, and of the 20th page reached by following the cursor."""
    first: list[float] = []
    deep: list[float] = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        page = client.get("/images", params={**params, "limit": 50}).raise_for_status().json()
        first.append(time.perf_counter() - started)
    for _ in range(19):
        if not page["next_cursor"]:
            return first, []
        page = client.get(
            "/images", params={**params, "limit": 50, "cursor": page["next_cursor"]}
        ).json()
    cursor = page["next_cursor"]
    if cursor:
        for _ in range(REPEATS):
            started = time.perf_counter()
            client.get("/images", params={**params, "limit": 50, "cursor": cursor})
            deep.append(time.perf_counter() - started)
    return first, deep


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def wait_until_up(client: httpx.Client) -> None:
    for _ in range(300):
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API did not come up")


if __name__ == "__main__":
    main()
