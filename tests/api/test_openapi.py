"""The OpenAPI schema describes every route, from the handlers' docstrings."""

from typing import Any

from litestar.testing import AsyncTestClient


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
    # Every route reads the database, and answers 503 while it is unreachable; so does readiness.
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if path != "/healthz":
                assert "503" in operation["responses"], (method, path)
