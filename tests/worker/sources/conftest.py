"""One harness per connector, over its emulator, so the conformance suite runs the same cases
against every way a source is read. A harness knows only what differs between them: how to
build the connector, how a folder is named, which emulator routes a listing or a download goes
through, and what the source can express (paging, slashes in names, native documents)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import pytest

from domain.address_policy import parse_networks
from domain.sources.dropbox import DropboxFolder
from domain.sources.nextcloud import NextcloudShare
from domain.sources.public_s3 import PublicS3Folder, parse_link
from emulators.dropbox import DropboxEmulatorServer, DropboxFixture
from emulators.dropbox import FaultRule as DropboxFault
from emulators.google_drive import DriveFixture, EmulatorServer
from emulators.google_drive import FaultRule as DriveFault
from emulators.nextcloud import FaultRule as NextcloudFault
from emulators.nextcloud import NextcloudEmulatorServer, NextcloudFixture
from emulators.public_s3 import FaultRule as S3Fault
from emulators.public_s3 import S3FaultProxy, seed_public_bucket
from tests.conftest import S3Server
from tests.worker.conftest import guarded_source_client
from worker.pacing import NoPacing
from worker.sources.base import FolderRef, ImportLink, SourceConnector
from worker.sources.dropbox import DropboxConnector
from worker.sources.dropbox_zip import DropboxZipConnector
from worker.sources.google_drive import GoogleDriveConnector
from worker.sources.google_drive_web import GoogleDriveWebConnector
from worker.sources.nextcloud import NextcloudConnector
from worker.sources.public_s3 import PublicS3Connector

PAGED_FILES = 23
PAGED_NAMES = [f"p_{i:02d}.jpg" for i in range(1, PAGED_FILES + 1)]
NAMES = [
    "Fête à Noël 🎄.jpg",
    "\"quotes\" & 'apostrophes'.jpg",
    " leading space.jpg",
    "trailing space.jpg ",
    "<img src=x onerror=alert(1)> &amp;.png",
    "many   inner   spaces.gif",
]
SLASHED = "2024/summer.jpg"  # Drive allows a slash in a name; Dropbox does not
BIG_SIZE = 24 * 1024 * 1024
DRIVE_DOC = "application/vnd.google-apps.document"


def spec(*, drive: bool) -> dict[str, Any]:
    """The same folders for both emulators, in what each source can express."""
    native = (
        {"name": "Plan", "mime_type": DRIVE_DOC}
        if drive
        else {"name": "Plan.paper", "is_downloadable": False, "size": 0}
    )
    return {
        "seed": 77,
        "folders": [
            {
                "name": "paged",
                "short_pages": [1, 0, 0.5],
                "files": [
                    {"name_pattern": "p_{i:02d}.jpg", "count": PAGED_FILES, "size": [400, 900]}
                ],
            },
            {
                "name": "names",
                "files": [
                    {"name": name, "size": 500} for name in [*NAMES, *([SLASHED] if drive else [])]
                ],
            },
            {
                "name": "mixed",
                "files": [
                    {"name": "photo.jpg", "size": 800},
                    {"name": "notes.txt", "size": 300},
                    {"name": "clip.mp4", "size": 700},
                    # Named and typed as an image, but its bytes are a PDF.
                    {"name": "fake.jpg", "size": 900, "content_magic": "application/pdf"},
                    native,
                ],
            },
            {"name": "big", "files": [{"name": "big.png", "size": BIG_SIZE}]},
            {
                "name": "private",
                **({"resource_key": True} if drive else {"password": "pw"}),
                "files": [{"name": "secret.jpg", "size": 500}],
            },
        ],
    }


class Harness(Protocol):
    name: str
    # Lists a folder in pages of `page_size` that a token resumes (else: all at once).
    paged: bool
    # The source itself pages, and may answer short and empty pages (the emulator's
    # `short_pages`); a connector paging a copy of its own (the zip) never sees one.
    source_pages: bool
    names: list[str]
    # The native document's reason to be skipped; None when the source leaves it out.
    native: tuple[str, str] | None

    def connector(self, page_size: int = 10) -> SourceConnector: ...

    def folder(self, name: str) -> FolderRef: ...

    def missing_folder(self) -> FolderRef: ...

    def private_folder(self) -> FolderRef:
        """The private folder, without the key or password it needs."""

    def expected_md5(self, folder: str, name: str) -> str: ...

    def fail(self, fault: str, *, on: str, retry_after: int = 1) -> None:
        """Every request of kind `on` ("listing" or "download") answers with `fault`, one of
        "rate_limited", "server_error", "cut_body"."""

    def heal(self) -> None: ...


@dataclass
class DriveHarness:
    name: str
    server: EmulatorServer
    http: httpx.AsyncClient
    with_key: bool
    names: list[str]
    native: tuple[str, str] | None = ("Plan", "Google-native file")

    @property
    def paged(self) -> bool:
        return self.with_key

    @property
    def source_pages(self) -> bool:
        return self.with_key

    def connector(self, page_size: int = 10) -> SourceConnector:
        if self.with_key:
            return GoogleDriveConnector(
                self.http,
                api_url=self.server.base_url,
                api_key="conformance-key",
                page_size=page_size,
                pacer=NoPacing(),
            )
        return GoogleDriveWebConnector(
            self.http,
            web_url=self.server.base_url,
            download_url=self.server.base_url,
            pacer=NoPacing(),
        )

    def folder(self, name: str) -> FolderRef:
        item = self.server.fixture.find(name)
        return FolderRef(item.id, item.resource_key)

    def missing_folder(self) -> FolderRef:
        return FolderRef("1MissingMissingMissingMissingMiss")

    def private_folder(self) -> FolderRef:
        return FolderRef(self.server.fixture.find("private").id)

    def expected_md5(self, folder: str, name: str) -> str:
        fixture = self.server.fixture
        return str(fixture.checksums(fixture.find([folder, name]).id).md5)

    def fail(self, fault: str, *, on: str, retry_after: int = 1) -> None:
        name = {
            "rate_limited": "too_many_requests",
            "server_error": "backend_error",
            "cut_body": "cut_body",
        }[fault]
        if on == "listing":
            routes = {"list", "get"} if self.with_key else {"web_list"}
        else:
            routes = {"media"} if self.with_key else {"web_media"}
        self.server.set_faults(
            DriveFault(name, routes=frozenset(routes), every=1, retry_after=retry_after)
        )

    def heal(self) -> None:
        self.server.set_faults()


@dataclass
class DropboxHarness:
    name: str
    server: DropboxEmulatorServer
    http: httpx.AsyncClient
    with_credentials: bool
    names: list[str]
    # The link of the folder the test asked for last: the import's, which the connector reads.
    link: str | None = None

    @property
    def paged(self) -> bool:
        return True

    @property
    def source_pages(self) -> bool:
        return self.with_credentials

    @property
    def native(self) -> tuple[str, str] | None:
        # The zip leaves cloud documents out: there is nothing to skip.
        return ("Plan.paper", "cloud document") if self.with_credentials else None

    def connector(self, page_size: int = 10) -> SourceConnector:
        """A connector bound, as the pipeline binds it, to the link of the folder the test
        last asked for (`folder`)."""
        connector: DropboxConnector | DropboxZipConnector
        if self.with_credentials:
            connector = DropboxConnector(
                self.http,
                api_url=self.server.base_url,
                content_url=self.server.base_url,
                authorization="Bearer conformance-token",
                page_size=page_size,
                pacer=NoPacing(),
            )
        else:
            connector = DropboxZipConnector(
                self.http,
                web_url=self.server.base_url,
                zip_dir=None,
                page_size=page_size,
                pacer=NoPacing(),
            )
        if self.link is None:
            return connector
        return connector.for_link(ImportLink(DropboxFolder(DROPBOX_ROOT.folder_id, self.link)))

    def folder(self, name: str) -> FolderRef:
        self.link = self.server.fixture.link(name)
        return DROPBOX_ROOT

    def missing_folder(self) -> FolderRef:
        self.link = "https://www.dropbox.com/scl/fo/nothing0here/gone?rlkey=none&dl=0"
        return DROPBOX_ROOT

    def private_folder(self) -> FolderRef:
        return self.folder("private")

    def expected_md5(self, folder: str, name: str) -> str:
        fixture = self.server.fixture
        return str(fixture.md5(fixture.find(folder, f"/{name}").id))

    def fail(self, fault: str, *, on: str, retry_after: int = 1) -> None:
        name = {
            "rate_limited": "too_many_requests",
            "server_error": "internal_error",
            "cut_body": "cut_body",
        }[fault]
        if not self.with_credentials:
            # Listing and downloads both read the folder's zip.
            routes = {"zip"}
        elif on == "listing":
            routes = {"list", "list_continue", "metadata"}
        else:
            routes = {"file"}
        self.server.set_faults(
            DropboxFault(name, routes=frozenset(routes), every=1, retry_after=retry_after)
        )

    def heal(self) -> None:
        self.server.set_faults()


# A Dropbox import's root folder as the pipeline hands it over: the folder id the API parsed
# from the link (the link itself is the import's, bound to the connector).
DROPBOX_ROOT = FolderRef("scl/fo/x/y")


@dataclass
class NextcloudHarness:
    """A share on a server of one flavour (Nextcloud 29+, older Nextcloud and ownCloud, oCIS):
    the connector finds the server's WebDAV shape by itself."""

    name: str
    server: NextcloudEmulatorServer
    http: httpx.AsyncClient
    names: list[str]
    native: tuple[str, str] | None = None
    paged: bool = True
    # WebDAV sends a folder whole: the connector pages its own copy, as the zip connector does.
    source_pages: bool = False
    share: NextcloudShare | None = None
    password: str | None = None

    def connector(self, page_size: int = 10) -> SourceConnector:
        connector = NextcloudConnector(
            self.http,
            pacer_for=lambda host: NoPacing(),
            allowed_networks=parse_networks(["127.0.0.0/8"]),
            page_size=page_size,
            spool_dir=None,
        )
        if self.share is None:
            return connector
        return connector.for_link(ImportLink(self.share, self.password))

    def folder(self, name: str, *, token: str | None = None) -> FolderRef:
        base_url = self.server.base_url
        token = token or self.server.fixture.share(name).token
        self.share = NextcloudShare(f"{base_url.split('//')[1]}/s/{token}", base_url, token)
        return self.share.root()

    def missing_folder(self) -> FolderRef:
        return self.folder("", token="NoShareHere0000")

    def private_folder(self) -> FolderRef:
        return self.folder("private")

    def expected_md5(self, folder: str, name: str) -> str:
        fixture = self.server.fixture
        item = fixture.share(folder).find(f"/{name}")
        assert item is not None
        return fixture.md5(item)

    def fail(self, fault: str, *, on: str, retry_after: int = 1) -> None:
        name = {
            "rate_limited": "too_many_requests",
            "server_error": "internal_error",
            "cut_body": "cut_body",
        }[fault]
        routes = {"propfind"} if on == "listing" else {"get"}
        self.server.set_faults(
            NextcloudFault(name, routes=frozenset(routes), every=1, retry_after=retry_after)
        )

    def heal(self) -> None:
        self.server.set_faults()
        self.server.stats.reset()  # forgets the failed passwords too


