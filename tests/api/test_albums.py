"""Albums through the API: lists in path order across keyset pages and their filters, an
album's page (trail, subalbums, images by name in pages), its cover, GET /images by album, and
the counts and tree the SQL keeps (migrations/schema/albums.sql), on catalogue rows written
straight to the database."""

from typing import Any
from urllib.parse import urlsplit

import pytest
from litestar.testing import AsyncTestClient

from tests.api.factories import (
    album_of,
    insert_image,
    insert_import,
    record_root,
    record_subfolders,
)
from tests.api.paging import follow_pages
from tests.conftest import Stack


@pytest.fixture(scope="module")
def tree(stack: Stack) -> dict[str, str]:
    """Photos/{2023/{Summer, Winter}, 2024} on Drive, Scans on Dropbox, and Photos/2023's
    five images (two with thumbnails); folder path → album id."""
    with stack.db() as db:
        record_root(db, "photos", "Photos")
        record_subfolders(db, "photos", {"y2023": "2023", "y2024": "2024"})
        record_subfolders(db, "y2023", {"summer": "Summer", "winter": "Winter"})
        record_root(db, "scans", "Scans", source="dropbox")
        paths = {
            "Photos": "photos",
            "Photos/2023": "y2023",
            "Photos/2023/Summer": "summer",
            "Photos/2023/Winter": "winter",
            "Photos/2024": "y2024",
            "Scans": "scans",
        }
        ids = {path: album_of(db, folder)["id"] for path, folder in paths.items()}
        import_id = insert_import(db)
        for name, thumbnail in [
            ("e.jpg", True),
            ("b.jpg", False),
            ("d.jpg", True),
            ("a.jpg", False),
            ("c.jpg", False),
        ]:
            insert_image(
                db,
                import_id,
                name=name,
                album_id=ids["Photos/2023"],
                derivative_state="done" if thumbnail else "not_possible",
                thumbnail_key=f"thumbnails/{name}" if thumbnail else None,
            )
        insert_image(db, import_id, name="sun.jpg", album_id=ids["Photos/2023/Summer"])
        insert_image(db, import_id, name="no-album.jpg")
    return ids


async def test_albums_are_listed_in_path_order_across_keyset_pages(
    api: AsyncTestClient[Any], tree: dict[str, str]
) -> None:
    items, pages = await follow_pages(api, "/albums", limit=2)
    assert [album["path"] for album in items] == list(tree)
    assert pages == 3
    assert [album["id"] for album in items] == list(tree.values())
    first = items[0]
    assert (first["name"], first["source"], first["parent_id"]) == ("Photos", "google_drive", None)
    assert (first["album_count"], first["image_count"]) == (2, 0)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"top_level": "true"}, ["Photos", "Scans"]),
        (
            {"top_level": "false"},
            ["Photos/2023", "Photos/2023/Summer", "Photos/2023/Winter", "Photos/2024"],
        ),
        ({"parent": "Photos/2023"}, ["Photos/2023/Summer", "Photos/2023/Winter"]),
        ({"source": "dropbox"}, ["Scans"]),
        ({"q": "WIN"}, ["Photos/2023/Winter"]),
        ({"q": "20"}, ["Photos/2023", "Photos/2024"]),
        ({"q": "%"}, []),
        ({"parent": "Photos", "q": "4"}, ["Photos/2024"]),
    ],
)
async def test_album_filters_narrow_the_list_on_every_page(
    api: AsyncTestClient[Any], tree: dict[str, str], params: dict[str, str], expected: list[str]
) -> None:
    query = dict(params)
    if "parent" in query:
        query["parent_id"] = tree[query.pop("parent")]
    items, _ = await follow_pages(api, "/albums", limit=1, **query)
    assert [album["path"] for album in items] == expected


