"""SQL on the sources table, which imports and images refer to: filled from the registry."""

from domain.db import Connection


async def register_source(conn: Connection, name: str, display_name: str) -> None:
    """Make the source known to the database (imports and images refer to it), once. DO
    NOTHING takes no lock on a row that exists: concurrent starts never wait on each other."""
    await conn.execute(
        "INSERT INTO sources (name, display_name) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING",
        (name, display_name),
    )