def nextcloud_spec() -> dict[str, Any]:
    """The conformance folders as shares (a share has no native documents; its server keeps
    checksums of some files)."""
    folders = spec(drive=False)["folders"]
    shares = []
    for folder in folders:
        share = {key: value for key, value in folder.items() if key != "short_pages"}
        share["files"] = [
            {key: value for key, value in file.items() if key not in ("is_downloadable",)}
            for file in folder["files"]
            if file.get("is_downloadable", True)
        ]
        shares.append(share)
    for share in shares:
        if share["name"] == "names":
            for file in share["files"][::2]:
                file["checksums"] = ["SHA1", "MD5"]
    return {"seed": 77, "shares": shares}


@pytest.fixture(scope="session")
def nextcloud_server() -> Iterator[NextcloudEmulatorServer]:
    with NextcloudEmulatorServer(NextcloudFixture(nextcloud_spec())) as server:
        yield server


def s3_spec() -> dict[str, Any]:
    """The same folders in what a bucket can express: no slash in a name (it is a folder), no
    native documents, and the private folder in a bucket of its own (`private_s3_spec`)."""
    document = spec(drive=True)
    folders = []
    for folder in document["folders"]:
        if folder["name"] == "private":
            continue
        files = [entry for entry in folder["files"] if entry.get("name") not in {SLASHED, "Plan"}]
        folders.append({**folder, "files": files})
    return {**document, "folders": folders}


