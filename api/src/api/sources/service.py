"""The sources this service imports from, as the registry declares them."""

import dataclasses

from api.sources.schemas import Capabilities, DetectedLink, ReadingMode, SourceList, SourceView
from domain.sources.registry import Registry, SourceSpec


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
