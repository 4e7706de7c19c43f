"""0015_checksums moves every MD5 and Dropbox content hash into `checksums`: nothing is lost,
and the catalogue's md5_checksum still reads what it read before."""

import shutil
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from migrate.__main__ import VERSIONS_DIR, apply_migrations
from tests.conftest import as_url, create_database

MD5 = "5d41402abc4b2a76b9719d911017c592"
CONTENT_HASH = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"


def test_existing_checksums_move_into_checksums_and_md5_checksum_still_reads(
    postgres_server_url: str, tmp_path: Path
) -> None:
    url = as_url(create_database(postgres_server_url))
    before = tmp_path / "versions"
    before.mkdir()
    for version in VERSIONS_DIR.iterdir():
        if version.name < "0013":  # the schema before the source registry and checksums
            shutil.copy(version, before / version.name)
    apply_migrations(url, before, schema_dir=None)
    with psycopg.connect(url, autocommit=True) as db:
        import_id = db.execute(
            """INSERT INTO imports (source, source_url, folder_id, status)
               VALUES ('dropbox', 'https://www.dropbox.com/scl/fo/x/y', 'x', 'completed')
               RETURNING id"""
        ).fetchone()[0]  # type: ignore[index]
        for file_id, md5, content_hash in [
            ("drive", MD5, None),
            ("dropbox", MD5, CONTENT_HASH),
            ("neither", None, None),
        ]:
            db.execute(
                """INSERT INTO import_files (import_id, source_file_id, name, mime_type,
                                             md5_checksum, content_hash)
                   VALUES (%s, %s, 'a.jpg', 'image/jpeg', %s, %s)""",
                (import_id, file_id, md5, content_hash),
            )
            db.execute(
                """INSERT INTO images (source, source_file_id, import_id, name, mime_type, size,
                                       md5_checksum, content_hash, storage_key, storage_path)
                   VALUES ('dropbox', %s, %s, 'a.jpg', 'image/jpeg', 1, %s, %s, %s, %s)""",
                (file_id, import_id, md5, content_hash, file_id, f"s3://images/{file_id}"),
            )

    apply_migrations(url)

    expected = {
        "drive": {"md5": MD5},
        "dropbox": {"md5": MD5, "dropbox_content_hash": CONTENT_HASH.lower()},
        "neither": {},
    }
    with psycopg.connect(url) as db:
        files = dict(db.execute("SELECT source_file_id, checksums FROM import_files").fetchall())
        images = {
            row[0]: (row[1], row[2])
            for row in db.execute("SELECT source_file_id, checksums, md5_checksum FROM images")
        }
        db.execute(
            "UPDATE images SET checksums = %s WHERE source_file_id = 'neither'",
            (Jsonb({"md5": "0" * 32}),),
        )
        derived = db.execute(
            "SELECT md5_checksum FROM images WHERE source_file_id = 'neither'"
        ).fetchone()
    assert files == expected
    assert images == {file_id: (sums, sums.get("md5")) for file_id, sums in expected.items()}
    assert derived == ("0" * 32,)
