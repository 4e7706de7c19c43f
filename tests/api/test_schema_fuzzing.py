"""Schemathesis fuzzes every route of the live API (uvicorn, on the module's stack) from its
own OpenAPI schema, with valid and invalid parameters and bodies: no answer may be a 5xx, and
none may have a status the schema does not document for its route.

The API runs open (no API_TOKEN) and without its start limit, so that the fuzzed bodies reach
validation and the handlers instead of stopping at a 401 or 429 (both still documented).
Nothing is excluded.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

# Valid and invalid cases per route: the whole test stays well under a minute on a busy
# 2-core machine.
EXAMPLES_PER_ROUTE = 40
# Every route of the API; the first test fails when one is added without being listed here.
# (Listed rather than read from the schema because the schema exists only once the API runs,
# after pytest has collected the tests; schemathesis' own lazy loader for that case,
# `schemathesis.pytest.from_fixture`, fails on pytest 9.2 with "'Function' object has no
# attribute '_nodeid'".)
ROUTES = [
    ("POST", "/imports"),
    ("POST", "/import/google-drive"),
    ("POST", "/import/dropbox"),
    ("GET", "/imports"),
    ("GET", "/imports/{import_id}"),
    ("GET", "/imports/{import_id}/failures"),
    ("GET", "/imports/{import_id}/deliveries"),
    ("POST", "/imports/{import_id}/retry"),
    ("POST", "/imports/{import_id}/cancel"),
    ("GET", "/images"),
    ("GET", "/images/{image_id}"),
    ("GET", "/images/{image_id}/content"),
    ("GET", "/storage"),
    ("GET", "/sources"),
    ("GET", "/sources/detect"),
    ("GET", "/imports/{import_id}/thumbnails"),
    ("GET", "/imports/{import_id}/archive"),
    ("GET", "/albums/{album_id}/archive"),
    ("POST", "/archives"),
    ("GET", "/archives/{archive_id}"),
    ("GET", "/albums"),
    ("GET", "/albums/{album_id}"),
    ("POST", "/syncs"),
    ("GET", "/syncs"),
    ("GET", "/syncs/{sync_id}"),
    ("PATCH", "/syncs/{sync_id}"),
    ("DELETE", "/syncs/{sync_id}"),
    ("POST", "/syncs/{sync_id}/run"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/ops/queues"),
    ("GET", "/ops/jobs"),
    ("GET", "/ops/jobs/{job_id}"),
    ("POST", "/ops/jobs/{job_id}/retry"),
    ("POST", "/ops/jobs/{job_id}/cancel"),
    ("GET", "/ops/stalled"),
    ("POST", "/ops/stalled/retry"),
    ("GET", "/ops/workers"),
    ("GET", "/ops/periodic"),
    ("GET", "/ops/imports"),
    ("POST", "/ops/imports/{import_id}/requeue-failures"),
]
# The operators' routes answer only to OPS_TOKEN: fuzzed with it, so that the cases reach them.
OPS_TOKEN = "fuzzing-ops-token"
OPS_HEADERS = {"Authorization": f"Bearer {OPS_TOKEN}", "X-Operator": "fuzzer"}
API_ENV = {"START_RATE_LIMIT_PER_MINUTE": "0", "OPS_TOKEN": OPS_TOKEN}


@pytest.fixture(scope="module")
def api_schema(api_url: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{api_url}/schema/openapi.json")


def test_every_route_of_the_schema_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    operations = {
        (result.ok().method.upper(), result.ok().path) for result in api_schema.get_all_operations()
    }
    assert operations == set(ROUTES)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_request_gets_a_server_error_or_an_undocumented_status(
    api_schema: schemathesis.BaseSchema, api_url: str, method: str, path: str
) -> None:
    fuzz_route(api_schema, api_url, method, path, OPS_HEADERS if path.startswith("/ops") else None)


def fuzz_route(
    api_schema: schemathesis.BaseSchema,
    api_url: str,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Valid and invalid cases of one route, each sent with `headers`: no 5xx, no status the
    schema does not document for the route."""
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=api_url,
            headers=headers,
            checks=[not_a_server_error, status_code_conformance],
        )

    fuzz()
