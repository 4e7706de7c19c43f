"""The demo folders hold real photos: every image of the Drive, Dropbox and Nextcloud samples
decodes with Pillow and carries the EXIF its fixture states, duplicates are the same bytes,
and fixtures without pictures keep their cheap synthetic bytes."""

import hashlib
import io
from collections import Counter
from datetime import datetime

import pytest
from PIL import Image, ImageOps

from emulators.common.pictures import Picture, picture_from_spec, render
from emulators.dropbox.cli import sample_spec as dropbox_sample_spec
from emulators.dropbox.fixture import DropboxFixture
from emulators.google_drive import DriveFixture
from emulators.google_drive.samples import BEACH, SAMPLE_ROOT, SUNSET
from emulators.nextcloud.cli import sample_spec as nextcloud_sample_spec
from emulators.nextcloud.fixture import NextcloudFixture

_ORIENTATION, _MAKE, _MODEL = 0x0112, 0x010F, 0x0110
_EXIF_IFD, _DATE_TIME_ORIGINAL = 0x8769, 0x9003


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def drive_sample_bytes() -> dict[str, bytes]:
    fixture = DriveFixture.sample()
    return {file.path: file.read() for file in fixture.expected_images(SAMPLE_ROOT)}


def test_every_image_of_the_drive_demo_decodes_and_its_formats_are_varied() -> None:
    formats = Counter(decoded(data).format for data in drive_sample_bytes().values())
    assert set(formats) == {"JPEG", "PNG", "WEBP", "GIF", "HEIF"}
    assert sum(formats.values()) >= 60


def test_the_drive_demo_photos_carry_the_exif_their_fixture_states() -> None:
    photos = drive_sample_bytes()

    summer = decoded(photos["2023 Summer/IMG_0001.jpg"])
    exif = summer.getexif()
    assert (exif[_MAKE], exif[_MODEL], exif[_ORIENTATION]) == ("Apple", "iPhone 13", 1)
    assert exif.get_ifd(_EXIF_IFD)[_DATE_TIME_ORIGINAL] == "2023:07:14 09:30:00"
    # A name_pattern's files are taken one after the other (47 minutes apart by default).
    later = decoded(photos["2023 Summer/IMG_0003.jpg"]).getexif().get_ifd(_EXIF_IFD)
    assert later[_DATE_TIME_ORIGINAL] == "2023:07:14 11:04:00"

    # A portrait stored turned, as phones store them: upright once EXIF orientation applies.
    sunset = decoded(photos["2023 Summer/sunset.jpg"])
    assert sunset.getexif()[_ORIENTATION] == 6
    assert sunset.size == (480, 360)
    assert ImageOps.exif_transpose(sunset).size == (360, 480)
    orientations = {
        decoded(data).getexif().get(_ORIENTATION)
        for path, data in photos.items()
        if path.endswith(".jpg")
    }
    assert {1, 3, 6, 8} <= orientations

    heic = decoded(photos["2024 Winter/IMG_2041.heic"])
    assert heic.format == "HEIF"
    heic_exif = heic.getexif()
    assert (heic_exif[_MAKE], heic_exif[_MODEL]) == ("Apple", "iPhone 15 Pro")
    assert heic_exif.get_ifd(_EXIF_IFD)[_DATE_TIME_ORIGINAL] == "2024:01:23 09:41:00"

    png = decoded(photos["2023 Summer/panorama.png"])
    assert png.size == (960, 320)
    assert png.getexif().get_ifd(_EXIF_IFD)[_DATE_TIME_ORIGINAL] == "2023:07:17 13:20:45"

    gif = decoded(photos["2024 Winter/sledge-01.gif"])
    assert getattr(gif, "n_frames", 1) == 4


