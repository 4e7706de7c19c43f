"""Response shapes of the source routes."""

import msgspec


class Capabilities(msgspec.Struct):
    sizes_known: bool
    checksums: list[str]
    paged_listing: bool
    needs_credentials: bool
    # Files are found unchanged by the source's own version of them (an ETag), with their size.
    versions_known: bool


class ReadingMode(msgspec.Struct):
    name: str
    description: str
    capabilities: Capabilities


class SourceView(msgspec.Struct):
    name: str
    display_name: str
    link_examples: list[str]
    accepts_password: bool
    # The ways the worker can read this source; its settings choose one.
    modes: list[ReadingMode]


class SourceList(msgspec.Struct):
    items: list[SourceView]


class DetectedLink(msgspec.Struct):
    source: str
    display_name: str
    folder_id: str
    accepts_password: bool
