"""Rows in a given state, written straight to the test database.

Each factory fills every required column with a unique, valid default; keyword overrides set
any column of the table. They return the new row's key.
"""

import hashlib
import uuid
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

Db = psycopg.Connection[tuple[Any, ...]]


def _checksums(overrides: dict[str, Any], file_id: str) -> Jsonb:
    """The row's checksums as the worker writes them; an `md5_checksum` override sets the MD5
    (images.md5_checksum is derived from it)."""
    md5 = overrides.pop("md5_checksum", None) or hashlib.md5(file_id.encode()).hexdigest()
    return Jsonb({"md5": md5})


def _insert(db: Db, table: str, values: dict[str, Any], returning: str) -> Any:
    columns = list(values)
    query = sql.SQL(
        "INSERT INTO {table} ({columns}) VALUES ({values}) RETURNING {returning}"
    ).format(
        table=sql.Identifier(table),
        columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        values=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        returning=sql.Identifier(returning),
    )
    row = db.execute(query, [values[c] for c in columns]).fetchone()
    assert row is not None
    return row[0]


def new_folder_id() -> str:
    return f"1Folder{uuid.uuid4().hex}"


def insert_import(db: Db, **overrides: Any) -> str:
    """A finished import by default (status `completed`): it takes no live slot for its folder."""
    folder_id = overrides.pop("folder_id", None) or new_folder_id()
    values: dict[str, Any] = {
        "source": "google_drive",
        "source_url": f"https://drive.google.com/drive/folders/{folder_id}",
        "folder_id": folder_id,
        "locator": Jsonb({"folder_id": folder_id, "resource_key": None}),
        "status": "completed",
        **overrides,
    }
    return str(_insert(db, "imports", values, "id"))


def insert_import_file(db: Db, import_id: str, **overrides: Any) -> str:
    """A file an import discovered, `pending` by default; returns its source file id."""
    file_id = overrides.pop("source_file_id", None) or f"1File{uuid.uuid4().hex}"
    values: dict[str, Any] = {
        "import_id": import_id,
        "source_file_id": file_id,
        "name": f"{file_id}.jpg",
        "mime_type": "image/jpeg",
        "size": 1000,
        "checksums": _checksums(overrides, file_id),
        **overrides,
    }
    return str(_insert(db, "import_files", values, "source_file_id"))


def insert_image(db: Db, import_id: str, **overrides: Any) -> str:
    """A catalogued image whose object would live at google_drive/<file id> in bucket `images`."""
    file_id = overrides.pop("source_file_id", None) or f"1File{uuid.uuid4().hex}"
    values: dict[str, Any] = {
        "source": "google_drive",
        "source_file_id": file_id,
        "import_id": import_id,
        "name": f"{file_id}.jpg",
        "mime_type": "image/jpeg",
        "size": 1000,
        "checksums": _checksums(overrides, file_id),
        "storage_key": f"google_drive/{file_id}",
        "storage_path": f"s3://images/google_drive/{file_id}",
        **overrides,
    }
    return str(_insert(db, "images", values, "id"))


def record_root(db: Db, folder_id: str, name: str | None, source: str = "google_drive") -> str:
    """An import's root folder's album, as the worker records it when the import starts."""
    (album_id,) = db.execute(
        "SELECT album_record_root(%s, %s, %s)::text", (source, folder_id, name)
    ).fetchone() or (None,)
    assert album_id is not None
    return str(album_id)


def record_subfolders(
    db: Db, parent: str, folders: dict[str, str], source: str = "google_drive"
) -> None:
    """`folders`: folder id → name, found in a listed page of `parent`."""
    db.execute(
        "SELECT album_record_subfolders(%s, %s, %s::text[], %s::text[])",
        (source, parent, list(folders), list(folders.values())),
    )


def album_of(db: Db, folder_id: str) -> dict[str, Any]:
    """The album of a folder, as the tests compare it."""
    cur = db.execute(
        "SELECT id::text, name, path, parent_id::text, image_count FROM albums "
        "WHERE source_folder_id = %s",
        (folder_id,),
    )
    row = cur.fetchone()
    assert row is not None, folder_id
    return dict(zip(["id", "name", "path", "parent_id", "image_count"], row, strict=True))
