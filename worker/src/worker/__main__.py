"""The worker service: `image-import-worker` (or `python -m worker`)."""

import asyncio
import logging
import os
import signal
import sys
from contextlib import AsyncExitStack

import uvloop
from procrastinate.worker import FETCH_JOB_POLLING_INTERVAL, Worker

from domain.sources.registry import load_registry
from domain.task_names import DERIVATIVES_QUEUE, LISTING_QUEUE, TRANSFER_QUEUE, WEBHOOKS_QUEUE
from worker import metrics, tasks  # noqa: F401 - tasks registers the tasks on the app
from worker.db import Pool, create_pool, database_answers
from worker.derivatives.making import create_derivative_threads
from worker.http_client import create_source_client, create_webhook_client
from worker.in_flight import InFlightLimit
from worker.jobs import app, recover_stalled_jobs
from worker.latency_limit import INITIAL_FILES_IN_FLIGHT, MINIMUM_FILES_IN_FLIGHT, LatencyLimit
from worker.processes import process_count, supervise
from worker.services import Services
from worker.settings import Settings, get_settings
from worker.sources.connectors import build_connectors
from worker.storage.object_store import ObjectStore
from worker.webhooks import delivery as webhook_delivery
from worker.worker_records import describe_when_registered

log = logging.getLogger("worker")

# Waits between restarts of Procrastinate's worker after the database went away: doubling from
# the first to the last, back to the first once a worker has run this long.
RESTART_FIRST_DELAY_SECONDS = 0.5
RESTART_MAX_DELAY_SECONDS = 15.0
RESTART_STABLE_SECONDS = 60.0
# While it is down, the database is asked again this often at most (one connection a time).
DATABASE_POLL_MAX_SECONDS = 5.0


async def run() -> None:
    settings = get_settings()
    pool = create_pool(settings)
    await pool.open(wait=True)
    store = ObjectStore(settings)
    derivative_threads = create_derivative_threads(settings)
    try:
        async with (
            create_source_client(settings) as http,
            create_webhook_client(settings) as webhook_http,
            AsyncExitStack() as connector_clients,
            app.open_async(pool),
        ):
            sources = load_registry(settings.source_plugins)
            services = Services(
                settings=settings,
                pool=pool,
                store=store,
                sources=sources,
                connectors=build_connectors(sources, settings, http, pool, connector_clients),
                in_flight=InFlightLimit(
                    files=LatencyLimit(
                        initial=INITIAL_FILES_IN_FLIGHT,
                        minimum=MINIMUM_FILES_IN_FLIGHT,
                        maximum=settings.transfer_concurrency,
                    ),
                    buffer_bytes=settings.transfer_buffer_bytes,
                ),
                derivative_threads=derivative_threads,
                webhook_http=webhook_http,
            )
            log.info(
                "worker.starting pid=%d concurrency=%d", os.getpid(), settings.worker_concurrency
            )
            await run_until_stopped(settings, services)
    finally:
        derivative_threads.shutdown(wait=False, cancel_futures=True)
        await store.aclose()
        await pool.close()


def procrastinate_workers(settings: Settings, services: Services) -> list[Worker]:
    """The import's jobs (listing, transfers) and, unless turned off, the derivatives, each on
    Procrastinate workers of their own: derivatives never take an import's job slot, and at
    most DERIVATIVE_CONCURRENCY images are decoded at once."""
    workers = [
        procrastinate_worker(
            settings,
            services,
            queues=[LISTING_QUEUE, TRANSFER_QUEUE],
            concurrency=settings.worker_concurrency,
            name="imports",
        )
    ]
    # Webhook deliveries, on a worker of their own: a transfer backlog never delays them.
    workers.append(
        procrastinate_worker(
            settings,
            services,
            queues=[WEBHOOKS_QUEUE],
            concurrency=settings.webhook_concurrency,
            name="webhooks",
            # A retried delivery is noticed only at a poll: polled often enough that retries
            # keep to WEBHOOK_RETRY_MAX_SECONDS (webhooks/delivery.py).
            poll_seconds=webhook_delivery.POLL_SECONDS,
        )
    )
    if settings.derivatives_enabled:
        workers.append(
            procrastinate_worker(
                settings,
                services,
                queues=[DERIVATIVES_QUEUE],
                concurrency=settings.derivative_concurrency,
                name="derivatives",
            )
        )
    return workers


def procrastinate_worker(
    settings: Settings,
    services: Services,
    *,
    queues: list[str],
    concurrency: int,
    name: str,
    poll_seconds: float = FETCH_JOB_POLLING_INTERVAL,
) -> Worker:
    return Worker(
        app,
        queues=queues,
        name=name,
        concurrency=concurrency,
        fetch_job_polling_interval=poll_seconds,
        additional_context={"services": services},
        shutdown_graceful_timeout=settings.shutdown_grace_seconds,
        update_heartbeat_interval=settings.heartbeat_seconds,
        stalled_worker_timeout=settings.stalled_worker_seconds,
        # The signals are ours (`run_until_stopped`): a stop must also end the restarts.
        install_signal_handlers=False,
        # A finished job has nothing left to tell: what it did is in the import's own
        # tables. Deleting it on success keeps the queue as small as its live work;
        # failed and cancelled jobs stay for operators to read.
        delete_jobs="successful",
    )


