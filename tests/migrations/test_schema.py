"""The schema files (migrations/schema/) hold the current text of every function, trigger and
view, and `migrate` applies them on every run: a database upgraded release by release ends as
one built fresh, a second run changes nothing, and nothing in the database comes from a
versioned migration alone. As Procrastinate proves its schema.sql against its migrations."""

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from devstack.postgres import POSTGRES_BIN_PATH
from migrate.__main__ import SCHEMA_DIR, SCHEMA_FILES, VERSIONS_DIR, apply_migrations
from tests.conftest import as_url, create_database

# The last version that still defined functions, triggers and views; from the next one on,
# versions carry DDL and data moves only, and the schema files the rest.
LAST_VERSION_WITH_FUNCTIONS = "0019"
DEFINES_CODE = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?(?:MATERIALIZED\s+)?"
    r"(?:FUNCTION|PROCEDURE|VIEW|TRIGGER|RULE)\b",
    re.IGNORECASE,
)


def schema_dump(url: str) -> str:
    dump = subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--schema-only", "--no-owner", "-d", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    # pg_dump 16.10+ brackets its output with a random \restrict key.
    return re.sub(r"^\\(un)?restrict .*$", "", dump, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def fresh(postgres_server_url: str) -> Iterator[str]:
    """A database built by one `migrate` on an empty database."""
    url = as_url(create_database(postgres_server_url))
    apply_migrations(url)
    yield url


def test_a_database_upgraded_release_by_release_has_the_schema_of_a_fresh_one(
    postgres_server_url: str, fresh: str, tmp_path: Path
) -> None:
    upgraded = as_url(create_database(postgres_server_url))
    released = tmp_path / "versions"
    released.mkdir()
    versions = [v for v in sorted(VERSIONS_DIR.iterdir()) if v.suffix in {".sql", ".py"}]
    for version in versions:
        shutil.copy(version, released / version.name)
        # Releases up to LAST_VERSION_WITH_FUNCTIONS had no schema files; each later one ran
        # its versions and then its own schema files. Only today's are here, and they may read
        # a column a later version adds: the last release runs them.
        after_schema_files = version == versions[-1]
        apply_migrations(upgraded, released, SCHEMA_DIR if after_schema_files else None)
    assert schema_dump(upgraded) == schema_dump(fresh)


def test_migrate_twice_changes_nothing(fresh: str) -> None:
    before = schema_dump(fresh)
    assert apply_migrations(fresh) == []
    assert schema_dump(fresh) == before


def test_an_unchanged_migrate_leaves_the_schema_files_alone(fresh: str) -> None:
    """Re-applying them would lock the tables their triggers sit on, at every deploy."""
    with psycopg.connect(fresh, autocommit=True) as db:
        applied_at = db.execute("SELECT applied_at FROM schema_files_applied").fetchone()
        apply_migrations(fresh)
        assert db.execute("SELECT applied_at FROM schema_files_applied").fetchone() == applied_at


def test_a_changed_schema_file_is_applied_by_the_next_migrate_without_a_version(
    postgres_server_url: str, tmp_path: Path
) -> None:
    url = as_url(create_database(postgres_server_url))
    apply_migrations(url)
    changed = tmp_path / "schema"
    shutil.copytree(SCHEMA_DIR, changed)
    with (changed / SCHEMA_FILES[-1]).open("a", encoding="utf-8") as file:
        file.write("\nCOMMENT ON VIEW queue_health IS 'changed';\n")
    assert apply_migrations(url, schema_dir=changed) == []
    with psycopg.connect(url, autocommit=True) as db:
        comment = db.execute("SELECT obj_description('queue_health'::regclass)").fetchone()
    assert comment == ("changed",)


def test_every_function_trigger_and_view_of_the_app_is_defined_in_the_schema_files(
    postgres_server_url: str, fresh: str
) -> None:
    """Drop every function and view that is the app's (not Procrastinate's, not an extension's;
    triggers go with their functions) and apply the schema files alone: what comes back is the
    whole schema. An object only a versioned migration defines (an old overload, a function
    since renamed) would be missing."""
    expected = schema_dump(fresh)
    copy = as_url(create_database(postgres_server_url))
    apply_migrations(copy, schema_dir=None)
    with psycopg.connect(copy, autocommit=True) as db:
        app_objects = db.execute(
            """
            SELECT format('DROP FUNCTION IF EXISTS %s CASCADE', p.oid::regprocedure)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'public' AND p.proname NOT LIKE 'procrastinate%'
              AND NOT EXISTS (SELECT FROM pg_depend d
                              WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                AND d.deptype = 'e')
            UNION ALL
            SELECT format('DROP VIEW IF EXISTS %I CASCADE', viewname)
            FROM pg_views WHERE schemaname = 'public' AND viewname NOT LIKE 'procrastinate%'
            """
        ).fetchall()
        assert app_objects
        for (drop,) in app_objects:
            db.execute(drop)
    assert apply_migrations(copy) == []
    assert schema_dump(copy) == expected


def test_schema_files_are_all_applied_in_their_documented_order() -> None:
    assert sorted(SCHEMA_FILES) == sorted(p.name for p in SCHEMA_DIR.glob("*.sql"))


def test_no_version_after_the_schema_files_defines_a_function_trigger_or_view() -> None:
    later = [
        version
        for version in sorted(VERSIONS_DIR.iterdir())
        if version.name[:4] > LAST_VERSION_WITH_FUNCTIONS
        and DEFINES_CODE.search(version.read_text(encoding="utf-8"))
    ]
    assert later == [], "functions, triggers and views belong in migrations/schema/"


def test_the_schema_files_call_no_procrastinate_function() -> None:
    """Jobs are queued and cancelled through Procrastinate's Python API; its tables may be read."""
    for name in SCHEMA_FILES:
        text = (SCHEMA_DIR / name).read_text(encoding="utf-8")
        assert not re.findall(r"\bprocrastinate_\w+\s*\(", text), name
