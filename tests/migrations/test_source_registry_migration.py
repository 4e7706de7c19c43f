"""0013_source_registry gives every import its typed locator and keeps a Dropbox link's password
once, on the import: folder and file rows lose the link and the password, and keep their own
path and snapshot."""

import json
import shutil
from pathlib import Path

import psycopg

from migrate.__main__ import VERSIONS_DIR, apply_migrations
from tests.conftest import as_url, create_database

LINK = "https://www.dropbox.com/scl/fo/abc/DEF?rlkey=k&dl=0"


def test_imports_get_their_locator_and_the_password_moves_onto_the_import(
    postgres_server_url: str, tmp_path: Path
) -> None:
    url = as_url(create_database(postgres_server_url))
    before = tmp_path / "versions"
    before.mkdir()
    for version in VERSIONS_DIR.iterdir():
        if version.name < "0013":
            shutil.copy(version, before / version.name)
    apply_migrations(url, before, schema_dir=None)
    with psycopg.connect(url, autocommit=True) as db:
        ids = {}
        for source, folder_id, resource_key in [
            ("google_drive", "1Drive", "0-key"),
            ("google_drive", "1Plain", None),
            ("dropbox", "scl/fo/abc/DEF", json.dumps({"url": LINK, "password": "hunter2"})),
            ("dropbox", "sh/old/LINK", "https://www.dropbox.com/sh/old/LINK"),
        ]:
            ids[folder_id] = db.execute(
                """INSERT INTO imports (source, source_url, folder_id, resource_key, status)
                   VALUES (%s, %s, %s, %s, 'completed') RETURNING id""",
                (source, f"https://example/{folder_id}", folder_id, resource_key),
            ).fetchone()[0]  # type: ignore[index]
        protected = ids["scl/fo/abc/DEF"]
        note = {"url": LINK, "password": "hunter2", "path": "/a/b.jpg", "snapshot": "s1"}
        db.execute(
            """INSERT INTO import_files (import_id, source_file_id, name, mime_type, resource_key)
               VALUES (%s, 'id:1', 'b.jpg', 'image/jpeg', %s)""",
            (protected, json.dumps(note)),
        )
        db.execute(
            """INSERT INTO import_folders (import_id, folder_id, resource_key)
               VALUES (%s, 'scl/fo/abc/DEF', %s)""",
            (protected, json.dumps({"url": LINK, "password": "hunter2"})),
        )

    apply_migrations(url)

    with psycopg.connect(url) as db:
        imports = {
            row[0]: (row[1], row[2])
            for row in db.execute("SELECT folder_id, locator, link_password FROM imports")
        }
        [file_note] = db.execute("SELECT resource_key FROM import_files").fetchone() or [None]
        [folder_note] = db.execute("SELECT resource_key FROM import_folders").fetchone() or [None]
        sources = db.execute("SELECT name FROM sources ORDER BY name").fetchall()
    assert imports == {
        "1Drive": ({"folder_id": "1Drive", "resource_key": "0-key"}, None),
        "1Plain": ({"folder_id": "1Plain", "resource_key": None}, None),
        "scl/fo/abc/DEF": ({"folder_id": "scl/fo/abc/DEF", "url": LINK}, "hunter2"),
        "sh/old/LINK": (
            {"folder_id": "sh/old/LINK", "url": "https://www.dropbox.com/sh/old/LINK"},
            None,
        ),
    }
    assert json.loads(file_note) == {"path": "/a/b.jpg", "snapshot": "s1"}
    assert folder_note is None
    assert sources == [("dropbox",), ("google_drive",)]
