"""Archives against the real stack (PostgreSQL, SeaweedFS): an import's images and a selection
as one ZIP streamed from S3, its size known in advance, resumable in the middle, in bounded
memory, and an error, not a corrupt archive, when an object is gone."""

import hashlib
import io
import shutil
import subprocess
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ApiClient, Stack, start_api
from tests.image_files import ImageFile
from tests.seeded_images import seed_images
from tests.servers import Server


def _data(name: str, size: int) -> bytes:
    return hashlib.shake_256(name.encode()).digest(size)


# Names a catalogue really holds: clashes by case, characters Windows refuses, a device name.
NAMES = ["IMG_0001.jpg", "img_0001.JPG", "IMG_0001.jpg", "a:b?.png", "CON.jpg", "trip. ", "é.gif"]
FILES = [
    ImageFile(name, "image/jpeg", _data(f"{i}{name}", 1000 + 997 * i))
    for i, name in enumerate(NAMES)
]
# As every system takes them, unique whatever the case (which of the equal names is numbered
# follows the order of the archive).
EXPECTED_PATHS = {
    "img_0001.jpg",
    "img_0001 (2).jpg",
    "img_0001 (3).jpg",
    "a_b_.png",
    "_con.jpg",
    "trip",
    "é.gif",
}


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> tuple[str, list[str]]:
    """An import of FILES, stored as before CRC-32s were recorded; (import id, image ids in
    the archive's order)."""
    import_id, _ = seed_images(stack, FILES)
    with stack.db() as db:
        rows = db.execute(
            "SELECT id::text FROM images WHERE import_id = %s ORDER BY name, id", (import_id,)
        ).fetchall()
    return import_id, [row[0] for row in rows]


async def test_an_imports_archive_holds_every_image_under_a_safe_unique_name(
    api: ApiClient, stack: Stack, seeded: tuple[str, list[str]], tmp_path: Path
) -> None:
    import_id, _ = seeded
    answer = await api.get(f"/imports/{import_id}/archive")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert answer.headers["accept-ranges"] == "bytes"
    assert "attachment" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.testzip() is None
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    by_data = {data: path for path, data in contents.items()}
    # Each image once, under the name made for it.
    assert {path.casefold() for path in contents} == EXPECTED_PATHS
    assert {by_data[file.data] for file in FILES} == set(contents)
    assert by_data[FILES[3].data] == "a_b_.png"
    assert by_data[FILES[4].data] == "_CON.jpg"
    path = tmp_path / "import.zip"
    path.write_bytes(answer.content)
    if shutil.which("unzip"):
        tested = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
        assert tested.returncode == 0, tested.stdout


async def test_the_crc32s_of_images_stored_before_are_recorded_at_their_first_archive(
    api: ApiClient, stack: Stack, seeded: tuple[str, list[str]]
) -> None:
    import_id, _ = seeded
    assert (await api.get(f"/imports/{import_id}/archive")).status_code == 200
    with stack.db() as db:
        recorded = dict(
            db.execute(
                "SELECT name || size, checksums ->> 'crc32' FROM images WHERE import_id = %s",
                (import_id,),
            ).fetchall()
        )
    assert recorded == {f"{f.name}{len(f.data)}": f"{zlib.crc32(f.data):08x}" for f in FILES}