async def test_an_albums_page_has_its_trail_its_subalbums_then_its_images_by_name_in_pages(
    api: AsyncTestClient[Any], tree: dict[str, str]
) -> None:
    first = await api.get(f"/albums/{tree['Photos/2023']}", params={"limit": 2})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["album"]["path"] == "Photos/2023"
    assert body["album"]["image_count"] == 5
    assert body["breadcrumbs"] == [{"id": tree["Photos"], "name": "Photos"}]
    assert [album["name"] for album in body["subalbums"]] == ["Summer", "Winter"]
    assert body["subalbums_next_cursor"] is None
    names = [image["name"] for image in body["images"]["items"]]
    cursor = body["images"]["next_cursor"]
    while cursor:
        page = (
            await api.get(f"/albums/{tree['Photos/2023']}", params={"limit": 2, "cursor": cursor})
        ).json()
        # Subalbums come first, on the first page only.
        assert page["subalbums"] == []
        assert page["album"]["id"] == tree["Photos/2023"]
        names += [image["name"] for image in page["images"]["items"]]
        cursor = page["images"]["next_cursor"]
    assert names == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]

    deep = (await api.get(f"/albums/{tree['Photos/2023/Summer']}")).json()
    assert [crumb["name"] for crumb in deep["breadcrumbs"]] == ["Photos", "2023"]
    assert [image["name"] for image in deep["images"]["items"]] == ["sun.jpg"]


async def test_an_albums_cover_is_its_first_image_by_name_that_has_a_thumbnail(
    api: AsyncTestClient[Any], tree: dict[str, str]
) -> None:
    album = (await api.get(f"/albums/{tree['Photos/2023']}")).json()["album"]
    images = (await api.get("/images", params={"album_id": tree["Photos/2023"]})).json()
    by_name = {image["name"]: image for image in images["items"]}
    assert album["cover_image_id"] == by_name["d.jpg"]["id"]
    assert urlsplit(album["cover_thumbnail_url"]).path.endswith("/thumbnails/d.jpg")
    empty = (await api.get(f"/albums/{tree['Photos/2024']}")).json()["album"]
    assert (empty["cover_image_id"], empty["cover_thumbnail_url"]) == (None, None)


async def test_images_are_filtered_by_album_with_or_without_its_subalbums(
    api: AsyncTestClient[Any], tree: dict[str, str]
) -> None:
    own, _ = await follow_pages(api, "/images", limit=2, album_id=tree["Photos/2023"])
    assert sorted(image["name"] for image in own) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    assert {image["album_id"] for image in own} == {tree["Photos/2023"]}
    everything, _ = await follow_pages(
        api, "/images", limit=2, album_id=tree["Photos"], include_subalbums="true"
    )
    assert len(everything) == 6
    assert "sun.jpg" in {image["name"] for image in everything}
    none, _ = await follow_pages(api, "/images", album_id=tree["Photos"])
    assert none == []

    refused = await api.get("/images", params={"include_subalbums": "true"})
    assert refused.status_code == 422
    assert refused.json()["field"] == "include_subalbums"


@pytest.mark.parametrize("album_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
async def test_an_unknown_album_is_not_found(api: AsyncTestClient[Any], album_id: str) -> None:
    response = await api.get(f"/albums/{album_id}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/albums", {"cursor": "bm90IGEgY3Vyc29y"}),
        ("/albums", {"parent_id": "not-a-uuid"}),
        ("/albums", {"parent": "x"}),
        ("/albums", {"limit": "501"}),
        ("/images", {"album_id": "not-a-uuid"}),
    ],
)
async def test_album_lists_refuse_what_they_cannot_read(
    api: AsyncTestClient[Any], tree: dict[str, str], path: str, params: dict[str, str]
) -> None:
    response = await api.get(path, params=params)
    assert response.status_code == 422, response.text


async def test_a_forged_cursor_on_an_albums_page_is_refused(
    api: AsyncTestClient[Any], tree: dict[str, str]
) -> None:
    response = await api.get(f"/albums/{tree['Photos']}", params={"cursor": "WyJ4Il0"})
    assert response.status_code == 422
    assert response.json()["field"] == "cursor"
