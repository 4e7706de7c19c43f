"""The README's API reference and the served OpenAPI schema describe the same routes."""

import re
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

README = Path(__file__).parents[2] / "README.md"
ROUTE_HEADING = re.compile(r"^### `(GET|POST|PUT|PATCH|DELETE) (/[^`]*)`$", re.MULTILINE)


def readme_api_sections() -> dict[tuple[str, str], str]:
    text = README.read_text(encoding="utf-8")
    api = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    headings = list(ROUTE_HEADING.finditer(api))
    sections = {}
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        end = following.start() if following else len(api)
        sections[(heading.group(1), heading.group(2))] = api[heading.end() : end]
    return sections


def path_shape(path: str) -> str:
    """Parameter names may differ between the two ({id} vs {image_id}); their places may not."""
    return re.sub(r"\{[^}]+\}", "{}", path)


async def test_every_route_in_the_openapi_schema_is_documented_in_the_readme_and_back(
    api: AsyncTestClient[Any],
) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    served = {
        (method.upper(), path_shape(path))
        for path, operations in schema["paths"].items()
        for method in operations
    }
    documented = {(method, path_shape(path)) for method, path in readme_api_sections()}
    assert documented == served


def test_every_documented_route_shows_a_request_and_a_response() -> None:
    for (method, path), body in readme_api_sections().items():
        examples = "\n".join(re.findall(r"```\n(.*?)```", body, flags=re.DOTALL))
        assert examples, f"{method} {path} has no example"
        assert "$ curl" in examples, f"{method} {path} shows no request"
        answer = re.search(r"^(\{|HTTP)", examples, flags=re.MULTILINE)
        assert answer, f"{method} {path} shows no response"
