"""The album tree's SQL on a real PostgreSQL (migrations/schema/albums.sql): image counts moved
once per statement, renames and moves rewriting the paths below, loops refused, names for
roots the source gave none for."""

from collections.abc import Iterator

import psycopg
import pytest

from tests.api.factories import (
    Db,
    album_of,
    insert_image,
    insert_import,
    record_root,
    record_subfolders,
)


@pytest.fixture
def db(database_url: str) -> Iterator[Db]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


def counts(db: Db, *folder_ids: str) -> list[int]:
    return [album_of(db, folder_id)["image_count"] for folder_id in folder_ids]


def test_image_counts_follow_images_added_moved_and_deleted(db: Db) -> None:
    record_root(db, "count-a", "A")
    record_root(db, "count-b", "B")
    a, b = album_of(db, "count-a")["id"], album_of(db, "count-b")["id"]
    import_id = insert_import(db)
    ids = [insert_image(db, import_id, album_id=a) for _ in range(3)]
    assert counts(db, "count-a", "count-b") == [3, 0]
    db.execute("UPDATE images SET album_id = %s WHERE id = ANY(%s::uuid[])", (b, ids[:2]))
    assert counts(db, "count-a", "count-b") == [1, 2]
    # An update that moves no image leaves the counts alone.
    db.execute("UPDATE images SET width = 10 WHERE id = ANY(%s::uuid[])", (ids,))
    assert counts(db, "count-a", "count-b") == [1, 2]
    db.execute("DELETE FROM images WHERE id = ANY(%s::uuid[])", (ids[1:],))
    assert counts(db, "count-a", "count-b") == [0, 1]


def test_renaming_or_moving_an_album_rewrites_the_paths_below_it(db: Db) -> None:
    record_root(db, "move-root", "Root")
    record_subfolders(db, "move-root", {"move-x": "X", "move-y": "Y"})
    record_subfolders(db, "move-x", {"move-z": "Z"})
    record_subfolders(db, "move-z", {"move-w": "W"})
    # A later listing: X renamed, and Z moved into Y.
    record_subfolders(db, "move-root", {"move-x": "Ex"})
    assert album_of(db, "move-w")["path"] == "Root/Ex/Z/W"
    record_subfolders(db, "move-y", {"move-z": "Z"})
    assert album_of(db, "move-z")["parent_id"] == album_of(db, "move-y")["id"]
    assert album_of(db, "move-w")["path"] == "Root/Y/Z/W"
    # The root renamed at the source: everything below follows.
    record_root(db, "move-root", "Racine")
    assert album_of(db, "move-w")["path"] == "Racine/Y/Z/W"
    # An import of a subfolder on its own leaves it where it is, by its name.
    record_root(db, "move-z", None)
    assert album_of(db, "move-z")["path"] == "Racine/Y/Z"


def test_a_folder_listed_inside_its_own_subtree_stays_where_it_is(db: Db) -> None:
    """A Drive shortcut in a subfolder pointing back at an ancestor would make a loop."""
    record_root(db, "loop-root", "Loop")
    record_subfolders(db, "loop-root", {"loop-a": "A"})
    record_subfolders(db, "loop-a", {"loop-root": "Loop", "loop-a": "A"})
    root, a = album_of(db, "loop-root"), album_of(db, "loop-a")
    assert (root["parent_id"], root["path"]) == (None, "Loop")
    assert (a["parent_id"], a["path"]) == (root["id"], "Loop/A")


def test_a_root_without_a_name_from_its_source_is_named_by_the_end_of_its_id(db: Db) -> None:
    record_root(db, "/photos/2019/", None, source="dropbox")
    assert album_of(db, "/photos/2019/")["name"] == "2019"
