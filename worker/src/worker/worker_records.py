"""Each Procrastinate worker of this process describes itself once registered: its name, host,
pid, queues and concurrency go into worker_processes (domain/ops/recording.py), beside the id
and heartbeat that are all Procrastinate records, for the operators' console to show. The row
goes with Procrastinate's own (a foreign key, ON DELETE CASCADE): when the worker unregisters,
or a live worker prunes it as stalled."""

import asyncio
import logging
import os
import socket

from procrastinate.worker import Worker

from domain.ops.recording import record_worker_process
from worker.db import Pool

log = logging.getLogger("worker")

# Procrastinate registers a worker (one INSERT) as its run starts and offers no hook after it:
# its id is looked for this often until it is there or the run ended.
REGISTRATION_POLL_SECONDS = 0.05


async def describe_when_registered(worker: Worker, run: "asyncio.Task[None]", pool: Pool) -> None:
    """Record `worker` once its run registered it. A failure to record is logged and goes no
    further: the worker runs its jobs whether or not it is described."""
    while worker.worker_id is None:
        if run.done():
            return
        await asyncio.sleep(REGISTRATION_POLL_SECONDS)
    worker_id = worker.worker_id
    try:
        async with pool.connection() as conn, conn.transaction():
            await record_worker_process(
                conn,
                worker_id=worker_id,
                name=worker.worker_name or "",
                host=socket.gethostname(),
                pid=os.getpid(),
                queues=list(worker.queues or []),
                concurrency=worker.concurrency,
            )
    except Exception as exc:
        log.warning("worker.undescribed worker_id=%s error=%s", worker_id, exc)
