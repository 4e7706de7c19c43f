"""The Nextcloud connector's own quirks (the shared contract is test_conformance.py): passwords
in each shape, the server's brute-force protection, its WebDAV shape remembered per server, the
address policy at each connection, checksums, and a large folder listed in bounded memory
(`bench/nextcloud_listing.py` times 10,000 and 50,000 files against the emulator in a process
of its own)."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from domain.address_policy import parse_networks
from domain.sources.nextcloud import NextcloudShare
from emulators.nextcloud import FaultRule, NextcloudEmulatorServer, NextcloudFixture
from tests.worker.conftest import guarded_source_client
from worker.pacing import NoPacing
from worker.sources.base import FolderUnavailable, ImportLink, TransientSourceError
from worker.sources.nextcloud import NextcloudConnector
from worker.sources.nextcloud.multistatus import MultistatusReader
from worker.sources.nextcloud.spool import Spools

LARGE_FOLDER = 5_000
SPEC: dict[str, Any] = {
    "seed": 5,
    "shares": [
        {
            "name": "photos",
            "files": [
                {"name": "with sums.jpg", "size": 700, "checksums": ["SHA1", "MD5", "SHA256"]},
                {"name": "without.jpg", "size": 600},
            ],
        },
        {"name": "locked", "password": "open sesame", "files": [{"name": "s.jpg", "size": 500}]},
        {
            "name": "large",
            "files": [{"name_pattern": "IMG_{i:06d}.jpg", "count": LARGE_FOLDER, "size": 300}],
        },
    ],
}


@pytest.fixture(scope="module")
def server() -> Iterator[NextcloudEmulatorServer]:
    with NextcloudEmulatorServer(NextcloudFixture(SPEC)) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh_server(server: NextcloudEmulatorServer) -> Iterator[None]:
    yield
    server.settings.flavour = "nextcloud"
    server.set_faults()
    server.stats.reset()


def connector(
    server: NextcloudEmulatorServer,
    http: httpx.AsyncClient,
    share: str,
    password: str | None = None,
    *,
    allowed: tuple[str, ...] = ("127.0.0.0/8",),
    page_size: int = 1000,
) -> tuple[NextcloudConnector, NextcloudShare]:
    token = server.fixture.share(share).token
    locator = NextcloudShare(f"127.0.0.1:{server.port}/s/{token}", server.base_url, token)
    reader = NextcloudConnector(
        http,
        pacer_for=lambda host: NoPacing(),
        allowed_networks=parse_networks(allowed),
        page_size=page_size,
        spool_dir=None,
    )
    return reader.for_link(ImportLink(locator, password)), locator


@pytest.mark.parametrize("flavour", ["nextcloud", "legacy", "ocis"])
async def test_a_share_password_opens_the_share_in_every_shape(
    server: NextcloudEmulatorServer, http: httpx.AsyncClient, flavour: str
) -> None:
    server.settings.flavour = flavour
    reader, share = connector(server, http, "locked", "open sesame")
    await reader.check_folder(share.root())
    page = await reader.list_page(share.root(), None)
    assert [file.name for file in page.files] == ["s.jpg"]


@pytest.mark.parametrize("flavour", ["nextcloud", "legacy", "ocis"])
async def test_a_wrong_password_makes_the_folder_unavailable_after_one_attempt(
    server: NextcloudEmulatorServer, http: httpx.AsyncClient, flavour: str
) -> None:
    server.settings.flavour = flavour
    reader, share = connector(server, http, "locked", "guess")
    with pytest.raises(FolderUnavailable, match="refuses the share's password"):
        await reader.check_folder(share.root())
    # Discovery stops at the refusal: one failed attempt, not one per shape.
    assert server.stats.failed_attempts == 1


async def test_brute_force_protection_is_a_rate_limit_to_wait_out(
    server: NextcloudEmulatorServer, http: httpx.AsyncClient
) -> None:
    server.settings.brute_force_max_attempts = 3
    try:
        for _ in range(3):
            with pytest.raises(FolderUnavailable):
                await connector(server, http, "locked", "guess")[0].check_folder(
                    connector(server, http, "locked")[1].root()
                )
        reader, share = connector(server, http, "locked", "open sesame")
        with pytest.raises(TransientSourceError, match="brute-force") as caught:
            await reader.check_folder(share.root())
        assert caught.value.rate_limited
    finally:
        server.settings.brute_force_max_attempts = 10


async def test_the_servers_shape_is_found_once_and_remembered(
    server: NextcloudEmulatorServer, http: httpx.AsyncClient
) -> None:
    server.settings.flavour = "ocis"
    reader, share = connector(server, http, "photos")
    await reader.check_folder(share.root())
    # nextcloud, then legacy (401 without a share token as user), then oCIS.
    assert server.stats.responses["propfind 404"] == 2
    page = await reader.list_page(share.root(), None)
    async with reader.open_file(page.files[0]) as chunks:
        assert b"".join([chunk async for chunk in chunks])
    assert server.stats.responses["propfind 404"] == 2
    assert server.stats.responses["propfind 207"] == 2


async def test_a_host_the_address_policy_refuses_is_never_contacted(
    server: NextcloudEmulatorServer, http: httpx.AsyncClient
) -> None:
    reader, share = connector(server, http, "photos", allowed=())
    with pytest.raises(FolderUnavailable, match=r"127\.0\.0\.1 is a loopback address"):
        await reader.check_folder(share.root())
    assert sum(server.stats.requests.values()) == 0


async def test_a_share_named_by_a_host_name_is_read_only_at_addresses_the_policy_allows(
    server: NextcloudEmulatorServer,
) -> None:
    token = server.fixture.share("photos").token
    netloc = f"localhost:{server.port}"
    share = NextcloudShare(f"{netloc}/s/{token}", f"http://{netloc}", token)
    loopback = ["127.0.0.0/8", "::1/128"]

    def reader(http: httpx.AsyncClient, allowed: list[str]) -> NextcloudConnector:
        connector = NextcloudConnector(
            http,
            pacer_for=lambda host: NoPacing(),
            allowed_networks=parse_networks(allowed),
            page_size=1000,
            spool_dir=None,
        )
        return connector.for_link(ImportLink(share))

    # The worker's own client for shares: its resolver lets the allowed addresses through.
    async with guarded_source_client(loopback, setting="NEXTCLOUD_ALLOWED_NETWORKS") as http:
        allowed = reader(http, loopback)
        await allowed.check_folder(share.root())
        assert len((await allowed.list_page(share.root(), None)).files) == 2

    async with guarded_source_client([], setting="NEXTCLOUD_ALLOWED_NETWORKS") as http:
        refused = reader(http, [])
        with pytest.raises(
            FolderUnavailable,
            match=r"refused: localhost resolves to .*, a loopback address; "
            r"NEXTCLOUD_ALLOWED_NETWORKS allows none",
        ):
            await refused.check_folder(share.root())
        # As after a DNS answer that changed since the folder was checked (rebinding): the
        # client's resolver refuses to connect.
        with pytest.raises(TransientSourceError, match="NEXTCLOUD_ALLOWED_NETWORKS allows none"):
            await refused.list_page(share.root(), None)


async def test_checksums_come_from_the_server_when_it_has_them(
    server: NextcloudEmulatorServer, http: httpx.AsyncClient
) -> None:
    reader, share = connector(server, http, "photos")
    files = {file.name: file for file in (await reader.list_page(share.root(), None)).files}
    item = server.fixture.share("photos").find("/with sums.jpg")
    assert item is not None
    assert files["with sums.jpg"].checksums == {
        "md5": server.fixture.md5(item),
        "sha1": server.fixture.checksum(item, "SHA1"),
        "sha256": server.fixture.checksum(item, "SHA256"),
    }
    assert files["without.jpg"].checksums == {}
    assert files["without.jpg"].size == 600
    # Every file carries the server's ETag as its version, checksums or not.
    without = server.fixture.share("photos").find("/without.jpg")
    assert without is not None
    assert files["without.jpg"].version == server.fixture.etag(without)


async def test_a_rate_limit_holds_everyone_reading_that_server_off(
    server: NextcloudEmulatorServer, http: httpx.AsyncClient
) -> None:
    held: list[float] = []

    class RecordingPacer(NoPacing):
        async def hold_off(self, seconds: float) -> None:
            held.append(seconds)

    reader, share = connector(server, http, "photos")
    reader._pacer_for = lambda host: RecordingPacer()
    server.set_faults(FaultRule("too_many_requests", routes=frozenset({"propfind"}), every=1))
    with pytest.raises(TransientSourceError):
        await reader.check_folder(share.root())
    assert held == [1.0]


async def test_a_large_folder_is_listed_in_pages_from_one_answer(
    server: NextcloudEmulatorServer, http: httpx.AsyncClient
) -> None:
    reader, share = connector(server, http, "large", page_size=1000)
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = await reader.list_page(share.root(), token)
        names += [file.name for file in page.files]
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert sorted(names) == [f"IMG_{i:06d}.jpg" for i in range(1, LARGE_FOLDER + 1)]
    assert pages == LARGE_FOLDER // 1000
    # One PROPFIND for the folder (after the one that found the server's shape), however many
    # pages.
    assert server.stats.requests["PROPFIND propfind"] == 2
    assert reader.spools.to_json()["spools"] == 0  # removed once read


def multistatus(entries: int) -> Iterator[bytes]:
    """A Nextcloud answer of `entries` files, in chunks as a server streams it."""
    yield b'<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">'
    for start in range(0, entries, 100):
        yield "".join(
            f"<d:response><d:href>/public.php/dav/files/t/IMG_{i:06d}.jpg</d:href><d:propstat>"
            f"<d:prop><d:getetag>&quot;{i:013x}&quot;</d:getetag><d:resourcetype/>"
            f"<d:getcontentlength>{i}</d:getcontentlength><oc:fileid>{i}</oc:fileid>"
            "<d:getcontenttype>image/jpeg</d:getcontenttype></d:prop>"
            "<d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
            for i in range(start, min(start + 100, entries))
        ).encode()
    yield b"</d:multistatus>"


def test_fifty_thousand_entries_are_parsed_and_spooled_in_bounded_memory(
    tmp_path: Any,
) -> None:
    spools = Spools(str(tmp_path))
    writer = spools.writer("a" * 32)
    reader = MultistatusReader()
    tracemalloc.start()
    try:
        for chunk in multistatus(50_000):
            writer.write(list(reader.feed(chunk)))
        writer.write(list(reader.close()))
        spool = writer.finish()
        first = spool.read(0, 1000)
        last = spool.read(49_000, 1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(spool) == 50_000
    assert (first[0].path, last[-1].path) == (
        "/public.php/dav/files/t/IMG_000000.jpg",
        "/public.php/dav/files/t/IMG_049999.jpg",
    )
    assert last[-1].etag == f"{49_999:013x}" and last[-1].size == 49_999
    # The whole listing as records would take tens of MiB; one page and the line offsets stay
    # within a few.
    assert peak < 8 * 2**20, peak
