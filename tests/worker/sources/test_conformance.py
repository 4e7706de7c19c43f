"""The connector contract, the same cases for every connector against its emulator (see
conftest.py for the harnesses). A connector's own test file keeps only its quirks."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest

from tests.worker.sources.conftest import BIG_SIZE, PAGED_NAMES, Harness
from worker.imports.listing import skip_reason
from worker.sources.base import (
    FolderPage,
    FolderRef,
    FolderUnavailable,
    SourceConnector,
    SourceFile,
    TransientSourceError,
)
from worker.sources.media_types import NotAnImage, typed_by_bytes


async def list_all(connector: SourceConnector, folder: FolderRef) -> list[FolderPage]:
    pages = [await connector.list_page(folder, None)]
    while pages[-1].next_page_token:
        pages.append(await connector.list_page(folder, pages[-1].next_page_token))
    return pages


async def files_of(source: Harness, folder: str) -> dict[str, SourceFile]:
    root = source.folder(folder)
    pages = await list_all(source.connector(), root)
    return {file.name: file for page in pages for file in page.files}


async def read(connector: SourceConnector, file: SourceFile) -> bytes:
    async with connector.open_file(file) as chunks:
        return b"".join([chunk async for chunk in chunks])


def test_every_connector_states_whether_it_has_limits(source: Harness) -> None:
    notes = source.connector().notes
    assert notes is None or len(notes) > 40


async def test_a_folder_lists_every_file_once_over_short_and_empty_pages(
    source: Harness,
) -> None:
    folder = source.folder("paged")
    pages = await list_all(source.connector(page_size=10), folder)
    names = [file.name for page in pages for file in page.files]
    assert sorted(names) == PAGED_NAMES
    if source.paged:
        assert len(pages) >= 3 and all(len(page.files) <= 10 for page in pages)
    else:
        assert len(pages) == 1
    if source.source_pages:
        assert any(not page.files for page in pages[:-1])  # an empty page that is not the last


async def test_another_worker_resumes_listing_from_a_page_token(source: Harness) -> None:
    if not source.paged:
        pytest.skip(f"{source.name} lists a folder in one page: there is no token to resume")
    folder = source.folder("paged")
    first = await source.connector(page_size=10).list_page(folder, None)
    assert first.next_page_token is not None
    # A new connector stands for another worker process, holding nothing of the first.
    rest = await list_all_from(source.connector(page_size=10), folder, first.next_page_token)
    names = [file.name for page in [first, *rest] for file in page.files]
    assert sorted(names) == PAGED_NAMES


async def list_all_from(
    connector: SourceConnector, folder: FolderRef, token: str
) -> list[FolderPage]:
    pages = [await connector.list_page(folder, token)]
    while pages[-1].next_page_token:
        pages.append(await connector.list_page(folder, pages[-1].next_page_token))
    return pages


async def test_names_come_through_exactly_as_the_source_gives_them(source: Harness) -> None:
    files = await files_of(source, "names")
    assert sorted(files) == sorted(source.names)


async def test_files_stream_byte_exact_and_match_their_listed_checksums(
    source: Harness,
) -> None:
    files = await files_of(source, "names")
    reader = source.connector()
    for name, file in files.items():
        body = await read(reader, file)
        md5 = hashlib.md5(body).hexdigest()
        assert md5 == source.expected_md5("names", name), name
        assert file.size in (None, len(body))
        assert file.checksums.get("md5", md5) == md5


async def test_non_images_and_native_documents_are_skipped_with_their_reasons(
    source: Harness,
) -> None:
    files = await files_of(source, "mixed")
    assert skip_reason(files["photo.jpg"]) is None
    assert skip_reason(files["notes.txt"]) == "not an image (text/plain)"
    assert skip_reason(files["clip.mp4"]) == "not an image (video/mp4)"
    if source.native is None:
        assert not any(name.startswith("Plan") for name in files)
    else:
        name, reason = source.native
        assert reason in (skip_reason(files[name]) or "")


async def test_a_file_named_as_an_image_whose_bytes_are_not_one_is_skipped_by_its_bytes(
    source: Harness,
) -> None:
    files = await files_of(source, "mixed")
    fake, photo = files["fake.jpg"], files["photo.jpg"]
    assert skip_reason(fake) is None  # the name and the listed type say image
    async with source.connector().open_file(photo) as chunks:
        assert (await typed_by_bytes(chunks, photo.mime_type))[0] == "image/jpeg"
    # What a transfer does before it stores anything: the bytes decide.
    with pytest.raises(NotAnImage, match=r"^not an image: its bytes are application/pdf"):
        async with source.connector().open_file(fake) as chunks:
            await typed_by_bytes(chunks, fake.mime_type)


@pytest.mark.parametrize("on", ["listing", "download"])
async def test_a_rate_limit_is_transient_and_says_when_to_retry(source: Harness, on: str) -> None:
    await check_transient(source, "rate_limited", on, retry_after=7)


@pytest.mark.parametrize("on", ["listing", "download"])
async def test_a_server_error_is_transient(source: Harness, on: str) -> None:
    await check_transient(source, "server_error", on)


async def test_a_body_cut_short_is_transient(source: Harness) -> None:
    await check_transient(source, "cut_body", "download")


async def check_transient(
    source: Harness, fault: str, on: str, *, retry_after: int | None = None
) -> None:
    folder = source.folder("mixed")
    photo = None
    if on == "download":
        photo = (await files_of(source, "mixed"))["photo.jpg"]
    source.fail(fault, on=on, retry_after=retry_after or 1)
    # A new connector each time: the download runs in another job than the listing.
    with pytest.raises(TransientSourceError) as caught:
        if photo is None:
            await source.connector().list_page(folder, None)
        else:
            await read(source.connector(), photo)
    if retry_after is not None:
        assert caught.value.retry_after == pytest.approx(retry_after, abs=1)
    source.heal()


async def test_checking_a_folder_gives_its_name_as_the_source_states_it(
    source: Harness,
) -> None:
    # What the import is listed by: each source states the name its own way (Drive's `name`,
    # the embedded view's title, Dropbox's link metadata or zip file name, WebDAV's
    # displayname, a bucket prefix's last part).
    for name in ("names", "paged"):
        folder = source.folder(name)  # first: a harness binds its connectors to this link
        assert await source.connector().check_folder(folder) == name


async def test_a_missing_folder_is_unavailable(source: Harness) -> None:
    with pytest.raises(FolderUnavailable):
        folder = source.missing_folder()
        await source.connector().check_folder(folder)


async def test_a_private_folder_is_unavailable_without_its_key(source: Harness) -> None:
    with pytest.raises(FolderUnavailable):
        folder = source.private_folder()
        await source.connector().check_folder(folder)


async def test_a_large_file_streams_in_bounded_memory(source: Harness) -> None:
    big = (await files_of(source, "big"))["big.png"]
    digest = hashlib.md5(usedforsecurity=False)
    received = 0
    tracemalloc.start()
    try:
        async with source.connector().open_file(big) as chunks:
            async for chunk in chunks:
                digest.update(chunk)
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == BIG_SIZE
    assert digest.hexdigest() == source.expected_md5("big", "big.png")
    # A few chunks at a time, never the whole file (the emulator, in this process, counts too).
    assert peak < BIG_SIZE / 2
