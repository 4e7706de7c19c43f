"""Derivatives of stored images: a job carries many image ids; for each image still pending it
reads the original from the object store, makes its thumbnail and facts (imaging.py) on a
low-priority thread, stores the thumbnail under a key derived from the original's, and records
the outcomes in groups.

Off the import's critical path: the transfers queue these jobs in the statement that stores
the images, an import completes without them, and a file that decodes badly costs its
thumbnail, never its import. What became of each image is on its row (`derivative_state`),
so a re-run skips what is done, and an image whose bytes changed meanwhile is left for the job
its new bytes queued.
"""

import asyncio
import ctypes
import ctypes.util
import logging
import os
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from domain.contents import repository as contents
from domain.derivatives import repository as derivative_rows
from domain.derivatives.repository import DerivativeOutcome
from domain.imports import repository as import_rows
from worker import jobs
from worker.derivatives.imaging import THUMBNAIL_TYPE, Derivative, NotPossible, make_derivative
from worker.periodic import take_and_queue
from worker.services import Services
from worker.settings import Settings
from worker.storage.object_store import NotStored, StoreUnavailable

log = logging.getLogger("worker.derivatives")


# glibc's malloc_trim, where there is one (musl and other platforms have none).
def _glibc() -> Any:
    path = ctypes.util.find_library("c")
    libc = ctypes.CDLL(path) if path else None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h

# How long this process's transfers must have been idle before the next image is made.
YIELD_QUIET_SECONDS = 0.5
# Outcomes recorded per statement; the import's cancellation is looked at as often.
RECORD_EVERY = 8
# An original is read into memory up to this size, into a temporary file beyond it (a decoder
# reads a file as fast as memory, and the worker's memory is for decoding).
SPOOL_IN_MEMORY_BYTES = 2 * 1024 * 1024
# The derivative threads' nice value, above the event loop's: decoding yields the CPU to
# listing and transfers whenever they want it.
THREAD_NICENESS = 10


def create_derivative_threads(settings: Settings) -> ThreadPoolExecutor:
    """The threads images are decoded on, one per image made at once."""
    _large_allocations_off_the_heap()
    return ThreadPoolExecutor(
        max_workers=settings.derivative_concurrency,
        thread_name_prefix="derivative",
        initializer=_lower_priority,
    )


def _large_allocations_off_the_heap() -> None:
    """Every allocation of 1 MiB or more gets its own mapping, given back when freed. glibc's
    default raises that threshold each time a large block is freed, up to 32 MiB, after which
    decoded pictures land on the heap, beside what the transfers left there, and a later decode
    peaks higher: measured in a process with the worker's imports, the second 12 MP HEIC peaked
    at 192 MB with the default and 156 MB with this. Process-wide, so set once at start."""
    if _LIBC is not None and hasattr(_LIBC, "mallopt"):
        _LIBC.mallopt(_M_MMAP_THRESHOLD, 1024 * 1024)


def _lower_priority() -> None:
    # On Linux a thread's nice value is its own (setpriority on its thread id).
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), THREAD_NICENESS)
    except OSError as exc:
        log.warning("derivatives.nice_failed error=%s", exc)


def _make_and_give_back_memory(source: Any, *, longest_side: int, max_pixels: int) -> Derivative:
    """make_derivative, then hand the freed heap back to the system: glibc keeps the tens of
    megabytes a decode freed for reuse, and a worker that decoded one large photo would hold
    them beside its transfers for good (measured: 120 MB instead of 97 MB after the mix)."""
    try:
        return make_derivative(source, longest_side=longest_side, max_pixels=max_pixels)
    finally:
        if _LIBC is not None:
            _LIBC.malloc_trim(0)


def thumbnail_key(storage_key: str) -> str:
    """Derived from the original's key, so a remade thumbnail replaces the one before, and
    every image of one content has the same (the deletion of contents finds it by this)."""
    return contents.thumbnail_key(storage_key)


