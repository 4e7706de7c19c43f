"""Listing imports, reading one with its timings and rate, and listing its failed files."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.factories import insert_import, insert_import_file
from tests.api.paging import follow_pages
from tests.conftest import Stack

STATUSES = ["queued", "running", "completed", "completed_with_errors", "failed"]
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def imports(stack: Stack) -> list[tuple[datetime, uuid.UUID, str]]:
    """A dozen imports in every status; some share a created_at, so order falls back to id."""
    rows = []
    with stack.db() as db:
        for i in range(12):
            created_at = T0 + timedelta(minutes=i // 3)
            status = STATUSES[i % len(STATUSES)]
            import_id = insert_import(db, status=status, created_at=created_at)
            rows.append((created_at, uuid.UUID(import_id), status))
    return rows


def newest_first(rows: list[tuple[datetime, uuid.UUID, str]]) -> list[str]:
    return [str(import_id) for _, import_id, _ in sorted(rows, reverse=True)]


def every_import(stack: Stack) -> list[tuple[datetime, uuid.UUID, str]]:
    """What the list should hold: every import in the database, whichever test added it."""
    with stack.db() as db:
        return db.execute("SELECT created_at, id, status FROM imports").fetchall()


async def test_imports_are_listed_newest_first_across_pages(
    api: AsyncTestClient[Any], stack: Stack, imports: list[tuple[datetime, uuid.UUID, str]]
) -> None:
    expected = newest_first(every_import(stack))
    items, pages = await follow_pages(api, "/imports", limit=5)
    assert [item["import_id"] for item in items] == expected
    assert pages == -(-len(expected) // 5)


async def test_a_page_as_large_as_the_list_has_no_next_cursor(
    api: AsyncTestClient[Any], stack: Stack, imports: list[tuple[datetime, uuid.UUID, str]]
) -> None:
    count = len(every_import(stack))
    page = (await api.get("/imports", params={"limit": count})).json()
    assert len(page["items"]) == count
    assert page["next_cursor"] is None


@pytest.mark.parametrize("status", STATUSES)
async def test_the_status_filter_pages_through_only_imports_in_that_status(
    api: AsyncTestClient[Any],
    stack: Stack,
    imports: list[tuple[datetime, uuid.UUID, str]],
    status: str,
) -> None:
    expected = newest_first([row for row in every_import(stack) if row[2] == status])
    assert len(expected) >= 2
    items, _ = await follow_pages(api, "/imports", limit=1, status=status)
    assert [item["import_id"] for item in items] == expected
    assert {item["status"] for item in items} == {status}


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 501}, {"cursor": "garbage!"}, {"status": "done"}]
)
async def test_bad_import_list_parameters_get_422(
    api: AsyncTestClient[Any], params: dict[str, Any]
) -> None:
    response = await api.get("/imports", params=params)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"


async def test_a_finished_import_shows_its_elapsed_time_and_rate(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    with stack.db() as db:
        import_id = insert_import(
            db,
            status="completed_with_errors",
            discovered=12,
            imported=6,
            unchanged=2,
            skipped=1,
            failed=1,
            bytes_imported=5000,
            notes="shortcuts to other folders are not followed",
            started_at=T0,
            finished_at=T0 + timedelta(seconds=10),
        )
    body = (await api.get(f"/imports/{import_id}")).json()
    assert body["counts"] == {
        "discovered": 12,
        "imported": 6,
        "unchanged": 2,
        "skipped": 1,
        "failed": 1,
        "removed": 0,
        "settled": 10,
        "waiting_for_quota": 0,
    }
    assert body["notes"] == "shortcuts to other folders are not followed"
    assert body["elapsed_seconds"] == 10.0
    assert body["rate"] == {"files_per_second": 1.0, "bytes_per_second": 500.0}


async def test_a_running_import_is_timed_up_to_now(api: AsyncTestClient[Any], stack: Stack) -> None:
    with stack.db() as db:
        import_id = insert_import(
            db,
            status="running",
            imported=30,
            bytes_imported=3000,
            started_at=datetime.now(UTC) - timedelta(seconds=30),
        )
    body = (await api.get(f"/imports/{import_id}")).json()
    assert 30 <= body["elapsed_seconds"] < 60
    assert body["finished_at"] is None
    assert 0.5 < body["rate"]["files_per_second"] <= 1.0
    assert 50 < body["rate"]["bytes_per_second"] <= 100


async def test_an_import_not_started_has_no_elapsed_time_or_rate(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status="queued")
    body = (await api.get(f"/imports/{import_id}")).json()
    assert (body["elapsed_seconds"], body["rate"], body["notes"]) == (None, None, None)
    assert body["counts"]["unchanged"] == 0


async def test_failures_list_only_the_failed_files_in_file_id_order_across_pages(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status="completed_with_errors")
        failed = sorted(
            insert_import_file(
                db,
                import_id,
                state="failed",
                reason=f"HTTP 403 for file {i}",
                attempts=i,
                size=None if i == 0 else 100 * i,
            )
            for i in range(7)
        )
        for state in ["imported", "skipped", "unchanged", "pending"]:
            insert_import_file(db, import_id, state=state)
        other_import = insert_import(db, status="completed_with_errors")
        insert_import_file(db, other_import, state="failed", reason="not this one")

    items, pages = await follow_pages(api, f"/imports/{import_id}/failures", limit=3)

    assert pages == 3
    assert [item["file_id"] for item in items] == failed
    first = items[0]
    assert set(first) == {
        "file_id",
        "name",
        "mime_type",
        "size",
        "reason",
        "attempts",
        "updated_at",
    }
    by_id = {item["file_id"]: item for item in items}
    with stack.db() as db:
        rows = db.execute(
            "SELECT source_file_id, name, mime_type, size, reason, attempts FROM import_files"
            " WHERE import_id = %s AND state = 'failed'",
            (import_id,),
        ).fetchall()
    for file_id, name, mime_type, size, reason, attempts in rows:
        item = by_id[file_id]
        assert (item["name"], item["mime_type"], item["size"]) == (name, mime_type, size)
        assert (item["reason"], item["attempts"]) == (reason, attempts)


async def test_an_import_without_failures_lists_none(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    with stack.db() as db:
        import_id = insert_import(db)
        insert_import_file(db, import_id, state="imported")
    response = await api.get(f"/imports/{import_id}/failures")
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("import_id", [str(uuid.UUID(int=0)), "not-a-uuid"])
async def test_failures_of_an_unknown_import_are_404(
    api: AsyncTestClient[Any], import_id: str
) -> None:
    response = await api.get(f"/imports/{import_id}/failures")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_a_bad_failures_cursor_gets_422(api: AsyncTestClient[Any], stack: Stack) -> None:
    with stack.db() as db:
        import_id = insert_import(db)
    response = await api.get(f"/imports/{import_id}/failures", params={"cursor": "garbage!"})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
