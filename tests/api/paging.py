"""Following keyset pagination to the end."""

from typing import Any

from litestar.testing import AsyncTestClient


async def follow_pages(
    api: AsyncTestClient[Any], path: str, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paginated list, in the order served, and the number of pages it took."""
    items: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await api.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        pages += 1
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert page["items"], "a page with a next_cursor must not be empty"
