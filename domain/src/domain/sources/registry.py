"""The one place that knows which sources exist.

Each source declares itself once, as a `SourceSpec`: how its links are recognised and parsed
into a typed locator, its display name, its capabilities as data, its typed settings (with an
env prefix of their own) and where the worker finds its connector's factory. The API parses
links and lists sources through this registry, the database's list of sources is written from
it, and the worker builds its connectors from it: adding a source touches no handler, page or
pipeline.

The connector is named, not imported: the API reads the registry without the worker's code.
"""

import dataclasses
import importlib
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import SplitResult, urlsplit

from pydantic_settings import BaseSettings

from domain.sources.records import FolderRef


class InvalidLink(ValueError):
    """A link that no source, or not the expected one, can import: the message says why."""


class Locator(Protocol):
    """Where an import's folder is, as its source's link gave it: a typed record (stored on the
    import as JSON), not a string each part of the system decodes on its own."""

    @property
    def folder_id(self) -> str:
        """The folder's stable id: one import of it runs at a time."""

    def root(self) -> FolderRef:
        """The folder as its connector reaches it."""


@dataclass(frozen=True)
class Capabilities:
    """What a way of reading a source can do, as data (shown by `GET /sources`)."""

    # Sizes are listed before any byte moves (import caps and progress can use them).
    sizes_known: bool
    # Checksums the listing gives, by algorithm; a transfer is checked against each of them.
    checksums: tuple[str, ...]
    # A folder is listed page by page, resumable from a page token.
    paged_listing: bool
    # Works only with credentials set in the worker's environment.
    needs_credentials: bool
    # The listing gives each file an opaque version (an ETag, a Dropbox rev), which with the
    # size finds a file unchanged on a re-import or sync when no listed checksum can: stored as
    # declared, never checked against the bytes (`SourceFile.version`).
    versions_known: bool = False


@dataclass(frozen=True)
class ReadingMode:
    """One way the worker can read a source (its documented API, or key-less web pages); the
    worker's settings decide which one it uses."""

    name: str
    description: str
    capabilities: Capabilities


@dataclass(frozen=True)
class SourceSpec:
    """A source, declared once."""

    # Stored in `imports.source` and `images.source`, used in `?source=` filters.
    name: str
    display_name: str
    # Links of this source as people paste them, for help texts.
    link_examples: tuple[str, ...]
    # Whether a link (the pasted text, its lower-cased host) looks like this source's at all;
    # the first source that claims a link parses it, and its parser says what is wrong.
    claims_link: Callable[[str, str], bool]
    # The link as a locator of `locator_type`; raises InvalidLink.
    parse_link: Callable[[str], Any]
    locator_type: type[Any]
    # A link protected by a password (sent beside the link, stored once on the import).
    accepts_password: bool
    modes: tuple[ReadingMode, ...]
    # The source's settings, read from the environment under its own prefix.
    settings_type: type[BaseSettings]
    # The worker's factory of this source's connector, `module:function`, called with the
    # settings and the worker's shared clients; imported by the worker only.
    connector: str
    # What can be judged of a parsed link only over the network (where its host resolves to,
    # for a source whose links name any host), awaited by the API before it accepts an import
    # or a sync of it; raises InvalidLink saying why. `parse_link` stays synchronous and
    # offline: it also answers each keystroke of the web form's hint (GET /sources/detect).
    check_locator: Callable[[Any], Awaitable[None]] | None = None

    def locator_from_json(self, data: Mapping[str, Any]) -> Any:
        return self.locator_type(**data)

    async def check(self, locator: Any) -> None:
        """The source's own check of a parsed link over the network, if it has one."""
        if self.check_locator is not None:
            await self.check_locator(locator)


def locator_to_json(locator: Any) -> dict[str, Any]:
    return dataclasses.asdict(locator)


@dataclass
class Registry:
    sources: dict[str, SourceSpec] = field(default_factory=dict)

    def register(self, spec: SourceSpec) -> None:
        if spec.name in self.sources:
            raise ValueError(f"source {spec.name!r} is registered twice")
        self.sources[spec.name] = spec

    def __iter__(self) -> Iterator[SourceSpec]:
        return iter(self.sources.values())

    def names(self) -> list[str]:
        return list(self.sources)

    def get(self, name: str) -> SourceSpec:
        try:
            return self.sources[name]
        except KeyError:
            raise InvalidLink(
                f"unknown source {name!r}: this service imports from {self.describe()}"
            ) from None

    def describe(self) -> str:
        return " or ".join(spec.display_name for spec in self)

    def detect(self, url: str) -> tuple[SourceSpec, Any]:
        """The source a pasted link belongs to, and the link parsed by it."""
        text = url.strip()
        if not text:
            raise InvalidLink(f"url is empty: paste the link of a {self.describe()} folder")
        _, host = split_link(text)
        for spec in self:
            if spec.claims_link(text, host):
                return spec, spec.parse_link(text)
        examples = "; ".join(example for spec in self for example in spec.link_examples[:1])
        raise InvalidLink(
            f"not a folder link of a source this service imports from ({self.describe()}): "
            f"expected a link such as {examples}; got host {host or '(none)'!r}"
        )


def split_link(text: str) -> tuple[SplitResult, str]:
    """The link's parts and lower-cased host; a link urllib cannot split (an unclosed `[` of an
    IPv6 host) is an invalid link, like any other link we cannot read."""
    try:
        parts = urlsplit(text if "://" in text else f"https://{text}")
        return parts, (parts.hostname or "").lower()
    except ValueError as exc:
        raise InvalidLink(f"the link cannot be read: {exc}") from None


def load_registry(plugins: Iterable[str] = ()) -> Registry:
    """The built-in sources, then each plugin named `module:attribute` (a `SourceSpec`), in
    that order: a deployment adds a source by naming its module in SOURCE_PLUGINS."""
    from domain.sources import dropbox, google_drive, nextcloud, public_s3

    registry = Registry()
    # Public S3 claims known hosts, listed endpoints and s3:// links; Nextcloud claims
    # `/s/<token>` on any host: after the sources that own their hosts.
    for spec in (google_drive.SPEC, dropbox.SPEC, public_s3.SPEC, nextcloud.SPEC):
        registry.register(spec)
    for plugin in plugins:
        module_name, _, attribute = plugin.strip().partition(":")
        if not module_name or not attribute:
            raise ValueError(f"SOURCE_PLUGINS entry {plugin!r} is not `module:attribute`")
        spec = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(spec, SourceSpec):
            raise ValueError(f"SOURCE_PLUGINS entry {plugin!r} is not a SourceSpec")
        registry.register(spec)
    return registry