async def test_a_range_in_the_middle_resumes_to_the_same_bytes(
    api: ApiClient, seeded: tuple[str, list[str]]
) -> None:
    import_id, _ = seeded
    whole = await api.get(f"/imports/{import_id}/archive")
    etag = whole.headers["etag"]
    size = len(whole.content)
    for first in (1, size // 3, size // 2, size - 200, size - 1):
        part = await api.get(
            f"/imports/{import_id}/archive", headers={"Range": f"bytes={first}-", "If-Range": etag}
        )
        assert part.status_code == 206, part.text
        assert part.headers["content-range"] == f"bytes {first}-{size - 1}/{size}"
        assert int(part.headers["content-length"]) == size - first
        assert whole.content[:first] + part.content == whole.content
    bounded = await api.get(f"/imports/{import_id}/archive", headers={"Range": "bytes=100-4099"})
    assert bounded.content == whole.content[100:4100]
    suffix = await api.get(f"/imports/{import_id}/archive", headers={"Range": "bytes=-10"})
    assert suffix.content == whole.content[-10:]


async def test_a_range_for_another_version_of_the_archive_gets_all_of_it(
    api: ApiClient, seeded: tuple[str, list[str]]
) -> None:
    import_id, _ = seeded
    answer = await api.get(
        f"/imports/{import_id}/archive", headers={"Range": "bytes=10-", "If-Range": '"old"'}
    )
    assert answer.status_code == 200
    assert int(answer.headers["content-length"]) == len(answer.content)


async def test_a_range_past_the_end_is_refused_with_the_size(
    api: ApiClient, seeded: tuple[str, list[str]]
) -> None:
    import_id, _ = seeded
    size = int((await api.get(f"/imports/{import_id}/archive")).headers["content-length"])
    answer = await api.get(f"/imports/{import_id}/archive", headers={"Range": f"bytes={size}-"})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{size}"
    assert answer.json()["error"] == "range_not_satisfiable"


async def test_a_selection_is_kept_for_a_link_that_streams_it_in_the_order_chosen(
    api: ApiClient, seeded: tuple[str, list[str]]
) -> None:
    _, image_ids = seeded
    chosen = [image_ids[4], image_ids[0]]
    created = await api.post("/archives", json={"image_ids": chosen, "name": "my: pick"})
    assert created.status_code == 201, created.text
    link = created.json()
    assert created.headers["location"] == link["url"] == f"/archives/{link['id']}"
    assert (link["images"], link["name"]) == (2, "my_ pick.zip")
    answer = await api.get(link["url"])
    assert answer.status_code == 200
    assert len(answer.content) == link["size"] == int(answer.headers["content-length"])
    assert "my_%20pick.zip" in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.testzip() is None
        assert len(archive.namelist()) == 2


async def test_a_filter_selects_what_the_image_list_would_show(
    api: ApiClient, seeded: tuple[str, list[str]]
) -> None:
    import_id, _ = seeded
    created = await api.post("/archives", json={"filter": {"import_id": import_id, "q": "img"}})
    assert created.status_code == 201, created.text
    assert created.json()["images"] == 3
    answer = await api.get(created.json()["url"])
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert sorted(name.casefold() for name in names) == sorted(
        ["img_0001.jpg", "img_0001 (2).jpg", "img_0001 (3).jpg"]
    )


async def test_a_selection_of_unknown_images_is_refused_naming_them(
    api: ApiClient, seeded: tuple[str, list[str]]
) -> None:
    unknown = "00000000-0000-0000-0000-000000000001"
    answer = await api.post("/archives", json={"image_ids": [seeded[1][0], unknown]})
    assert answer.status_code == 422
    assert answer.json()["field"] == "image_ids"
    assert unknown in answer.json()["detail"]
    assert (await api.post("/archives", json={})).status_code == 422
    assert (await api.get(f"/archives/{unknown}")).status_code == 404
    assert (await api.get(f"/imports/{unknown}/archive")).status_code == 404


async def test_an_object_deleted_behind_our_back_is_an_error_before_the_first_byte(
    api: ApiClient, stack: Stack
) -> None:
    files = [ImageFile(f"gone-{i}.jpg", "image/jpeg", _data(f"gone{i}", 5000)) for i in range(3)]
    import_id, ids = seed_images(stack, files)
    assert (await api.get(f"/imports/{import_id}/archive")).status_code == 200
    with stack.db() as db:
        (key,) = db.execute(
            "SELECT storage_key FROM images WHERE id = %s", (ids["gone-1.jpg"],)
        ).fetchone()
    stack.s3.client().delete_object(Bucket=stack.bucket, Key=key)
    answer = await api.get(f"/imports/{import_id}/archive")
    assert answer.status_code == 409
    assert answer.json()["error"] == "archive_incomplete"
    assert ids["gone-1.jpg"] in answer.json()["detail"]


async def test_a_missing_object_among_many_is_found_by_the_listing_and_named(
    api: ApiClient, stack: Stack
) -> None:
    # Enough objects that the check lists keys instead of sending a HEAD each.
    files = [ImageFile(f"many-{i}.jpg", "image/jpeg", _data(f"many{i}", 700)) for i in range(80)]
    import_id, ids = seed_images(stack, files)
    assert (await api.get(f"/imports/{import_id}/archive")).status_code == 200
    with stack.db() as db:
        (key,) = db.execute(
            "SELECT storage_key FROM images WHERE id = %s", (ids["many-41.jpg"],)
        ).fetchone()
    stack.s3.client().delete_object(Bucket=stack.bucket, Key=key)
    answer = await api.get(f"/imports/{import_id}/archive")
    assert answer.status_code == 409
    assert answer.json()["detail"].startswith("1 image(s) of this archive are missing")
    assert ids["many-41.jpg"] in answer.json()["detail"]
    # A range that does not read the missing object is still served.
    first = await api.get(f"/imports/{import_id}/archive", headers={"Range": "bytes=0-99"})
    assert first.status_code == 206


# Large enough that holding it would show: 48 objects of 4 MiB.
BIG_OBJECTS, BIG_OBJECT_BYTES = 48, 4 * 1024 * 1024


@pytest.fixture(scope="module")
def api_server(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_api(stack, tmp_path_factory.mktemp("api") / "api.log")
    try:
        yield server
    finally:
        server.stop()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_large_archive_streams_in_bounded_memory(stack: Stack, api_server: Server) -> None:
    files = [
        ImageFile(f"big-{i}.jpg", "image/jpeg", _data(f"big{i}", BIG_OBJECT_BYTES))
        for i in range(BIG_OBJECTS)
    ]
    import_id, _ = seed_images(stack, files)
    pid = api_server.process.pid
    url = f"{api_server.url}/imports/{import_id}/archive"
    # The first archive reads every object once for its CRC-32; the second only streams.
    with httpx.stream("GET", url, timeout=120) as first:
        for _ in first.iter_bytes():
            pass
    before = _rss_bytes(pid)
    peak = before
    received = 0
    crc: dict[str, int] = {}
    started = time.monotonic()
    with httpx.stream("GET", url, timeout=120) as answer:
        assert answer.status_code == 200
        expected = int(answer.headers["content-length"])
        sink = io.BytesIO()
        for chunk in answer.iter_bytes(1 << 20):
            received += len(chunk)
            sink.write(chunk)
            peak = max(peak, _rss_bytes(pid))
    elapsed = time.monotonic() - started
    assert received == expected > BIG_OBJECTS * BIG_OBJECT_BYTES
    with zipfile.ZipFile(sink) as archive:
        assert archive.testzip() is None
        crc = {info.filename: info.CRC for info in archive.infolist()}
    assert crc == {f.name: zlib.crc32(f.data) for f in files}
    grown = peak - before
    print(
        f"archive of {expected / 2**20:.0f} MiB in {elapsed:.1f} s; API RSS {before / 2**20:.0f}"
        f" MiB before, peak {peak / 2**20:.0f} MiB"
    )
    # Holding the archive, or even one object per connection, would show as hundreds of MiB.
    assert grown < 48 * 2**20, f"the API grew by {grown / 2**20:.0f} MiB while streaming"


async def test_an_albums_archive_holds_it_and_its_subalbums_in_their_folders(
    api: ApiClient, stack: Stack
) -> None:
    files = [
        ImageFile(f"album_{i}.jpg", "image/jpeg", _data(f"album{i}", 500 + i)) for i in range(3)
    ]
    import_id, ids = seed_images(stack, files)
    with stack.db() as db:
        (top,) = db.execute(
            "INSERT INTO albums (source, source_folder_id, name, path)"
            " VALUES ('google_drive', 'archive-top', 'Trip', 'Trip') RETURNING id::text"
        ).fetchone()
        (day,) = db.execute(
            "INSERT INTO albums (source, source_folder_id, name, parent_id, path)"
            " VALUES ('google_drive', 'archive-day', 'Day 1', %s, 'Trip/Day 1')"
            " RETURNING id::text",
            (top,),
        ).fetchone()
        db.execute("UPDATE images SET album_id = %s WHERE id = %s", (top, ids["album_0.jpg"]))
        db.execute("UPDATE images SET album_id = %s WHERE id = %s", (day, ids["album_1.jpg"]))
        db.execute("UPDATE images SET album_id = %s WHERE id = %s", (day, ids["album_2.jpg"]))

    answer = await api.get(f"/albums/{top}/archive")
    assert answer.status_code == 200, answer.text
    assert 'filename="Trip.zip"' in answer.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        assert archive.testzip() is None
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    assert contents == {
        "album_0.jpg": files[0].data,
        "Day 1/album_1.jpg": files[1].data,
        "Day 1/album_2.jpg": files[2].data,
    }
    # The import's archive keeps the folders below the deepest one holding them all.
    whole = await api.get(f"/imports/{import_id}/archive")
    with zipfile.ZipFile(io.BytesIO(whole.content)) as archive:
        assert set(archive.namelist()) == set(contents)
    assert (await api.get(f"/albums/{day}/archive")).status_code == 200
    unknown = await api.get("/albums/00000000-0000-4000-8000-000000000000/archive")
    assert unknown.status_code == 404


async def test_a_filter_selects_an_albums_images_and_one_image_per_content(
    api: ApiClient, stack: Stack
) -> None:
    files = [ImageFile(f"pick_{i}.jpg", "image/jpeg", _data(f"pick{i}", 700 + i)) for i in range(4)]
    import_id, ids = seed_images(stack, files)
    digest = hashlib.sha256(b"pick").hexdigest()
    with stack.db() as db:
        (album,) = db.execute(
            "INSERT INTO albums (source, source_folder_id, name, path)"
            " VALUES ('google_drive', 'archive-pick', 'Pick', 'Pick') RETURNING id::text"
        ).fetchone()
        db.execute(
            "UPDATE images SET album_id = %s WHERE id = ANY(%s::uuid[])",
            (album, [ids["pick_0.jpg"], ids["pick_1.jpg"]]),
        )
        # pick_2 and pick_3 hold the same bytes, as far as the catalogue knows.
        db.execute(
            "INSERT INTO contents (sha256, size, mime_type, checksums, storage_key, storage_path)"
            " VALUES (%s, 702, 'image/jpeg', '{}', %s, %s)",
            (digest, f"content/{digest}", f"s3://{stack.bucket}/content/{digest}"),
        )
        db.execute(
            "UPDATE images SET content_id = %s WHERE id = ANY(%s::uuid[])",
            (digest, [ids["pick_2.jpg"], ids["pick_3.jpg"]]),
        )

    async def names(selection: dict[str, object]) -> set[str]:
        created = await api.post(
            "/archives", json={"filter": {"import_id": import_id, **selection}}
        )
        assert created.status_code == 201, created.text
        answer = await api.get(created.json()["url"])
        return set(zipfile.ZipFile(io.BytesIO(answer.content)).namelist())

    assert await names({"album_id": album}) == {"pick_0.jpg", "pick_1.jpg"}
    copies = await names({"duplicates": "only"})
    assert len(copies) == 1 and copies <= {"pick_2.jpg", "pick_3.jpg"}
    assert len(await names({"duplicates": "hide"})) == 3
    refused = await api.post("/archives", json={"filter": {"include_subalbums": True}})
    assert refused.status_code == 422
    assert refused.json()["field"] == "include_subalbums"
