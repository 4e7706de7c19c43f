"""What the API's answers mean to the web service: a body read into its schema, a refusal (4xx)
read into `ApiError` from the API's one error body, and anything else (unreachable, 5xx, a
body that does not read) as `ApiUnavailable`. The pages catch these two, never httpx's or
msgspec's errors; `api_client.py` makes the calls and names these as part of its interface.
"""

from typing import TypeVar

import httpx
import msgspec

from web.schemas import ConflictingResource, ErrorBody

T = TypeVar("T")


class ApiUnavailable(Exception):
    """The API could not be reached or did not answer sensibly (a 5xx, a body we cannot read)."""


class ApiError(Exception):
    """The API refused the request with a 4xx and its `{"error": ..., "detail": ...}` body:
    `field` is the request field at fault, `conflict` the resource in the way, when the API
    names them."""

    def __init__(
        self,
        status_code: int,
        error: str,
        detail: str,
        *,
        field: str | None = None,
        conflict: ConflictingResource | None = None,
    ) -> None:
        super().__init__(f"{status_code} {error}: {detail}")
        self.status_code = status_code
        self.error = error
        self.detail = detail
        self.field = field
        self.conflict = conflict

    def conflicting(self, kind: str) -> str | None:
        """The id of the `kind` (`sync`, `import`) that stands in the way, if one does."""
        if self.conflict is None or self.conflict.type != kind:
            return None
        return self.conflict.id


def decode_answer(response: httpx.Response, shape: type[T]) -> T:
    """The answer's JSON body as `shape`; a body that is not one is the API failing."""
    try:
        return msgspec.json.decode(response.content, type=shape)
    except msgspec.DecodeError as exc:
        raise ApiUnavailable(f"{response.request.url.path}: unreadable answer: {exc}") from exc


def refusal(response: httpx.Response) -> ApiError:
    """A 4xx answer as the ApiError its error body names (a body that is none keeps its text)."""
    try:
        body = msgspec.json.decode(response.content, type=ErrorBody)
    except msgspec.DecodeError:
        return ApiError(response.status_code, "http_error", response.text[:200])
    return ApiError(
        response.status_code,
        body.error,
        body.detail,
        field=body.field,
        conflict=body.conflict,
    )