def private_s3_spec() -> dict[str, Any]:
    return {
        "seed": 77,
        "folders": [{"name": "private", "files": [{"name": "secret.jpg", "size": 500}]}],
    }


# The networks the conformance suite's S3 connector may reach: the local SeaweedFS's.
S3_TEST_NETWORKS = ["127.0.0.0/8"]


@dataclass
class PublicBucket:
    """A public bucket and a private one on the test S3 server, behind the fault proxy."""

    proxy: S3FaultProxy
    fixture: DriveFixture
    public: str
    private: str


@dataclass
class PublicS3Harness:
    name: str
    bucket: PublicBucket
    http: httpx.AsyncClient
    names: list[str]
    # Pages are S3's own (continuation tokens), but SeaweedFS answers no short or empty ones.
    paged: bool = True
    source_pages: bool = False
    native: tuple[str, str] | None = None
    locator: PublicS3Folder | None = None

    def connector(self, page_size: int = 10) -> SourceConnector:
        connector = PublicS3Connector(
            self.http,
            pacer_for=lambda host: NoPacing(),
            page_size=page_size,
            allowed_networks=parse_networks(S3_TEST_NETWORKS),
        )
        return connector if self.locator is None else connector.for_link(ImportLink(self.locator))

    def _at(self, bucket: str, prefix: str) -> FolderRef:
        self.locator = parse_link(f"s3+{self.bucket.proxy.base_url}/{bucket}/{prefix}")
        return self.locator.root()

    def folder(self, name: str) -> FolderRef:
        return self._at(self.bucket.public, f"{name}/")

    def missing_folder(self) -> FolderRef:
        return self._at(f"missing-{uuid.uuid4().hex[:8]}", "")

    def private_folder(self) -> FolderRef:
        return self._at(self.bucket.private, "private/")

    def expected_md5(self, folder: str, name: str) -> str:
        fixture = self.bucket.fixture
        return str(fixture.checksums(fixture.find([folder, name]).id).md5)

    def fail(self, fault: str, *, on: str, retry_after: int = 1) -> None:
        name = {
            # MinIO's SlowDown, which says when to retry (Amazon's does not).
            "rate_limited": "slow_down_retry_after",
            "server_error": "internal_error",
            "cut_body": "cut_body",
        }[fault]
        routes = {"list"} if on == "listing" else {"get"}
        self.bucket.proxy.set_faults(
            S3Fault(name, routes=frozenset(routes), every=1, retry_after=retry_after)
        )

    def heal(self) -> None:
        self.bucket.proxy.set_faults()


