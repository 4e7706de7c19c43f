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
