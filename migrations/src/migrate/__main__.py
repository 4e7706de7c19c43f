"""`migrate`: bring the database named by DATABASE_URL up to the latest schema.

Two kinds of SQL: the versioned migrations (migrations/versions/: tables, columns, indexes,
data moves), each applied once; then the schema files (migrations/schema/: the current text of
every function, trigger and view, one file per lifecycle), applied in SCHEMA_FILES order, in
one transaction, whenever a version was applied or their text differs from what was applied
last (its digest is recorded). Idempotent and safe to run from several processes at once: yoyo
records applied versions in its own table, and both steps run under its lock.
"""

import hashlib
import logging
import os
import sys
from pathlib import Path

from yoyo import read_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.backends.core.postgresql import PostgresqlPsycopgBackend
from yoyo.connections import parse_uri
from yoyo.migrations import default_migration_table

MIGRATIONS_DIR = Path(__file__).resolve().parents[2]
VERSIONS_DIR = MIGRATIONS_DIR / "versions"
SCHEMA_DIR = MIGRATIONS_DIR / "schema"
# The order the schema files are applied in: a file may use what an earlier one defines (the
# settled predicate of imports.sql is read by syncs.sql's view).
SCHEMA_FILES = (
    "imports.sql",
    "derivatives.sql",
    "syncs.sql",
    "webhooks.sql",
    "albums.sql",
    "operations.sql",
)

log = logging.getLogger("migrate")


def yoyo_url(database_url: str) -> str:
    """yoyo picks its driver from the URL scheme; we use psycopg 3 everywhere."""
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    return f"postgresql+psycopg://{rest}"


class QuietPostgresBackend(PostgresqlPsycopgBackend):  # type: ignore[misc]
    """yoyo's psycopg backend without the statements it runs expecting them to fail, each an
    ERROR in the server's log: a probe of whether DDL is transactional (it drops a table its
    rolled-back transaction created; in PostgreSQL it always is), and creating its lock table
    when it exists already."""

    create_lock_table_sql = DatabaseBackend.create_lock_table_sql.replace(
        "CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1
    )

    def _check_transactional_ddl(self) -> bool:
        return True


def apply_migrations(
    database_url: str, versions_dir: Path = VERSIONS_DIR, schema_dir: Path | None = SCHEMA_DIR
) -> list[str]:
    """Apply every pending version, then the schema files (none when `schema_dir` is None: a
    test building the database as an older release left it); return the version ids applied
    (empty when already up to date)."""
    backend = QuietPostgresBackend(parse_uri(yoyo_url(database_url)), default_migration_table)
    try:
        backend.init_database()
        migrations = read_migrations(str(versions_dir))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
            if schema_dir is not None:
                apply_schema_files(backend, schema_dir, force=bool(pending))
    finally:
        # yoyo keeps it open otherwise, for as long as its backend lives.
        backend.connection.close()
    return [m.id for m in pending]


def apply_schema_files(backend: DatabaseBackend, schema_dir: Path, *, force: bool) -> bool:
    """Apply the schema files unless the database holds them as they are (and `force` is
    false); whether they were applied."""
    texts = [(schema_dir / name).read_text(encoding="utf-8") for name in SCHEMA_FILES]
    digest = hashlib.sha256("\0".join(texts).encode()).hexdigest()
    with backend.transaction():
        cursor = backend.cursor()
        cursor.execute("SELECT to_regclass('schema_files_applied') IS NOT NULL")
        recorded = cursor.fetchone()[0]
        if recorded and not force:
            cursor.execute("SELECT digest FROM schema_files_applied")
            row = cursor.fetchone()
            if row is not None and row[0] == digest:
                return False
        for text in texts:
            # No parameters: the file goes as one script, `%` and all.
            cursor.execute(text)
        if recorded:
            cursor.execute(
                "INSERT INTO schema_files_applied (digest) VALUES (%s) ON CONFLICT (singleton)"
                " DO UPDATE SET digest = excluded.digest, applied_at = now()",
                (digest,),
            )
    return True


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s %(levelname)s %(message)s")
    # yoyo logs each step of each version; the one line below names the versions applied.
    logging.getLogger("yoyo").setLevel(logging.WARNING)
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        sys.exit("migrate: DATABASE_URL is not set")
    applied = apply_migrations(database_url)
    if applied:
        log.info("migrate.applied versions=%s", ",".join(applied))
    else:
        log.info("migrate.up_to_date")


if __name__ == "__main__":
    main()
