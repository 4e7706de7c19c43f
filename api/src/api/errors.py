"""The one error model of the API: every failure becomes `{"error": ..., "detail": ...}`, with
`field` (the request field at fault) and `conflict` (the resource in the way) when known."""

import logging
import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec
import psycopg
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.status_codes import (
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
)
from procrastinate.exceptions import ConnectorException

from domain.sources.registry import InvalidLink

log = logging.getLogger("api.errors")


class ConflictingResource(msgspec.Struct, frozen=True):
    """The resource in the way of a request, for a client to link to or act on: the sync a
    folder already has, the live import a run waits for, the import a reused key created."""

    type: Literal["sync", "import"]
    id: str


class ApiError(Exception):
    """An expected failure with its HTTP status; raise it from anywhere below a handler.
    `field` names the one request field at fault (a body field, query parameter or header,
    as the client spelled it); `conflict`, the other resource that stands in the way. A
    subclass names its status and its `error` code where it is declared:
    `class NotFound(ApiError, status_code=404, error="not_found")`."""

    status_code = 400
    error = "bad_request"

    def __init_subclass__(cls, *, status_code: int, error: str) -> None:
        super().__init_subclass__()
        cls.status_code = status_code
        cls.error = error

    def __init__(
        self,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        field: str | None = None,
        conflict: ConflictingResource | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.field = field
        self.conflict = conflict


class InvalidInput(ApiError, status_code=422, error="invalid_input"):
    """A parameter, the body or a link is wrong."""


class IdempotencyKeyReused(ApiError, status_code=422, error="idempotency_key_reused"):
    """The Idempotency-Key was used before, for a different body."""


class NotFound(ApiError, status_code=404, error="not_found"):
    """No such resource."""


class Unauthorized(ApiError, status_code=401, error="unauthorized"):
    """No bearer token, or not one this route accepts."""


class UnsupportedMediaType(ApiError, status_code=415, error="unsupported_media_type"):
    """A body sent as anything but `application/json`."""


class Conflict(ApiError, status_code=409, error="conflict"):
    """The request is valid but the resource is in a state that does not allow it."""


class Unavailable(ApiError, status_code=503, error="unavailable"):
    """A dependency (the database) cannot be reached; the same request may work shortly."""


class Overloaded(ApiError, status_code=503, error="overloaded"):
    """A query ran past the statement timeout, or its kind holds its share of the pool."""

    def __init__(self, why: str) -> None:
        super().__init__(why, headers={"Retry-After": str(OVERLOADED_RETRY_AFTER_SECONDS)})


# What a client is told to wait when the database is unreachable (about what a restart takes),
# and when it is busy (about what a slow query takes to finish or be cancelled).
UNAVAILABLE_RETRY_AFTER_SECONDS = 5
OVERLOADED_RETRY_AFTER_SECONDS = 1


class ErrorBody(msgspec.Struct):
    """The body of every error answer: `error` and `detail` always; `field` and `conflict`
    only when the API knows them."""

    error: str
    detail: str
    field: str | None = None
    conflict: ConflictingResource | None = None


def _body(
    error: str,
    detail: Any,
    *,
    field: str | None = None,
    conflict: ConflictingResource | None = None,
) -> dict[str, Any]:
    # Left out when unknown, so a body without them reads as it always has.
    body: dict[str, Any] = {"error": error, "detail": detail}
    if field is not None:
        body["field"] = field
    if conflict is not None:
        body["conflict"] = msgspec.structs.asdict(conflict)
    return body


def handle_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    body = _body(exc.error, exc.detail, field=exc.field, conflict=exc.conflict)
    return Response(body, status_code=exc.status_code, headers=exc.headers)


def handle_validation_error(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    # Litestar reports request validation as 400; bad input is 422 in this API.
    problems = exc.extra if isinstance(exc.extra, list) else []
    messages = [
        f"{p.get('key') or p.get('source') or 'request'}: {p.get('message')}"
        for p in problems
        if isinstance(p, dict)
    ]
    detail = "; ".join(messages) or exc.detail
    return Response(
        _body("invalid_input", detail, field=_field_at_fault(problems)), status_code=422
    )


# msgspec's words for a body that lacks a field or has one too many; Litestar reports them
# against the whole body.
_FIELD_OF_BODY = re.compile(r"(?:missing required|contains unknown) field `([^`]+)`")


def _field_at_fault(problems: list[Any]) -> str | None:
    """The one field Litestar's problems are about (its `key`: a body field, a query parameter
    or a header), or None when they are about several, or the body as a whole."""
    fields = set()
    for problem in problems:
        if not isinstance(problem, dict):
            return None
        key = problem.get("key")
        if key == "data":
            named = _FIELD_OF_BODY.search(str(problem.get("message", "")))
            key = named.group(1) if named else None
        if not key:
            return None
        fields.add(str(key))
    return fields.pop() if len(fields) == 1 else None


# Litestar's own refusals, in this API's words.
_HTTP_ERRORS = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    429: "rate_limited",
}


def handle_http_exception(
    request: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    headers = dict(exc.headers or {})
    detail = exc.detail
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        handler = request.scope.get("route_handler")
        limit = (
            handler.resolve_request_max_body_size()
            if isinstance(handler, HTTPRouteHandler)
            else None
        )
        detail = f"the request body is larger than the {limit or 'few'} bytes this API accepts"
    elif exc.status_code == HTTP_429_TOO_MANY_REQUESTS:
        # Litestar's rate limit says when its window resets (RateLimit-Reset, in seconds), not
        # Retry-After, which is what clients act on.
        retry_after = max(1, int(headers.get("RateLimit-Reset", "60")))
        headers["Retry-After"] = str(retry_after)
        detail = (
            "too many requests that start or change work from this address: "
            f"retry in {retry_after} s"
        )
    error = _HTTP_ERRORS.get(exc.status_code, "http_error")
    return Response(_body(error, detail), status_code=exc.status_code, headers=headers)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    # The trace stays in the server's log; the client learns only that something went wrong.
    # The handler itself must not fail: a trace that cannot be written (a RecursionError's
    # own, deep in a nested structure) is logged without it.
    try:
        log.error(
            "api.unexpected_error method=%s path=%s", request.method, request.url.path, exc_info=exc
        )
    except Exception:
        log.error(
            "api.unexpected_error path=%s error=%s", request.scope.get("path"), type(exc).__name__
        )
    return Response(
        _body("internal_error", "unexpected server error; it has been logged"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )


def handle_database_error(
    request: Request[Any, Any, Any], exc: psycopg.OperationalError | ConnectorException
) -> Response[dict[str, Any]]:
    # The database is down, restarting or out of reach (no connection within the pool's
    # timeout, or one lost mid-request): 503 at once. Its own words stay in the log.
    cause = exc.__cause__ if isinstance(exc, ConnectorException) else exc
    if not isinstance(cause, psycopg.OperationalError):
        return handle_unexpected(request, exc)
    if isinstance(cause, psycopg.errors.QueryCanceled):
        log.warning("api.statement_timeout method=%s path=%s", request.method, request.url.path)
        return handle_api_error(request, Overloaded("the query ran too long; retry shortly"))
    log.warning(
        "api.database_unavailable method=%s path=%s error=%s",
        request.method,
        request.url.path,
        str(cause).strip() or type(cause).__name__,
    )
    return handle_api_error(
        request,
        Unavailable(
            "the database cannot be reached just now; retry shortly",
            headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_SECONDS)},
        ),
    )


def handle_invalid_link(
    request: Request[Any, Any, Any], exc: InvalidLink
) -> Response[dict[str, Any]]:
    # The registry's words for a link no source takes: every route takes its link as `url`
    # (a source name given as a filter is refused where it is read, naming `source`).
    return handle_api_error(request, InvalidInput(str(exc), field="url"))


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    InvalidLink: handle_invalid_link,
    # Lost connections and pool timeouts; Procrastinate wraps them when a job is deferred.
    psycopg.OperationalError: handle_database_error,
    ConnectorException: handle_database_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    HTTP_500_INTERNAL_SERVER_ERROR: handle_unexpected,
}
