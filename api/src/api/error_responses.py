"""The refusals each route documents in the OpenAPI schema, each with the one error body
(`errors.ErrorBody`)."""

from litestar.openapi import ResponseSpec

from api.errors import ErrorBody

# What each refusal means, in the OpenAPI schema.
_ERROR_DESCRIPTIONS = {
    401: "No bearer token, or not one this route accepts (only when API_TOKEN, or for reads "
    "API_READ_TOKEN, is set; always on /ops, which takes OPS_TOKEN only).",
    404: "No such resource.",
    409: "The resource's current state does not allow this request.",
    413: "The request body is larger than MAX_REQUEST_BYTES.",
    415: "The body is not sent as `Content-Type: application/json`.",
    416: "The Range asked for starts past the end: Content-Range says the size.",
    422: "The request is not valid: a parameter, the body or a link is wrong, or a query "
    "parameter is one the route does not take.",
    429: "Too many requests that start or change work from this address: see Retry-After.",
    503: "The database is unreachable, or busy with requests like this one: see Retry-After.",
}


def query_refusal() -> dict[int, ResponseSpec]:
    """The one refusal every route can answer with, for the routes that need no other (health):
    a query parameter the route does not take (422)."""
    return {422: _error_response(422)}


def _error_response(code: int) -> ResponseSpec:
    return ResponseSpec(
        data_container=ErrorBody, description=_ERROR_DESCRIPTIONS[code], generate_examples=False
    )


def error_responses(*status_codes: int) -> dict[int, ResponseSpec]:
    """The refusals a route can answer with, for its `responses=`: each with the error body.
    Every route refuses a query parameter it does not take (422), and every route that uses
    them reads the database, so each also answers 503 while the database is unreachable."""
    return {code: _error_response(code) for code in sorted({*status_codes, 422, 503})}
