"""Thumbnails and facts of real images of every format, made by the test code."""

import io

import pytest
from PIL import Image

from tests.image_files import (
    CAMERA,
    FORMATS,
    FRAME_COLOURS,
    TAKEN_AT,
    WITH_EXIF,
    animated_file,
    exif_bytes,
    image_file,
    photo,
    png_bomb,
    truncated_jpeg,
)
from worker.derivatives import imaging
from worker.derivatives.imaging import NotPossible, make_derivative

LONGEST_SIDE = 320
MAX_PIXELS = 50_000_000


def derive(data: bytes, max_pixels: int = MAX_PIXELS):  # type: ignore[no-untyped-def]
    return make_derivative(io.BytesIO(data), longest_side=LONGEST_SIDE, max_pixels=max_pixels)


@pytest.mark.parametrize("kind", sorted(FORMATS))
def test_every_format_gets_a_webp_thumbnail_and_its_dimensions(kind: str) -> None:
    derivative = derive(image_file(kind, 1200, 800).data)

    assert (derivative.facts.width, derivative.facts.height) == (1200, 800)
    thumbnail = Image.open(io.BytesIO(derivative.thumbnail))
    assert thumbnail.format == "WEBP"
    assert thumbnail.size == (320, 213)
    assert derivative.facts.animated is False


@pytest.mark.parametrize("kind", sorted(WITH_EXIF))
def test_capture_time_and_camera_come_from_exif(kind: str) -> None:
    facts = derive(image_file(kind).data).facts

    assert facts.taken_at == TAKEN_AT
    assert (facts.camera_make, facts.camera_model) == CAMERA


@pytest.mark.parametrize("kind", sorted(WITH_EXIF))
def test_exif_orientation_turns_the_dimensions_and_the_thumbnail(kind: str) -> None:
    # Stored 600 wide, 400 high, "rotate 90° clockwise to display": displayed 400 x 600.
    derivative = derive(image_file(kind, 600, 400, orientation=6).data)

    assert (derivative.facts.width, derivative.facts.height) == (400, 600)
    assert Image.open(io.BytesIO(derivative.thumbnail)).size == (213, 320)


def test_the_thumbnail_shows_the_picture_upright() -> None:
    # A red mark at the stored top-left corner is at the top-right once turned clockwise.
    picture = Image.new("RGB", (600, 400), (0, 0, 255))
    picture.paste((255, 0, 0), (0, 0, 120, 120))
    body = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    picture.save(body, "JPEG", exif=exif.tobytes(), quality=95)

    thumbnail = Image.open(io.BytesIO(derive(body.getvalue()).thumbnail)).convert("RGB")

    red, _, blue = thumbnail.getpixel((thumbnail.width - 10, 10))  # type: ignore[misc]
    assert red > 200 and blue < 60
    red, _, blue = thumbnail.getpixel((10, 10))  # type: ignore[misc]
    assert red < 60 and blue > 200


def test_an_iphone_style_heic_is_read() -> None:
    heic = image_file("heic", 4032 // 4, 3024 // 4, orientation=6)

    derivative = derive(heic.data)

    assert (derivative.facts.width, derivative.facts.height) == (3024 // 4, 4032 // 4)
    assert derivative.facts.taken_at == TAKEN_AT
    assert derivative.facts.camera_model == "iPhone 13"


def test_a_heic_with_an_embedded_thumbnail_decodes_only_that(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Phones embed a small copy in each HEIC: decoding it instead of 12 MP saves the memory
    # and time of the whole picture.
    body = io.BytesIO()
    photo(1600, 1200).save(body, "HEIF", quality=80, thumbnails=[400], exif=exif_bytes(1))
    whole_decodes: list[object] = []
    monkeypatch.setattr(imaging, "_reduced_heif", lambda *args: whole_decodes.append(args))

    derivative = derive(body.getvalue())

    assert whole_decodes == []
    assert (derivative.facts.width, derivative.facts.height) == (1600, 1200)
    assert Image.open(io.BytesIO(derivative.thumbnail)).size == (320, 240)


@pytest.mark.parametrize("kind", ["gif", "webp"])
def test_an_animation_is_marked_animated_and_shows_its_first_frame(kind: str) -> None:
    derivative = derive(animated_file(kind, 160, 120).data)

    assert derivative.facts.animated is True
    assert (derivative.facts.width, derivative.facts.height) == (160, 120)
    thumbnail = Image.open(io.BytesIO(derivative.thumbnail)).convert("RGB")
    red, green, blue = thumbnail.getpixel((80, 60))  # type: ignore[misc]
    first = FRAME_COLOURS[0]
    assert abs(red - first[0]) < 20 and abs(green - first[1]) < 20 and abs(blue - first[2]) < 20


def test_a_small_file_declaring_gigapixels_is_refused_by_the_pixel_limit() -> None:
    with pytest.raises(NotPossible, match=r"over the limit of 50,000,000 .*DERIVATIVE_MAX_PIXELS"):
        derive(png_bomb(100_000, 100_000).data)


def test_a_jpeg_decodes_scaled_down_so_only_its_decoded_pixels_count() -> None:
    # 2400 x 1600 = 3.84 MP declared; decoded at 1/4 scale for a 320 px thumbnail.
    derivative = derive(image_file("jpeg", 2400, 1600).data, max_pixels=1_000_000)
    assert (derivative.facts.width, derivative.facts.height) == (2400, 1600)
    with pytest.raises(NotPossible, match="DERIVATIVE_MAX_PIXELS"):
        derive(image_file("png", 2400, 1600).data, max_pixels=1_000_000)


def test_a_truncated_image_is_not_possible_with_the_reason() -> None:
    with pytest.raises(NotPossible, match="the JPEG data does not decode: image file is truncated"):
        derive(truncated_jpeg().data)


def test_bytes_that_are_no_image_are_not_possible_with_the_reason() -> None:
    with pytest.raises(NotPossible, match="not an image format this service reads"):
        derive(b"\xff\xd8\xff" + b"\x00" * 64)
