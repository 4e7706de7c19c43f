"""Every filter and sort of GET /images is served by an index: the statements the repository
composes, EXPLAINed on a seeded, analysed table, read no image row by a sequential scan and use
the index meant for them. At 60,000 rows the planner already prefers a scan wherever no index
fits, so a filter that lost its index shows here before it shows at a million."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest
from psycopg import sql

from api.images.repository import ImageFilters, Sort, list_query

ROWS = 60_000
# One import of 600 images beside one of the rest: browsing one import is the gallery's view.
SMALL_IMPORT_ROWS = 600

_FILL = """
WITH big AS (
    INSERT INTO imports (source, source_url, folder_id, locator, status)
    VALUES ('google_drive', 'https://drive.google.com/drive/folders/big', 'big',
            '{"folder_id": "big"}', 'completed') RETURNING id
), small AS (
    INSERT INTO imports (source, source_url, folder_id, locator, status)
    VALUES ('dropbox', 'https://www.dropbox.com/home/small', 'small',
            '{"folder_id": "small"}', 'completed') RETURNING id
)
INSERT INTO images (source, source_file_id, import_id, name, mime_type, size, checksums,
                    storage_key, storage_path, created_at, width, height, taken_at)
SELECT CASE WHEN n <= %(small)s THEN 'dropbox' ELSE 'google_drive' END,
       'f' || n, CASE WHEN n <= %(small)s THEN small.id ELSE big.id END,
       'IMG_' || lpad(n::text, 7, '0') || CASE WHEN n %% 10 = 0 THEN '_beach' ELSE '' END || '.jpg',
       (ARRAY['image/jpeg', 'image/png', 'image/gif', 'image/webp'])[1 + n %% 4],
       1000 + (n::bigint * 7919) %% 5000000, '{}', 'k/' || n, 's3://images/k/' || n,
       now() - make_interval(secs => n),
       100 + (n::bigint * 7919) %% 8000, 100 + (n::bigint * 104729) %% 6000,
       CASE WHEN n %% 5 = 0 THEN NULL
            ELSE '2024-06-01'::timestamp - make_interval(hours => (n * 7) %% 200000) END
