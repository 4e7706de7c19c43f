"""Filtering the image list by type, name and size, alone and together, across keyset pages."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.factories import insert_image, insert_import
from tests.api.paging import follow_pages
from tests.conftest import Stack

T0 = datetime(2026, 2, 1, tzinfo=UTC)

# name, mime type, size. Names hold LIKE's wildcards and escape character, which a search
# must treat as plain characters.
CATALOGUE = [
    ("Cat.jpg", "image/jpeg", 1000),
    ("concatenate.PNG", "image/png", 1500),
    ("PHOTO_CAT_01.jpeg", "image/jpeg", 0),
    ("dog.png", "image/png", 1),
    ("100%_done.png", "image/png", 5000),
    ("100x done.png", "image/png", 5000),
    ("100% done.gif", "image/gif", 499),
    ("a_b.gif", "image/gif", 500),
    ("axb.gif", "image/gif", 501),
    ("back\\slash.webp", "image/webp", 1500),
    ("backslash.webp", "image/webp", 1_000_000),
    ("plain.jpg", "image/jpeg", 10**10),
    ("Scattered cats.png", "image/png", 2000),
    ("catalogue.tiff", "image/tiff", 1499),
]


@pytest.fixture(scope="module")
def catalogue(stack: Stack) -> list[dict[str, Any]]:
    """The catalogue above under two imports; created_at comes in pairs, so ties are broken by
    id. Returns every image row in the database, for tests to filter by hand."""
    with stack.db() as db:
        imports = [insert_import(db), insert_import(db)]
        for i, (name, mime_type, size) in enumerate(CATALOGUE):
            insert_image(
                db,
                imports[i % 2],
                name=name,
                mime_type=mime_type,
                size=size,
                created_at=T0 + timedelta(seconds=i // 2),
            )
        rows = db.execute(
            "SELECT id, import_id, name, mime_type, size, created_at FROM images"
        ).fetchall()
    columns = ["id", "import_id", "name", "mime_type", "size", "created_at"]
    return [dict(zip(columns, row, strict=True)) for row in rows]


def expected(catalogue: list[dict[str, Any]], **filters: Any) -> list[str]:
    """The ids a filter should return, newest first, decided in Python rather than SQL."""

    def keep(image: dict[str, Any]) -> bool:
        return (
            ("mime_type" not in filters or image["mime_type"] == filters["mime_type"])
            and ("q" not in filters or filters["q"].lower() in image["name"].lower())
            and ("min_size" not in filters or image["size"] >= filters["min_size"])
            and ("max_size" not in filters or image["size"] <= filters["max_size"])
            and ("import_id" not in filters or str(image["import_id"]) == filters["import_id"])
        )

    kept = sorted(
        (image for image in catalogue if keep(image)),
        key=lambda image: (image["created_at"], uuid.UUID(str(image["id"]))),
        reverse=True,
    )
    return [str(image["id"]) for image in kept]


@pytest.mark.parametrize(
    "filters",
    [
        {"mime_type": "image/png"},
        {"mime_type": "image/tiff"},
        {"mime_type": "IMAGE/PNG"},
        {"q": "cat"},
        {"q": "CAT"},
        {"q": "%"},
        {"q": "100%_"},
        {"q": "_"},
        {"q": "a_b"},
        {"q": "\\"},
        {"q": "back\\s"},
        {"q": "no such name"},
        {"q": ""},
        {"min_size": 1500},
        {"max_size": 1500},
        {"min_size": 0},
        {"min_size": 1500, "max_size": 1500},
        {"min_size": 10**10},
    ],
    ids=repr,
)
async def test_each_filter_alone_returns_exactly_the_matching_images_across_pages(
    api: AsyncTestClient[Any], catalogue: list[dict[str, Any]], filters: dict[str, Any]
) -> None:
    items, _ = await follow_pages(api, "/images", limit=2, **filters)
    assert [item["id"] for item in items] == expected(catalogue, **filters)


@pytest.mark.parametrize(
    "filters",
    [
        {"mime_type": "image/png", "q": "cat"},
        {"q": "cat", "min_size": 1, "max_size": 1500},
        {"mime_type": "image/png", "q": "100", "min_size": 5000, "max_size": 5000},
        {"q": "a", "max_size": 1500},
        {"mime_type": "image/gif", "min_size": 500},
    ],
    ids=repr,
)
@pytest.mark.parametrize("limit", [1, 3])
async def test_filters_combine_with_each_other_and_with_pagination(
    api: AsyncTestClient[Any],
    catalogue: list[dict[str, Any]],
    filters: dict[str, Any],
    limit: int,
) -> None:
    want = expected(catalogue, **filters)
    assert want, "each combination should match something"
    items, pages = await follow_pages(api, "/images", limit=limit, **filters)
    assert [item["id"] for item in items] == want
    assert pages == max(1, -(-len(want) // limit))


async def test_filters_combine_with_the_import_filter(
    api: AsyncTestClient[Any], catalogue: list[dict[str, Any]]
) -> None:
    import_id = str(catalogue[0]["import_id"])
    filters = {"import_id": import_id, "q": "a", "min_size": 500}
    items, _ = await follow_pages(api, "/images", limit=2, source="google_drive", **filters)
    assert [item["id"] for item in items] == expected(catalogue, **filters)
    assert {item["import_id"] for item in items} == {import_id}


async def test_a_minimum_size_above_the_maximum_gets_422(api: AsyncTestClient[Any]) -> None:
    response = await api.get("/images", params={"min_size": 2000, "max_size": 1000})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    assert "min_size" in body["detail"]
    assert "max_size" in body["detail"]


@pytest.mark.parametrize(
    "params",
    [{"min_size": -1}, {"max_size": -1}, {"min_size": "big"}, {"q": "x" * 256}],
    ids=repr,
)
async def test_bad_image_filters_get_422(api: AsyncTestClient[Any], params: dict[str, Any]) -> None:
    response = await api.get("/images", params=params)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
