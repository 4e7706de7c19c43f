"""Starting an import: the link's source, the idempotency key's replay, and the folder's live
import answered instead of a second one."""

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import procrastinate
from psycopg import errors

from api.errors import Conflict, ConflictingResource, IdempotencyKeyReused, InvalidInput
from api.imports.schemas import ImportAccepted, ImportRequest
from api.jobs import defer_start_import
from api.sources.service import accepted_link, requested_folder
from api.webhooks.service import check_notify_url
from domain.address_policy import IPNetwork
from domain.db import Connection
from domain.imports import repository as import_rows
from domain.sources.registry import Registry
from domain.sources.repository import register_source

# Each round either inserts, or finds the live import or the keyed one; another round is needed
# only when that row changed between two statements (the live import just finished).
_START_ROUNDS = 3
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PATTERN = r"^[\x20-\x7e]{1,255}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


@dataclass(frozen=True)
class ImportStart:
    """What a start request led to: a new import (or the replay of one), or the folder's import
    that was already live."""

    accepted: ImportAccepted
    already_live: bool


async def start_import(
    conn: Connection,
    job_app: procrastinate.App,
    sources: Registry,
    request: ImportRequest,
    idempotency_key: str | None = None,
    *,
    source: str | None = None,
    notify_networks: Sequence[IPNetwork] = (),
) -> ImportStart:
    """Record an import of the folder the link names and queue its first job; no request goes
    to the source here (a share's or a bucket's host is only resolved: `accepted_link`). The
    link decides the source, unless `source` names the only one the caller accepts.

    A folder with a live import gets that import back instead of a second one. A request with
    an idempotency key seen before gets the import that key created, provided it carries the
    same body. Both hold under concurrent requests: unique indexes decide, not a prior read.
    """
    spec, locator = await accepted_link(sources, request.url, source=source)
    folder = requested_folder(
        spec, locator, url=request.url, password=request.password, recursive=request.recursive
    )
    if request.notify_url is not None:
        await check_notify_url(request.notify_url, notify_networks)
    if idempotency_key is not None:
        check_idempotency_key(idempotency_key)
    fingerprint = request_fingerprint(spec.name, request) if idempotency_key else None
    await register_source(conn, spec.name, spec.display_name)
    for _ in range(_START_ROUNDS):
        if replay := await _replay(conn, idempotency_key, fingerprint):
            return ImportStart(replay, already_live=False)
        try:
            # A savepoint: losing the race for the key must not abort the request's transaction.
            async with conn.transaction():
                row = await import_rows.insert_import(
                    conn,
                    folder,
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                    notify_url=request.notify_url,
                )
        except errors.UniqueViolation as exc:
            if exc.diag.constraint_name != import_rows.IDEMPOTENCY_KEY_INDEX:
                raise
            continue  # a concurrent request with this key committed first: read its import
        if row is not None:
            await defer_start_import(job_app, conn, str(row["id"]))
            return ImportStart(_accepted(row), already_live=False)
        # The folder is busy. If that is because a concurrent twin of this very request won,
        # answer as its replay, not as a different request that found the folder busy.
        if replay := await _replay(conn, idempotency_key, fingerprint):
            return ImportStart(replay, already_live=False)
        live = await import_rows.get_live_import(conn, spec.name, locator.folder_id)
        if live is not None:
            return ImportStart(_accepted(live), already_live=True)
    raise Conflict(
        f"the import of folder {locator.folder_id} kept changing state during this request; "
        "retry it"
    )


def check_idempotency_key(key: str) -> None:
    if not 1 <= len(key) <= 255:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to 255 characters long, not {len(key)}",
            field=IDEMPOTENCY_KEY_HEADER,
        )
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput(
            "Idempotency-Key must be printable ASCII characters only", field=IDEMPOTENCY_KEY_HEADER
        )


def request_fingerprint(source: str, request: ImportRequest) -> str:
    """sha256 of the canonical JSON of what was asked: the same body always gives the same
    fingerprint, whatever its key order or spacing on the wire (a field left out and a null
    are the same request)."""
    asked = {
        name: value for name, value in msgspec.structs.asdict(request).items() if value is not None
    }
    canonical = json.dumps(
        {"source": source, **asked},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _replay(
    conn: Connection, idempotency_key: str | None, fingerprint: str | None
) -> ImportAccepted | None:
    """The import an earlier request with this key created, if there was one and it asked for
    the same thing."""
    if idempotency_key is None:
        return None
    row = await import_rows.get_import_by_idempotency_key(conn, idempotency_key)
    if row is None:
        return None
    if row["request_fingerprint"] != fingerprint:
        raise IdempotencyKeyReused(
            f"this Idempotency-Key was used for import {row['id']} with a different body:"
            " use a new key for a different request",
            field=IDEMPOTENCY_KEY_HEADER,
            conflict=ConflictingResource("import", str(row["id"])),
        )
    return _accepted(row)


def _accepted(row: dict[str, Any]) -> ImportAccepted:
    return ImportAccepted(
        import_id=str(row["id"]),
        status=row["status"],
        source=row["source"],
        folder_id=row["folder_id"],
    )