async def make_derivatives(services: Services, import_id: str | None, image_ids: list[str]) -> None:
    """Make the derivatives of the job's images still pending; stop early once their import is
    cancelled (the images stay pending, for the backfill)."""
    async with services.pool.connection() as conn:
        if import_id is not None and await import_rows.import_cancelled(conn, import_id):
            return
        images = await derivative_rows.get_images_to_derive(conn, image_ids)
    outcomes: list[DerivativeOutcome] = []
    for image in images:
        # Derivatives yield to this process's transfers: an import does not wait for them.
        await services.in_flight.wait_until_idle(YIELD_QUIET_SECONDS)
        outcomes.append(await derive(services, image))
        if len(outcomes) >= RECORD_EVERY:
            if not await _record(services, import_id, outcomes):
                log.info("derivatives.stopped import_id=%s reason=cancelled", import_id)
                return
            outcomes = []
    await _record(services, import_id, outcomes)


# Images a backfill requested that one run queues at most; more wait for the next (seconds).
REQUESTED_PER_RUN = 10_000


async def queue_requested(services: Services) -> int:
    """Queue jobs for the images the backfill marked `requested` (`queue_image_derivatives`,
    from `python -m worker.derivatives.backfill` or an operator's SQL), in the transaction that
    moves them to `pending`; returns how many."""
    batch_images = services.settings.derivative_batch_images
    image_ids = await take_and_queue(
        services,
        lambda conn: derivative_rows.take_requested_derivatives(conn, REQUESTED_PER_RUN),
        lambda conn, ids: jobs.defer_derivatives(conn, None, ids, batch_images=batch_images),
    )
    if image_ids:
        log.info("derivatives.requested_queued images=%d", len(image_ids))
    return len(image_ids)


async def release(services: Services, image_ids: list[str]) -> None:
    """The job gave up: its images still pending become `missing`, for the backfill."""
    async with services.pool.connection() as conn:
        await derivative_rows.release_images_to_derive(conn, image_ids)


async def derive(services: Services, image: dict[str, Any]) -> DerivativeOutcome:
    """One image's derivatives, or why there can be none."""
    settings = services.settings
    read_as = partial(DerivativeOutcome, image["id"], image["md5_checksum"], image["size"])
    if image["size"] > settings.derivative_max_file_bytes:
        return read_as(
            not_possible=f"larger than the {settings.derivative_max_file_bytes:,} bytes a "
            "thumbnail is made of (DERIVATIVE_MAX_FILE_BYTES)"
        )
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as original:
        try:
            await _read(services, image["storage_key"], original)
        except NotStored as exc:
            return read_as(not_possible=f"the original could not be read: {exc}")
        original.seek(0)
        try:
            derivative: Derivative = await asyncio.get_running_loop().run_in_executor(
                services.derivative_threads,
                partial(
                    _make_and_give_back_memory,
                    original,
                    longest_side=settings.thumbnail_longest_side,
                    max_pixels=settings.derivative_max_pixels,
                ),
            )
        except NotPossible as exc:
            log.info("derivatives.not_possible image_id=%s reason=%s", image["id"], exc)
            return read_as(not_possible=str(exc))
    key = thumbnail_key(image["storage_key"])
    await _write(services, key, derivative.thumbnail)
    facts = derivative.facts
    return read_as(
        width=facts.width,
        height=facts.height,
        taken_at=facts.taken_at,
        camera_make=facts.camera_make,
        camera_model=facts.camera_model,
        animated=facts.animated,
        thumbnail_key=key,
    )


async def _read(services: Services, key: str, sink: Any) -> None:
    store = services.store
    while True:
        # While the store is down, wait for it: the image is not at fault.
        await store.wait_until_available()
        sink.seek(0)
        sink.truncate()
        try:
            await store.read_into(key, sink, max_bytes=services.settings.derivative_max_file_bytes)
            return
        except StoreUnavailable:
            continue


async def _write(services: Services, key: str, body: bytes) -> None:
    store = services.store
    while True:
        await store.wait_until_available()
        try:
            await store.put_bytes(key, body, content_type=THUMBNAIL_TYPE)
            return
        except StoreUnavailable:
            continue


async def _record(
    services: Services, import_id: str | None, outcomes: list[DerivativeOutcome]
) -> bool:
    """Record the outcomes; False when the job is to stop (its import was cancelled)."""
    if not outcomes:
        return True
    async with services.pool.connection() as conn:
        await derivative_rows.record_derivatives(conn, outcomes)
        return import_id is None or not await import_rows.import_cancelled(conn, import_id)
