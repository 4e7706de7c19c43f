"""What text the API takes in, declared once and used by the request schemas and parameters,
so that a value PostgreSQL cannot store (a NUL byte) or no source would give (an id of
thousands of characters) is refused as request validation (422), before any handler runs."""

from typing import Annotated

import msgspec
from litestar.params import PathParameter, QueryParameter

# PostgreSQL text cannot hold U+0000; every other character is the source's business.
NO_NUL = r"^[^\u0000]*$"

# A pasted folder link: real ones are well under 500 characters.
MAX_LINK_LENGTH = 2048
MAX_PASSWORD_LENGTH = 1024
# Filters and cursors of the lists: a MIME type, a name fragment, an opaque cursor.
MAX_FILTER_LENGTH = 255
MAX_CURSOR_LENGTH = 512

Link = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_LINK_LENGTH,
        pattern=NO_NUL,
        description="The folder's shared link, as copied from the source.",
    ),
]
# Where an import reports its end (a webhook): http or https, checked by the address policy.
NotifyUrl = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_LINK_LENGTH,
        pattern=NO_NUL,
        description="An http(s) URL the worker POSTs a signed event to when the import ends "
        "(Standard Webhooks). Its host must resolve to public addresses only, unless "
        "WEBHOOK_ALLOWED_NETWORKS names them.",
    ),
]
Password = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_PASSWORD_LENGTH,
        pattern=NO_NUL,
        description="The link's password, when its owner set one.",
    ),
]

Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=MAX_CURSOR_LENGTH,
        pattern=NO_NUL,
        description="`next_cursor` of the previous page, passed back unchanged.",
    ),
]
# How many rows a page of a list holds at the most.
PageLimit = Annotated[int, QueryParameter(ge=1, le=500)]
# A Procrastinate job's id: a PostgreSQL bigint (a larger number is no job's, and must not
# reach the database).
JobId = Annotated[int, PathParameter(ge=1, le=2**63 - 1)]
