"""The one error model of the API: every failure becomes `{"error": ..., "detail": ...}`."""

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR


class ApiError(Exception):
    """An expected failure with its HTTP status; raise it from anywhere below a handler."""

    status_code = 400
    error = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(ApiError):
    status_code = 422
    error = "invalid_input"


class IdempotencyKeyReused(ApiError):
    status_code = 422
    error = "idempotency_key_reused"


class NotFound(ApiError):
    status_code = 404
    error = "not_found"


class Conflict(ApiError):
    """The request is valid but the resource is in a state that does not allow it."""

    status_code = 409
    error = "conflict"


def _body(error: str, detail: Any) -> dict[str, Any]:
    return {"error": error, "detail": detail}


def handle_api_error(_: Request[Any, Any, Any], exc: ApiError) -> Response[dict[str, Any]]:
    return Response(_body(exc.error, exc.detail), status_code=exc.status_code)


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
    return Response(_body("invalid_input", "; ".join(messages) or exc.detail), status_code=422)


def handle_http_exception(
    _: Request[Any, Any, Any], exc: HTTPException
) -> Response[dict[str, Any]]:
    error = "not_found" if exc.status_code == 404 else "http_error"
    return Response(_body(error, exc.detail), status_code=exc.status_code)


def handle_unexpected(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    return Response(
        _body("internal_error", "unexpected server error; it has been logged"),
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
    )


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    ValidationException: handle_validation_error,
    HTTPException: handle_http_exception,
    HTTP_500_INTERNAL_SERVER_ERROR: handle_unexpected,
}
