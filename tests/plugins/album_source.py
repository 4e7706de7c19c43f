""" "Albums": a tiny photo service whose folder links look like `http://<host>/albums/<id>`.

Its API lists an album as JSON pages (`GET /albums/<id>?page_token=...` answers
`{"files": [{"id", "name", "type", "size", "checksums"}], "next_page_token"}`) and serves a file's
bytes at `GET /files/<id>`.
"""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.sources.registry import (
    Capabilities,
    InvalidLink,
    ReadingMode,
    SourceSpec,
    split_link,
)
from worker.sources.base import (
    BoundToLink,
    ConnectorDeps,
    FolderPage,
    FolderRef,
    FolderUnavailable,
    Pacer,
    PermanentSourceError,
    SourceConnector,
    SourceFile,
    TransientSourceError,
)
from worker.sources.http import json_body, open_download, send_paced

_ALBUM_PATH = re.compile(r"^/albums/([A-Za-z0-9_-]{1,64})/?$")


class AlbumSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALBUMS_", extra="ignore")

    page_size: int = 3


@dataclass(frozen=True)
class Album:
    folder_id: str
    base_url: str

    def root(self) -> FolderRef:
        return FolderRef(self.folder_id)

    @property
    def album_id(self) -> str:
        return self.folder_id.rsplit("/", 1)[-1]


def claims_link(text: str, host: str) -> bool:
    return "/albums/" in text


def parse_link(url: str) -> Album:
    parts, host = split_link(url.strip())
    match = _ALBUM_PATH.match(parts.path)
    if parts.scheme not in {"http", "https"} or not host or match is None:
        raise InvalidLink("not an album link: expected http://<host>/albums/<id>")
    return Album(
        folder_id=f"{parts.netloc}/albums/{match.group(1)}",
        base_url=f"{parts.scheme}://{parts.netloc}",
    )


class AlbumConnector(BoundToLink):
    notes: str | None = None

    def __init__(self, http: httpx.AsyncClient, pacer: Pacer, page_size: int) -> None:
        self._http = http
        self._pacer = pacer
        self._page_size = page_size

    async def check_folder(self, folder: FolderRef) -> None:
        try:
            await self.list_page(folder, None)
        except PermanentSourceError as exc:
            raise FolderUnavailable(f"the album cannot be read: {exc}") from exc

    async def list_page(self, folder: FolderRef, page_token: str | None) -> FolderPage:
        album = self._bound()
        params = {
            "page_size": str(self._page_size),
            **({"page_token": page_token} if page_token else {}),
        }
        request = self._http.build_request(
            "GET", f"{album.base_url}/albums/{album.album_id}", params=params
        )
        response = await send_paced(self._http, request, self._pacer, no_answer="albums")
        if response.status_code != 200:
            raise _failure(response)
        body = json_body(response, "albums")
        files = [
            SourceFile(
                file_id=item["id"],
                name=item["name"],
                mime_type=item["type"],
                size=item["size"],
                checksums=item["checksums"],
            )
            for item in body["files"]
        ]
        return FolderPage(files=files, next_page_token=body.get("next_page_token"))

    @asynccontextmanager
    async def open_file(self, file: SourceFile) -> AsyncIterator[AsyncIterator[bytes]]:
        request = self._http.build_request("GET", f"{self._bound().base_url}/files/{file.file_id}")

        async def failure(response: httpx.Response) -> PermanentSourceError | TransientSourceError:
            return _failure(response)

        async with open_download(
            self._http, request, self._pacer, no_answer="albums", failure=failure
        ) as chunks:
            yield chunks

    def _bound(self) -> Album:
        if self._link is None:
            raise PermanentSourceError("the connector is not bound to an import's album")
        album: Album = self._link.locator
        return album


def _failure(response: httpx.Response) -> PermanentSourceError | TransientSourceError:
    if response.status_code == 429 or response.status_code >= 500:
        return TransientSourceError(f"albums answered HTTP {response.status_code}")
    return PermanentSourceError(f"albums answered HTTP {response.status_code}")


def build_connector(settings: AlbumSettings, deps: ConnectorDeps) -> SourceConnector:
    return AlbumConnector(deps.http, deps.pacer("albums", None), settings.page_size)


SPEC = SourceSpec(
    name="albums",
    display_name="Albums",
    link_examples=("http://<host>/albums/<id>",),
    claims_link=claims_link,
    parse_link=parse_link,
    locator_type=Album,
    accepts_password=False,
    modes=(
        ReadingMode(
            name="api",
            description="the albums JSON API",
            capabilities=Capabilities(
                sizes_known=True, checksums=("md5",), paged_listing=True, needs_credentials=False
            ),
        ),
    ),
    settings_type=AlbumSettings,
    connector="tests.plugins.album_source:build_connector",
)