def test_the_drive_demo_has_exact_duplicates_under_other_names_and_folders() -> None:
    photos = drive_sample_bytes()
    by_digest: dict[str, list[str]] = {}
    for path, data in photos.items():
        by_digest.setdefault(hashlib.sha256(data).hexdigest(), []).append(path)
    copies = sorted(sorted(paths) for paths in by_digest.values() if len(paths) > 1)
    assert copies == [
        ["2023 Summer/beach.jpg", "Favourites/beach.jpg", "beach (1).jpg"],
        ["2023 Summer/sunset.jpg", "Favourites/Sunset on the last day.jpg"],
    ]
    assert photos["2023 Summer/beach.jpg"] == render(
        picture_from_spec(BEACH, mime_type="image/jpeg", default_seed=0)
    )
    assert SUNSET["orientation"] == 6


def test_the_drive_emulator_reports_a_pictures_stored_dimensions() -> None:
    fixture = DriveFixture.sample()
    item = fixture.find([SAMPLE_ROOT, "2023 Summer", "sunset.jpg"])
    assert (item.width, item.height) == (480, 360)
    assert item.size == len(fixture.read_bytes(item.id))
    # Ranges of a picture's bytes are served as ranges of the whole.
    whole = fixture.read_bytes(item.id)
    assert b"".join(fixture.iter_bytes(item.id, 100, 2000, chunk_size=333)) == whole[100:2000]


def test_the_dropbox_demo_holds_real_photos_with_their_exif_and_a_duplicate() -> None:
    fixture = DropboxFixture(dropbox_sample_spec())
    files = {file.path: file.read() for file in fixture.expected_images("Holiday photos")}
    formats = Counter(decoded(data).format for data in files.values())
    assert set(formats) == {"JPEG", "PNG", "GIF", "HEIF"}
    photo = decoded(files["/IMG_0017.jpg"]).getexif()
    assert photo[_ORIENTATION] == 6
    assert photo.get_ifd(_EXIF_IFD)[_DATE_TIME_ORIGINAL] == "2023:07:15 18:05:00"
    assert files["/beach.jpg"] == files["/2024 Winter/beach (copy).jpg"]
    old = fixture.expected_images("Old share")
    assert all(decoded(file.read()).format == "JPEG" for file in old)


def test_the_nextcloud_demo_share_holds_real_photos() -> None:
    fixture = NextcloudFixture(nextcloud_sample_spec())
    items = fixture.expected_images("Holiday photos")
    formats = Counter(decoded(fixture.read_bytes(item)).format for item in items)
    assert set(formats) == {"JPEG", "PNG", "GIF"}
    fete = fixture.share("Holiday photos").find("/Fête à Noël 🎄.jpg")
    assert fete is not None
    exif = decoded(fixture.read_bytes(fete)).getexif()
    assert exif[_ORIENTATION] == 6
    assert exif.get_ifd(_EXIF_IFD)[_DATE_TIME_ORIGINAL] == "2023:12:24 19:03:44"


def test_a_bulk_folder_keeps_synthetic_bytes_of_its_stated_sizes() -> None:
    fixture = DriveFixture.sample(extra_files=50)
    bulk = fixture.expected_images([SAMPLE_ROOT, "bulk"])
    assert len(bulk) == 50
    for file in bulk[:5]:
        assert 200 <= file.size <= 4000
        assert fixture.find([SAMPLE_ROOT, "bulk", file.name]).body is None
        assert file.read().startswith(b"\xff\xd8")  # only a JPEG's header: nothing decodes


def test_a_picture_is_the_same_bytes_for_the_same_description_and_refuses_unknown_keys() -> None:
    picture = Picture(mime_type="image/png", seed=3, taken_at=datetime(2020, 1, 2, 3, 4, 5))
    # Drawn again, uncached: the bytes depend on the description alone.
    assert render.__wrapped__(picture) == render(Picture(**vars(picture)))
    with pytest.raises(ValueError, match="unknown picture keys"):
        picture_from_spec({"colour": "red"}, mime_type="image/jpeg", default_seed=0)
    with pytest.raises(ValueError, match="no picture can be drawn"):
        picture_from_spec(True, mime_type="application/pdf", default_seed=0)