async def run_until_stopped(settings: Settings, services: Services) -> None:
    """Run Procrastinate's worker until SIGTERM or SIGINT, which stop it gracefully: it takes
    no new jobs and lets running ones finish for SHUTDOWN_GRACE_SECONDS.

    Procrastinate stops its worker by itself when the database goes away (its listener or
    heartbeat fails, or fetching a job does). Then this process waits for the database to
    answer again, puts the jobs the stopped worker left `doing` back in the queue (every step
    is idempotent, so one whose end went unrecorded runs again harmlessly) and starts a new
    worker: a PostgreSQL restart costs a pause, not the process."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    current: list[Worker] = []

    def stop() -> None:
        stopping.set()
        for worker in current:
            worker.stop()  # type: ignore[no-untyped-call]

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    restarts = 0
    try:
        while not stopping.is_set():
            current = procrastinate_workers(settings, services)
            started = loop.time()
            try:
                await run_together(current, stopping, services.pool)
                reason = "it stopped after a failure of its own (see above)"
            except Exception as exc:
                reason = str(exc) or repr(exc)
            if stopping.is_set():
                return
            if loop.time() - started >= RESTART_STABLE_SECONDS:
                restarts = 0
            delay = min(RESTART_MAX_DELAY_SECONDS, RESTART_FIRST_DELAY_SECONDS * 2**restarts)
            restarts += 1
            log.warning(
                "worker.database_lost restart=%d in=%.1fs reason=%s", restarts, delay, reason
            )
            if not await wait_for_database(settings, stopping, delay):
                return
            try:
                # Unregistered, its jobs still `doing` have no worker: recovered at once, not
                # after STALLED_WORKER_SECONDS.
                for worker in current:
                    if worker.worker_id is not None:
                        await app.job_manager.unregister_worker(worker.worker_id)
                recovered = await recover_stalled_jobs(settings.stalled_worker_seconds)
            except Exception as exc:
                log.warning("worker.recovery_failed error=%s", exc)
                continue
            log.warning("worker.restarting restart=%d recovered_jobs=%d", restarts, recovered)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


async def run_together(workers: list[Worker], stopping: asyncio.Event, pool: Pool) -> None:
    """Run the workers until one of them stops (they share the database, whose loss stops
    them) or the process is asked to stop; then stop them all, gracefully. Each describes
    itself for operators once registered (worker_records.py)."""
    runs = [asyncio.create_task(worker.run()) for worker in workers]  # type: ignore[no-untyped-call]
    descriptions = [
        asyncio.create_task(describe_when_registered(worker, run, pool))
        for worker, run in zip(workers, runs, strict=True)
    ]
    # Each run clears its worker's stop request as it starts: let them start before a stop
    # can be asked of them.
    await asyncio.sleep(0)
    stop_asked = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait([*runs, stop_asked], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop_asked.cancel()
        for worker in workers:
            worker.stop()  # type: ignore[no-untyped-call]
        results = await asyncio.gather(*runs, return_exceptions=True)
        for description in descriptions:
            description.cancel()
        await asyncio.gather(*descriptions, return_exceptions=True)
    for result in results:
        if isinstance(result, Exception):
            raise result


async def wait_for_database(settings: Settings, stopping: asyncio.Event, delay: float) -> bool:
    """Wait `delay`, then until the database answers (polling with a doubling delay); False
    when the worker is asked to stop meanwhile."""
    while True:
        try:
            await asyncio.wait_for(stopping.wait(), timeout=delay)
            return False
        except TimeoutError:
            pass
        if await database_answers(settings):
            return True
        delay = min(DATABASE_POLL_MAX_SECONDS, delay * 2)
        log.info("worker.waiting_for_database next_check_in=%.1fs", delay)


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s %(message)s")
    processes = process_count(settings.worker_processes)
    if processes > 1:
        # This process only supervises; each child runs the rest of main() as a process of one.
        sys.exit(supervise(settings, processes))
    # Two lines per job from Procrastinate and one per request from httpx drown the import's
    # own events at 10,000 files, and the periodic recovery job's deferral is a line every 10
    # seconds of an idle worker; LOG_LEVEL=DEBUG brings them back.
    quiet = logging.DEBUG if settings.log_level == "DEBUG" else logging.WARNING
    for noisy in ("httpx", "procrastinate.worker", "procrastinate.jobs", "procrastinate.periodic"):
        logging.getLogger(noisy).setLevel(quiet)
    metrics.start_server(settings.metrics_port)
    # libuv's event loop: the worker spends much of its CPU scheduling the callbacks of a few
    # dozen sockets, which uvloop does in C.
    uvloop.run(run())


if __name__ == "__main__":
    main()
