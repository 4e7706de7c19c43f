"""The sources this service imports from, as the registry declares them, and the folder a
request for an import or a sync names."""

import dataclasses
from typing import Any

from api.errors import InvalidInput
from api.sources.schemas import Capabilities, DetectedLink, ReadingMode, SourceList, SourceView
from domain.sources.records import RequestedFolder
from domain.sources.registry import Registry, SourceSpec, locator_to_json


def list_sources(sources: Registry) -> SourceList:
    return SourceList(items=[_view(spec) for spec in sources])


def detect(sources: Registry, url: str) -> DetectedLink:
    """The source a link belongs to and the folder it names (InvalidLink: 422, saying why)."""
    spec, locator = sources.detect(url)
    return DetectedLink(
        source=spec.name,
        display_name=spec.display_name,
        folder_id=locator.folder_id,
        accepts_password=spec.accepts_password,
    )


async def accepted_link(
    sources: Registry, url: str, *, source: str | None = None
) -> tuple[SourceSpec, Any]:
    """The source of a link an import or a sync is asked for, and its locator, once the
    source's own checks over the network passed (a share's or a bucket's host resolving to
    addresses the address policy allows). The link decides the source, unless `source` names
    the only one the caller accepts. InvalidLink (422) says what is wrong."""
    if source is None:
        spec, locator = sources.detect(url)
    else:
        spec = sources.get(source)
        locator = spec.parse_link(url)
    await spec.check(locator)
    return spec, locator


def requested_folder(
    spec: SourceSpec, locator: Any, *, url: str, password: str | None, recursive: bool
) -> RequestedFolder:
    """The folder a request for an import or a sync names, as both record it, once the link's
    password suits its source."""
    check_password(spec, password)
    return RequestedFolder(
        source=spec.name,
        source_url=url.strip(),
        folder_id=locator.folder_id,
        locator=locator_to_json(locator),
        link_password=password,
        recursive=recursive,
    )


def check_password(spec: SourceSpec, password: str | None) -> None:
    if password is None:
        return
    if not spec.accepts_password:
        raise InvalidInput(
            f"{spec.display_name} links have no password: leave password out", field="password"
        )
    if not password:
        raise InvalidInput(
            "password is empty: leave it out for a link without a password", field="password"
        )


def _view(spec: SourceSpec) -> SourceView:
    return SourceView(
        name=spec.name,
        display_name=spec.display_name,
        link_examples=list(spec.link_examples),
        accepts_password=spec.accepts_password,
        modes=[
            ReadingMode(
                name=mode.name,
                description=mode.description,
                capabilities=Capabilities(
                    **{
                        **dataclasses.asdict(mode.capabilities),
                        "checksums": list(mode.capabilities.checksums),
                    }
                ),
            )
            for mode in spec.modes
        ],
    )
