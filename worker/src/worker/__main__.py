"""The worker service: `image-import-worker` (or `python -m worker`)."""

import asyncio
import logging

from worker import tasks  # noqa: F401 - registers the tasks on the app
from worker.db import create_pool
from worker.http_client import create_source_client
from worker.in_flight import InFlightLimit
from worker.jobs import app
from worker.services import Services
from worker.settings import get_settings
from worker.sources import build_connectors
from worker.storage import ObjectStore

log = logging.getLogger("worker")


async def run() -> None:
    settings = get_settings()
    pool = create_pool(settings)
    await pool.open(wait=True)
    store = ObjectStore(settings)
    try:
        async with (
            create_source_client(settings) as http,
            app.open_async(pool),
        ):
            services = Services(
                settings=settings,
                pool=pool,
                store=store,
                connectors=build_connectors(settings, http, pool),
                in_flight=InFlightLimit(
                    files=settings.transfer_concurrency,
                    buffer_bytes=settings.transfer_buffer_bytes,
                ),
            )
            log.info("worker.starting concurrency=%d", settings.worker_concurrency)
            # SIGTERM/SIGINT: stop taking jobs, let running ones finish (bounded), then exit.
            await app.run_worker_async(
                concurrency=settings.worker_concurrency,
                additional_context={"services": services},
                shutdown_graceful_timeout=settings.shutdown_grace_seconds,
                update_heartbeat_interval=settings.heartbeat_seconds,
                stalled_worker_timeout=settings.stalled_worker_seconds,
                install_signal_handlers=True,
                # A finished job has nothing left to tell: what it did is in the import's own
                # tables. Deleting it on success keeps the queue as small as its live work;
                # failed and cancelled jobs stay for operators to read.
                delete_jobs="successful",
            )
    finally:
        await store.aclose()
        await pool.close()


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    # Two lines per job from Procrastinate and one per request from httpx drown the import's
    # own events at 10,000 files; LOG_LEVEL=DEBUG brings them back.
    quiet = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    for noisy in ("httpx", "procrastinate.worker", "procrastinate.jobs"):
        logging.getLogger(noisy).setLevel(quiet)
    asyncio.run(run())


if __name__ == "__main__":
    main()
