"""SQL on the sources table, which imports and images refer to: filled from the registry; and
the columns every import and sync records of the folder it reads."""

from typing import Any

from psycopg.types.json import Jsonb

from domain.db import Connection
from domain.sources.records import RequestedFolder

# What the imports and syncs tables both record of a folder, in `folder_values`' order.
FOLDER_COLUMNS = "source, source_url, folder_id, locator, link_password, recursive"


def folder_values(folder: RequestedFolder) -> tuple[Any, ...]:
    """The values of FOLDER_COLUMNS, as query parameters."""
    return (
        folder.source,
        folder.source_url,
        folder.folder_id,
        Jsonb(folder.locator),
        folder.link_password,
        folder.recursive,
    )


async def register_source(conn: Connection, name: str, display_name: str) -> None:
    """Make the source known to the database (imports and images refer to it), once. DO
    NOTHING takes no lock on a row that exists: concurrent starts never wait on each other."""
    await conn.execute(
        "INSERT INTO sources (name, display_name) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        (name, display_name),
    )
