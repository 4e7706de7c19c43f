"""The OpenAPI schema describes every route, from the handlers' docstrings."""

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import ApiClientFactory


async def test_every_route_is_in_the_openapi_schema_with_its_docstring(
    api: AsyncTestClient[Any],
) -> None:
    paths = (await api.get("/schema/openapi.json")).json()["paths"]
    for path in [
        "/import/google-drive",
        "/imports",
        "/imports/{import_id}",
        "/imports/{import_id}/failures",
        "/imports/{import_id}/retry",
        "/images",
        "/images/{image_id}",
        "/images/{image_id}/content",
        "/imports/{import_id}/archive",
        "/albums/{album_id}/archive",
        "/archives",
        "/archives/{archive_id}",
        "/albums",
        "/albums/{album_id}",
    ]:
        assert path in paths
        for operation in paths[path].values():
            assert operation["description"]


async def test_every_route_documents_the_refusals_it_can_answer_with_the_error_body(
    api: AsyncTestClient[Any],
) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    expected = {
        ("post", "/import/google-drive"): {"401", "409", "413", "422", "429"},
        ("post", "/import/dropbox"): {"401", "409", "413", "422", "429"},
        ("get", "/imports"): {"401", "422"},
        ("get", "/imports/{import_id}"): {"401", "404"},
        ("get", "/imports/{import_id}/failures"): {"401", "404", "422"},
        ("post", "/imports/{import_id}/retry"): {"401", "404", "409", "413", "429"},
        ("post", "/imports/{import_id}/cancel"): {"401", "404", "409", "413", "429"},
        ("get", "/images"): {"401", "422"},
        ("get", "/images/{image_id}"): {"401", "404"},
        ("get", "/images/{image_id}/content"): {"401", "404"},
        ("get", "/imports/{import_id}/archive"): {"401", "404", "409", "416"},
        ("get", "/albums/{album_id}/archive"): {"401", "404", "409", "416"},
        ("post", "/archives"): {"401", "413", "422", "429"},
        ("get", "/archives/{archive_id}"): {"401", "404", "409", "416"},
        ("get", "/albums"): {"401", "422"},
        ("get", "/albums/{album_id}"): {"401", "404", "422"},
    }
    for (method, path), statuses in expected.items():
        responses = schema["paths"][path][method]["responses"]
        assert statuses <= set(responses), (method, path, set(responses))
        for status in statuses:
            body = responses[status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorBody"}, (path, status, body)
    error_body = schema["components"]["schemas"]["ErrorBody"]
    assert set(error_body["required"]) == {"error", "detail"}
    assert {"field", "conflict"} <= set(error_body["properties"])
    conflict = schema["components"]["schemas"]["ConflictingResource"]
    assert conflict["properties"]["type"]["enum"] == ["sync", "import"]
    # An archive's parts are the archive's bytes.
    for path in ("/imports/{import_id}/archive", "/archives/{archive_id}"):
        for status in ("200", "206"):
            assert "application/zip" in schema["paths"][path]["get"]["responses"][status]["content"]
    # Every route reads the database, and answers 503 while it is unreachable; so does readiness.
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path != "/healthz":
                assert "503" in operation["responses"], (method, path)


async def test_options_allows_every_method_of_its_path(api: AsyncTestClient[Any]) -> None:
    expected = {
        "/imports": "GET, OPTIONS, POST",
        "/syncs": "GET, OPTIONS, POST",
        "/syncs/00000000-0000-4000-8000-000000000000": "DELETE, GET, OPTIONS, PATCH",
        "/imports/00000000-0000-4000-8000-000000000000": "GET, OPTIONS",
        "/images": "GET, OPTIONS",
        "/albums": "GET, OPTIONS",
    }
    for path, allow in expected.items():
        response = await api.options(path)
        assert response.status_code == 204, (path, response.text)
        assert response.headers["allow"] == allow, path
    # Against the schema: each path's operations are the methods its OPTIONS names.
    schema = (await api.get("/schema/openapi.json")).json()
    for template, operations in schema["paths"].items():
        # A job's id is a number; the other ids are taken as text.
        path = template.replace("{job_id}", "1").replace("{", "").replace("}", "")
        allowed = set((await api.options(path)).headers["allow"].split(", "))
        assert allowed - {"OPTIONS"} == {m.upper() for m in operations}, template


@pytest.mark.parametrize(
    "path",
    [
        "/images",
        "/imports",
        "/syncs",
        "/sources",
        "/healthz",
        "/imports/x/failures",
        "/images/x",
        "/albums",
        "/albums/x",
    ],
)
async def test_an_unknown_query_parameter_is_refused_naming_it(
    api: AsyncTestClient[Any], path: str
) -> None:
    response = await api.get(path, params={"limit": "5", "colour": "red"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_input"
    assert body["field"] == "colour"
    assert "`colour`" in body["detail"]


async def test_the_server_enforced_bounds_are_in_the_schema(api: AsyncTestClient[Any]) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    images = {p["name"]: p["schema"] for p in schema["paths"]["/images"]["get"]["parameters"]}
    for name in ("min_height", "min_width", "min_size", "max_size"):
        assert images[name]["minimum"] == 0, (name, images[name])
    for body in ("ImportRequest", "SyncRequest"):
        url = schema["components"]["schemas"][body]["properties"]["url"]
        assert url.get("minLength") == 1, (body, url)


@pytest.mark.parametrize(
    ("overrides", "secured"),
    [
        ({}, set()),
        ({"api_token": "w" * 32}, {"post", "patch", "delete"}),
        ({"api_token": "w" * 32, "api_read_token": "r" * 32}, {"get", "post", "patch", "delete"}),
    ],
)
async def test_the_bearer_token_is_declared_only_on_the_operations_that_need_it(
    api_client_with: ApiClientFactory, overrides: dict[str, str], secured: set[str]
) -> None:
    async with api_client_with(**overrides) as client:
        schema = (await client.get("/schema/openapi.json")).json()
    assert "security" not in schema
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/ops/"):
                # The operators' routes need OPS_TOKEN, always, and no other token.
                assert operation["security"] == [{"ops": []}], (method, path)
                continue
            needs = method in secured and path not in ("/healthz", "/readyz")
            assert ("security" in operation) == needs, (method, path)
            if needs:
                assert operation["security"] == [{"bearer": []}]
