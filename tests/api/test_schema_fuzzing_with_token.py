"""The same fuzzing as test_schema_fuzzing.py against an API that requires its tokens (API_TOKEN
for changes, API_READ_TOKEN for reads), every request carrying the token: the schema, which
declares the bearer token where the running settings need it, must hold there too."""

import pytest
import schemathesis

from tests.api.test_schema_fuzzing import ROUTES, fuzz_route

TOKEN = "fuzzing-write-token"
API_ENV = {
    "START_RATE_LIMIT_PER_MINUTE": "0",
    "API_TOKEN": TOKEN,
    "API_READ_TOKEN": "fuzzing-read-token",
}


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_url}/schema/openapi.json")


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_request_with_the_token_gets_a_server_error_or_an_undocumented_status(
    api_schema: schemathesis.BaseSchema, api_url: str, method: str, path: str
) -> None:
    fuzz_route(api_schema, api_url, method, path, {"Authorization": f"Bearer {TOKEN}"})