@pytest.fixture(scope="session")
def public_bucket(s3_server: S3Server) -> Iterator[PublicBucket]:
    client = s3_server.client()
    suffix = uuid.uuid4().hex[:8]
    fixture = DriveFixture(s3_spec())
    public, private = f"conformance-{suffix}", f"conformance-private-{suffix}"
    seed_public_bucket(client, public, fixture)
    seed_public_bucket(client, private, DriveFixture(private_s3_spec()), public=False)
    with S3FaultProxy(s3_server.endpoint_url) as proxy:
        yield PublicBucket(proxy, fixture, public, private)


@pytest.fixture
async def guarded_http() -> AsyncIterator[httpx.AsyncClient]:
    """The public-bucket connector's own client (see worker.sources.addresses)."""
    async with guarded_source_client(
        list(S3_TEST_NETWORKS), setting="PUBLIC_S3_ALLOWED_NETWORKS"
    ) as client:
        yield client


@pytest.fixture(scope="session")
def drive_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(DriveFixture(spec(drive=True))) as server:
        yield server


@pytest.fixture(scope="session")
def dropbox_server() -> Iterator[DropboxEmulatorServer]:
    with DropboxEmulatorServer(DropboxFixture(spec(drive=False))) as server:
        yield server


@pytest.fixture(
    params=[
        "drive_api",
        "drive_web",
        "dropbox_api",
        "dropbox_zip",
        "nextcloud",
        "nextcloud_legacy",
        "nextcloud_ocis",
        # On the test S3 server (SeaweedFS): a test with it needs the stack.
        pytest.param("public_s3", marks=pytest.mark.stack),
    ]
)
def source(
    request: pytest.FixtureRequest,
    http: httpx.AsyncClient,
) -> Iterator[Harness]:
    harness: Harness
    match request.param:
        case "nextcloud" | "nextcloud_legacy" | "nextcloud_ocis":
            server = request.getfixturevalue("nextcloud_server")
            # The server's flavour decides which WebDAV shape it serves.
            server.settings.flavour = {
                "nextcloud": "nextcloud",
                "nextcloud_legacy": "legacy",
                "nextcloud_ocis": "ocis",
            }[request.param]
            harness = NextcloudHarness(request.param, server, http, names=list(NAMES))
        case "drive_api" | "drive_web":
            harness = DriveHarness(
                request.param,
                request.getfixturevalue("drive_server"),
                http,
                with_key=request.param == "drive_api",
                names=[*NAMES, SLASHED],
            )
        case "public_s3":
            harness = PublicS3Harness(
                request.param,
                request.getfixturevalue("public_bucket"),
                request.getfixturevalue("guarded_http"),
                names=list(NAMES),
            )
        case _:
            harness = DropboxHarness(
                request.param,
                request.getfixturevalue("dropbox_server"),
                http,
                with_credentials=request.param == "dropbox_api",
                names=list(NAMES),
            )
    yield harness
    harness.heal()
