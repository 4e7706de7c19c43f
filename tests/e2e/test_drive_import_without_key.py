"""Without GOOGLE_API_KEY the worker reads Drive through its public web pages, end to end."""

from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.helpers import all_images, start_import, wait_for_import

WORKER_ENV = {"GOOGLE_API_KEY": ""}


@pytest.fixture
def small_virus_scan_threshold(stack: Stack) -> Iterator[None]:
    """Files above 10 MB get Google's virus-scan page first, as files above ~100 MB do."""
    settings = stack.drive.settings
    before = (settings.virus_scan_threshold, settings.form_action_base)
    settings.update({"virus_scan_threshold": 10_000_000, "form_action_base": "self"})
    try:
        yield
    finally:
        settings.update({"virus_scan_threshold": before[0], "form_action_base": before[1]})


async def test_a_folder_imports_without_an_api_key_and_says_what_it_could_not_check(
    api: AsyncTestClient[Any], stack: Stack, small_virus_scan_threshold: None
) -> None:
    fixture = stack.drive.fixture
    expected = {image.id: image for image in fixture.expected_images("keyless")}
    import_id = await start_import(api, fixture.link("keyless"))
    result = await wait_for_import(api, import_id)

    assert result["status"] == "completed", result
    assert result["counts"]["imported"] == len(expected) == 8
    assert "without an API key" in result["notes"]
    images = await all_images(api, import_id=import_id)
    assert {image["source_file_id"] for image in images} == set(expected)
    for image in images:
        source = expected[image["source_file_id"]]
        assert (image["size"], image["mime_type"], image["md5_checksum"]) == (
            source.size,
            source.mime_type,
            source.md5,
        )
        assert stack.read_object(f"content/{source.sha256}") == source.read()


async def test_a_missing_folder_fails_the_import_without_an_api_key_too(
    api: AsyncTestClient[Any],
) -> None:
    missing = "1MissingMissingMissingMissingMiss"
    result = await wait_for_import(
        api, await start_import(api, f"https://drive.google.com/drive/folders/{missing}")
    )
    assert result["status"] == "failed"
    assert "not shared publicly" in result["error"] or "not found" in result["error"]