FROM big, small, generate_series(1, %(rows)s) AS n
"""


@pytest.fixture(scope="module")
def db(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(_FILL, {"rows": ROWS, "small": SMALL_IMPORT_ROWS})
        # A few images a sync found gone from their source.
        conn.execute("UPDATE images SET removed_at = now() WHERE source_file_id LIKE 'f%777'")
        # An album of the small import's images.
        conn.execute(
            "INSERT INTO albums (source, source_folder_id, name, path) "
            "VALUES ('dropbox', 'small', 'Small', 'Small')"
        )
        conn.execute(
            "UPDATE images SET album_id = albums.id FROM albums WHERE albums.source = images.source"
        )
        conn.execute("ANALYZE images")
        yield conn


@pytest.fixture(scope="module")
def small_import(db: psycopg.Connection[Any]) -> str:
    row = db.execute("SELECT id::text FROM imports WHERE folder_id = 'small'").fetchone()
    assert row is not None
    return str(row[0])


def plan_of(
    db: psycopg.Connection[Any], filters: ImageFilters, sort: Sort, after: Any = None
) -> dict[str, Any]:
    query, params = list_query(filters, limit=51, after=after, sort=sort)
    (plan,) = db.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + query, params).fetchone()
    return plan[0]["Plan"]  # type: ignore[no-any-return]


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


BEFORE_2010 = datetime(2010, 2, 1)
GRAMS = "images_name_grams_idx"
WIDTH = "images_width_idx"
# filters (the small import's id stands for "import"), sort, the indexes any of which serves it.
CASES: list[tuple[dict[str, Any], Sort, set[str]]] = [
    ({}, "created_at", {"images_newest_idx"}),
    ({}, "taken_at", {"images_taken_newest_idx"}),
    ({"source": "dropbox"}, "created_at", {"images_source_newest_idx"}),
    ({"import_id": "import"}, "created_at", {"images_import_idx"}),
    ({"import_id": "import"}, "taken_at", {"images_import_taken_idx"}),
    # The outside tester's: most images were taken before, the order is by capture time.
    ({"taken_before": BEFORE_2010}, "taken_at", {"images_taken_newest_idx"}),
    ({"taken_after": datetime(2024, 5, 30)}, "taken_at", {"images_taken_newest_idx"}),
    ({"taken_after": datetime(2024, 5, 30)}, "created_at", {"images_taken_newest_idx"}),
    # Dropbox's 600 images: read through their source's index, then sorted.
    (
        {"taken_before": BEFORE_2010, "source": "dropbox"},
        "taken_at",
        {"images_taken_newest_idx", "images_source_newest_idx"},
    ),
    ({"taken_before": BEFORE_2010, "import_id": "import"}, "taken_at", {"images_import_taken_idx"}),
    # A rare name, a common one, one of one and two characters.
    ({"name_contains": "0000042"}, "created_at", {"images_name_grams_idx"}),
    ({"name_contains": "0000042"}, "taken_at", {"images_name_grams_idx"}),
    ({"name_contains": "beach"}, "created_at", {"images_newest_idx", "images_name_grams_idx"}),
    ({"name_contains": "_"}, "created_at", {"images_newest_idx"}),
    ({"name_contains": "zz"}, "created_at", {"images_name_grams_idx"}),
    ({"name_contains": "zzzz"}, "created_at", {"images_name_grams_idx"}),
    ({"name_contains": "0000042", "source": "google_drive"}, "created_at", {GRAMS}),
    (
        {"name_contains": "beach", "import_id": "import"},
        "created_at",
        {"images_import_idx", "images_import_derivative_state_idx"},
    ),
    ({"min_width": 8090}, "created_at", {"images_width_idx"}),
    ({"min_height": 6090}, "taken_at", {"images_height_idx"}),
    ({"min_width": 8090, "source": "dropbox"}, "created_at", {WIDTH, "images_source_newest_idx"}),
    ({"min_width": 200}, "created_at", {"images_newest_idx"}),
    ({"min_size": 4_990_000}, "created_at", {"images_size_idx"}),
    ({"removed": True}, "created_at", {"images_removed_idx"}),
    ({"removed": False}, "taken_at", {"images_taken_newest_idx"}),
    # Whether an earlier image has the same content: one probe of images_content_idx per row.
    ({"duplicates": "hide"}, "created_at", {"images_newest_idx"}),
    ({"duplicates": "only"}, "created_at", {"images_newest_idx", "images_content_idx"}),
    # An album of the small import's 600 images, newest first; a whole album tree's images.
    ({"album_id": "album"}, "created_at", {"images_album_newest_idx"}),
    (
        {"album_tree": "album"},
        "created_at",
        {"images_album_newest_idx", "images_album_name_idx", "images_album_cover_idx"},
    ),
    # A quarter of the images: the newest-first walk finds a page at once.
    (
        {"mime_type": "image/png"},
        "created_at",
        {"images_mime_type_newest_idx", "images_newest_idx"},
    ),
]


def case_id(part: Any) -> str:
    # Sorted: a set's order changes between processes, and xdist needs the same ids in each.
    return "|".join(sorted(part)) if isinstance(part, set) else str(part)


@pytest.mark.parametrize(("given", "sort", "indexes"), CASES, ids=case_id)
def test_each_filter_and_sort_reads_images_through_an_index(
    db: psycopg.Connection[Any],
    small_import: str,
    given: dict[str, Any],
    sort: Sort,
    indexes: set[str],
) -> None:
    given = {k: small_import if v == "import" else v for k, v in given.items()}
    if given.get("album_id") == "album" or given.get("album_tree") == "album":
        (small_album,) = db.execute(
            "SELECT id::text FROM albums WHERE source_folder_id = 'small'"
        ).fetchone() or (None,)
        given = {k: small_album if v == "album" else v for k, v in given.items()}
    plan = plan_of(db, ImageFilters(**given), sort)
    scans = [n for n in nodes(plan) if n.get("Relation Name") == "images" or "Index Name" in n]
    assert not [n for n in scans if n["Node Type"] == "Seq Scan"], plan
    used = {n["Index Name"] for n in scans if "Index Name" in n}
    assert used & indexes, (used, plan)


def test_a_deep_page_by_capture_time_starts_where_the_cursor_points(
    db: psycopg.Connection[Any],
) -> None:
    after = (datetime(2005, 1, 1), "00000000-0000-0000-0000-000000000000")
    plan = plan_of(db, ImageFilters(taken_before=BEFORE_2010), "taken_at", after)
    (scan,) = [n for n in nodes(plan) if n.get("Index Name") == "images_taken_newest_idx"]
    assert "Index Cond" in scan and "Sort" not in {n["Node Type"] for n in nodes(plan)}


@pytest.mark.parametrize(
    ("sort", "index"),
    [("created_at", "images_newest_idx"), ("taken_at", "images_taken_newest_idx")],
)
def test_a_name_search_looks_first_through_the_next_images_in_order(
    db: psycopg.Connection[Any], sort: Sort, index: str
) -> None:
    after = (datetime(2005, 1, 1), "00000000-0000-0000-0000-000000000000")
    for cursor in (None, after):
        query, params = list_query(
            ImageFilters(name_contains="beach"), limit=51, after=cursor, sort=sort, window=True
        )
        (plan,) = db.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + query, params).fetchone()
        scans = list(nodes(plan[0]["Plan"]))
        assert "Seq Scan" not in {n["Node Type"] for n in scans}
        assert index in {n.get("Index Name") for n in scans}
