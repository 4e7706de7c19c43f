"""Request and response shapes of the archive routes."""

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

from api.constraints import MAX_FILTER_LENGTH, NO_NUL

FilterText = Annotated[str, msgspec.Meta(max_length=MAX_FILTER_LENGTH, pattern=NO_NUL)]


class ImageSelection(msgspec.Struct, forbid_unknown_fields=True):
    """The filters of `GET /images`, by the same names: the images that list would show."""

    import_id: uuid.UUID | None = None
    source: FilterText | None = None
    mime_type: FilterText | None = None
    q: FilterText | None = None
    min_size: Annotated[int, msgspec.Meta(ge=0)] | None = None
    max_size: Annotated[int, msgspec.Meta(ge=0)] | None = None
    min_width: Annotated[int, msgspec.Meta(ge=0)] | None = None
    min_height: Annotated[int, msgspec.Meta(ge=0)] | None = None
    taken_after: datetime | None = None
    taken_before: datetime | None = None
    removed: bool | None = None
    album_id: uuid.UUID | None = None
    include_subalbums: bool = False
    duplicates: Literal["only", "hide"] | None = None


class ArchiveRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Images named by id (in that order), or the images a filter selects (newest first), or
    both (the named ones first, each image once)."""

    image_ids: list[uuid.UUID] | None = None
    filter: ImageSelection | None = None
    # The archive's file name, without ".zip"; made safe for every system.
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)] | None = None


class ArchiveLink(msgspec.Struct):
    """A selection kept for download: GET `url` streams it as a ZIP (Range resumes it)."""

    id: str
    url: str
    name: str
    images: int
    size: int
    expires_at: datetime
