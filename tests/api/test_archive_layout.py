"""The ZIP layout and the archive's names, without servers: every entry verifies in Python's
zipfile and Info-ZIP's `unzip -t`, the size is known before any byte, any byte range is the same
bytes as the whole archive's, and names are safe on every system and never clash."""

import io
import random
import shutil
import subprocess
import zipfile
import zlib
from datetime import datetime
from pathlib import Path

import pytest

from api.archives.names import MAX_NAME_BYTES, ArchivePaths, safe_name
from api.archives.zip_layout import ObjectSlice, ZipEntry, ZipLayout

MODIFIED = datetime(2023, 7, 14, 9, 30, 4)


def _contents(count: int, seed: int = 1) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {
        f"folder {i % 3}/photo {i}.jpg": rng.randbytes(rng.randint(0, 3000)) for i in range(count)
    }


def _layout(contents: dict[str, bytes], **options: int) -> ZipLayout:
    entries = [
        ZipEntry(path, len(data), zlib.crc32(data), MODIFIED, path)
        for path, data in contents.items()
    ]
    return ZipLayout(entries, **options)


def _bytes(layout: ZipLayout, contents: dict[str, bytes], first: int = 0, last: int | None = None):
    out = bytearray()
    for piece in layout.pieces(first, last):
        if isinstance(piece, ObjectSlice):
            data = contents[str(piece.entry.source)]
            out += data[piece.first : piece.first + piece.length]
        else:
            out += piece
    return bytes(out)


@pytest.mark.parametrize("zip64_from", [0xFFFFFFFF, 1000], ids=["zip32", "zip64"])
def test_every_entry_verifies_in_zipfile_and_unzip(zip64_from: int, tmp_path: Path) -> None:
    contents = _contents(40)
    layout = _layout(contents, zip64_from=zip64_from)
    archive = _bytes(layout, contents)
    assert len(archive) == layout.size
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert opened.testzip() is None
        assert {info.filename: opened.read(info) for info in opened.infolist()} == contents
        assert all(info.compress_type == zipfile.ZIP_STORED for info in opened.infolist())
        assert opened.infolist()[0].date_time == (2023, 7, 14, 9, 30, 4)
    path = tmp_path / "archive.zip"
    path.write_bytes(archive)
    if shutil.which("unzip"):
        tested = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True)
        assert tested.returncode == 0, tested.stdout + tested.stderr
        assert "No errors detected" in tested.stdout


def test_a_zip64_archive_marks_what_overflowed() -> None:
    contents = _contents(5)
    archive = _bytes(_layout(contents, zip64_from=10), contents)
    # The ZIP64 end record and its locator precede the classic end record.
    assert archive[-22 - 20 : -22][:4] == b"PK\x06\x07"
    assert b"PK\x06\x06" in archive


@pytest.mark.parametrize("zip64_from", [0xFFFFFFFF, 1000], ids=["zip32", "zip64"])
def test_any_byte_range_is_the_same_bytes_as_the_whole(zip64_from: int) -> None:
    contents = _contents(25, seed=2)
    layout = _layout(contents, zip64_from=zip64_from)
    archive = _bytes(layout, contents)
    rng = random.Random(3)
    for _ in range(300):
        first = rng.randrange(layout.size)
        last = rng.randrange(first, layout.size)
        assert _bytes(layout, contents, first, last) == archive[first : last + 1]
    # The central directory alone, and the last byte.
    start = layout.central_directory_offset
    assert _bytes(layout, contents, start) == archive[start:]
    assert _bytes(layout, contents, layout.size - 1) == archive[-1:]


def test_an_empty_archive_is_a_valid_zip() -> None:
    archive = _bytes(ZipLayout([]), {})
    assert zipfile.ZipFile(io.BytesIO(archive)).namelist() == []


def test_the_size_does_not_depend_on_the_crc32s() -> None:
    contents = _contents(10)
    entries = [ZipEntry(path, len(data), 0, MODIFIED, path) for path, data in contents.items()]
    assert ZipLayout(entries).size == _layout(contents).size


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("IMG_0001.jpg", "IMG_0001.jpg"),
        ('a<b>c:d"e|f?g*h.jpg', "a_b_c_d_e_f_g_h.jpg"),
        ("back\\slash/slash.png", "back_slash_slash.png"),
        ("tab\there\x00.gif", "tab_here_.gif"),
        ("trailing dots... ", "trailing dots"),
        ("CON", "_CON"),
        ("con.jpg", "_con.jpg"),
        ("LPT9.tar.gz", "_LPT9.tar.gz"),
        ("COM¹.png", "_COM¹.png"),
        ("CONSOLE.jpg", "CONSOLE.jpg"),
        ("..", "_"),
        ("", "_"),
        ("e\u0301te\u0301.jpg", "été.jpg"),
    ],
)
def test_names_are_made_safe_for_every_system(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def test_a_long_name_is_cut_to_255_bytes_keeping_its_extension() -> None:
    name = "é" * 300 + ".jpeg"
    safe = safe_name(name)
    assert len(safe.encode()) <= MAX_NAME_BYTES
    assert safe.endswith(".jpeg")


def test_clashing_names_are_numbered_whatever_their_case() -> None:
    paths = ArchivePaths(["trip", "Trip/day 1"])
    assigned = [
        paths.assign("trip", "IMG.jpg"),
        paths.assign("Trip", "img.JPG"),
        paths.assign("trip", "IMG.jpg"),
        paths.assign("trip", "IMG (2).jpg"),
        paths.assign("", "trip"),
        paths.assign("trip/day 1", "a?.png"),
        paths.assign("trip/day 1", "a*.png"),
        paths.assign("", "CON.jpg"),
    ]
    assert assigned == [
        "trip/IMG.jpg",
        "trip/img (2).JPG",
        "trip/IMG (3).jpg",
        "trip/IMG (2) (2).jpg",
        # A file never takes a folder's name.
        "trip (2)",
        "trip/day 1/a_.png",
        "trip/day 1/a_ (2).png",
        "_CON.jpg",
    ]
    assert len({path.casefold() for path in assigned}) == len(assigned)


def test_folders_are_made_safe_segment_by_segment() -> None:
    paths = ArchivePaths(["a:b/NUL/c. "])
    assert paths.assign("a:b/NUL/c. ", "x.jpg") == "a_b/_NUL/c/x.jpg"
    assert paths.assign("../../etc", "passwd") == "_/_/etc/passwd"
