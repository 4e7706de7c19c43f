"""0018_webhooks records one delivery each time an import with a notify_url ends, from any
path, with the import as it ended; an import that ends again after a retry gets another."""

from typing import Any

import psycopg
import pytest

from tests.api.factories import insert_import, insert_import_file

HOOK = "https://hooks.example.com/imports"


@pytest.fixture(scope="module")
def db(database_url: str) -> Any:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def deliveries(db: Any, import_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    rows: list[tuple[str, str, dict[str, Any]]] = db.execute(
        "SELECT event_type, state, payload FROM webhook_deliveries WHERE import_id = %s"
        " ORDER BY created_at, id",
        (import_id,),
    ).fetchall()
    return rows


def test_each_way_an_import_ends_records_its_event(db: Any) -> None:
    refused = insert_import(db, status="queued", notify_url=HOOK)
    db.execute("SELECT import_fail(%s, 'too many imports')", (refused,))
    failed = insert_import(db, status="running", notify_url=HOOK)
    db.execute("SELECT import_fail(%s, 'folder gone')", (failed,))
    cancelled = insert_import(db, status="running", notify_url=HOOK)
    db.execute("SELECT cancel_import(%s)", (cancelled,))
    completed = insert_import(db, status="running", notify_url=HOOK)
    db.execute("SELECT import_complete_if_settled(%s)", (completed,))

    assert [(e, s) for e, s, _ in deliveries(db, refused)] == [("import.failed", "pending")]
    assert deliveries(db, refused)[0][2]["error"] == "too many imports"
    assert [e for e, _, _ in deliveries(db, failed)] == ["import.failed"]
    assert [e for e, _, _ in deliveries(db, cancelled)] == ["import.cancelled"]
    assert [e for e, _, _ in deliveries(db, completed)] == ["import.completed"]


def test_the_event_is_the_import_as_it_ended(db: Any) -> None:
    import_id = insert_import(
        db,
        status="running",
        notify_url=HOOK,
        discovered=4,
        imported=3,
        failed=1,
        bytes_imported=1234,
    )
    db.execute(
        "UPDATE imports SET status = 'completed_with_errors', finished_at = now() WHERE id = %s",
        (import_id,),
    )
    [(event_type, _, payload)] = deliveries(db, import_id)
    assert event_type == "import.completed_with_errors"
    assert payload["counts"] == {
        "discovered": 4,
        "imported": 3,
        "unchanged": 0,
        "skipped": 0,
        "failed": 1,
        "removed": 0,
        "settled": 4,
        "waiting_for_quota": 0,
    }
    assert payload["bytes_imported"] == 1234
    assert payload["status"] == "completed_with_errors"
    assert payload["finished_at"].endswith("Z")
    assert payload["import_id"] == import_id


def test_an_import_retried_and_ended_again_gets_a_second_delivery(db: Any) -> None:
    import_id = insert_import(db, status="running", notify_url=HOOK, discovered=1, failed=1)
    insert_import_file(db, import_id, state="failed", reason="quota")
    db.execute("UPDATE imports SET status = 'completed_with_errors' WHERE id = %s", (import_id,))
    assert db.execute("SELECT requeue_failed_files(%s)", (import_id,)).fetchone() == (1,)
    db.execute("UPDATE imports SET status = 'completed', imported = 1 WHERE id = %s", (import_id,))
    events = deliveries(db, import_id)
    assert [e for e, _, _ in events] == ["import.completed_with_errors", "import.completed"]
    # The first event still says what the import was when it ended the first time.
    assert events[0][2]["counts"]["failed"] == 1
    assert events[1][2]["counts"]["failed"] == 0


def test_no_delivery_without_notify_url_nor_for_a_change_between_ended_statuses(db: Any) -> None:
    silent = insert_import(db, status="running")
    db.execute("UPDATE imports SET status = 'completed' WHERE id = %s", (silent,))
    assert deliveries(db, silent) == []
    ended = insert_import(db, status="completed", notify_url=HOOK)
    db.execute("UPDATE imports SET status = 'failed' WHERE id = %s", (ended,))
    db.execute("UPDATE imports SET status = 'failed' WHERE id = %s", (ended,))
    assert deliveries(db, ended) == []


def test_deleting_an_import_deletes_its_deliveries(db: Any) -> None:
    import_id = insert_import(db, status="running", notify_url=HOOK)
    db.execute("UPDATE imports SET status = 'cancelled' WHERE id = %s", (import_id,))
    db.execute("DELETE FROM imports WHERE id = %s", (import_id,))
    assert deliveries(db, import_id) == []
