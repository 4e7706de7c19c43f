"""Starting imports and reading their progress."""

import uuid
from typing import Any

import procrastinate

from api.db import Connection
from api.errors import NotFound
from api.imports import repository
from api.imports.links import parse_google_drive_folder_link
from api.imports.schemas import ImportAccepted, ImportCounts, ImportRequest, ImportView
from api.jobs import defer_start_import


async def start_google_drive_import(
    conn: Connection, job_app: procrastinate.App, request: ImportRequest
) -> ImportAccepted:
    """Record the import and queue its first job; no call to Google happens here."""
    link = parse_google_drive_folder_link(request.url)
    row = await repository.insert_import(
        conn,
        source="google_drive",
        source_url=request.url.strip(),
        folder_id=link.folder_id,
        resource_key=link.resource_key,
        recursive=request.recursive,
    )
    await defer_start_import(job_app, conn, str(row["id"]))
    return ImportAccepted(
        import_id=str(row["id"]),
        status=row["status"],
        source=row["source"],
        folder_id=row["folder_id"],
    )


async def get_import(conn: Connection, import_id: str) -> ImportView:
    row = await repository.get_import(conn, _parse_id(import_id))
    if row is None:
        raise NotFound(f"no import with id {import_id}")
    return to_view(row)


def to_view(row: dict[str, Any]) -> ImportView:
    return ImportView(
        import_id=str(row["id"]),
        status=row["status"],
        source=row["source"],
        folder_id=row["folder_id"],
        source_url=row["source_url"],
        recursive=row["recursive"],
        counts=ImportCounts(
            discovered=row["discovered"],
            imported=row["imported"],
            skipped=row["skipped"],
            failed=row["failed"],
        ),
        bytes_imported=row["bytes_imported"],
        error=row["error"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _parse_id(import_id: str) -> str:
    try:
        return str(uuid.UUID(import_id))
    except ValueError:
        raise NotFound(f"no import with id {import_id}") from None
