"""A folder posted again while its import is live, and requests retried with an
Idempotency-Key, each lead to one import and one job — also when the requests race."""

import json
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
import pytest
from litestar.testing import AsyncTestClient

from api.errors import IdempotencyKeyReused
from api.imports import starting
from api.imports.schemas import ImportRequest
from domain.db import Connection
from domain.sources.registry import load_registry
from tests.api.factories import insert_import, new_folder_id
from tests.api.races import Pool, race
from tests.conftest import Stack
from tests.helpers import wait_for_import
from tests.job_log import install_job_log


def folder_url(folder_id: str) -> str:
    return f"https://drive.google.com/drive/folders/{folder_id}"


def jobs_of(stack: Stack, import_id: str) -> list[str]:
    """The tasks ever queued for the import (the worker deletes a job once it succeeds)."""
    with stack.db() as db:
        rows = db.execute(
            "SELECT task_name FROM test_job_log WHERE args->>'import_id' = %s ORDER BY job_id",
            (import_id,),
        ).fetchall()
    return [task for (task,) in rows]


@pytest.fixture(scope="module", autouse=True)
def log_jobs(stack: Stack) -> None:
    with stack.db() as db:
        install_job_log(db)


def imports_of(stack: Stack, folder_id: str) -> list[str]:
    with stack.db() as db:
        rows = db.execute("SELECT id FROM imports WHERE folder_id = %s", (folder_id,)).fetchall()
    return [str(import_id) for (import_id,) in rows]


def import_count(stack: Stack) -> int:
    with stack.db() as db:
        row = db.execute("SELECT count(*) FROM imports").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("live_status", ["queued", "running"])
async def test_posting_a_folder_with_a_live_import_returns_that_import_with_200_and_no_job(
    api: AsyncTestClient[Any], stack: Stack, live_status: str
) -> None:
    folder_id = new_folder_id()
    with stack.db() as db:
        live_id = insert_import(db, folder_id=folder_id, status=live_status)

    response = await api.post("/import/google-drive", json={"url": folder_url(folder_id)})

    assert response.status_code == 200
    assert response.json() == {
        "import_id": live_id,
        "status": live_status,
        "source": "google_drive",
        "folder_id": folder_id,
    }
    assert imports_of(stack, folder_id) == [live_id]
    assert jobs_of(stack, live_id) == []


async def test_a_folder_whose_imports_have_finished_gets_a_new_import(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    folder_id = new_folder_id()
    with stack.db() as db:
        finished = [
            insert_import(db, folder_id=folder_id, status=status)
            for status in ["completed", "completed_with_errors", "failed"]
        ]

    response = await api.post("/import/google-drive", json={"url": folder_url(folder_id)})

    assert response.status_code == 202
    new_id = response.json()["import_id"]
    assert new_id not in finished
    assert jobs_of(stack, new_id) == ["import.start"]


async def test_a_retried_request_with_its_idempotency_key_gets_the_first_import_even_once_finished(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    folder_id = new_folder_id()  # no such folder: the worker fails the import quickly
    headers = {"Idempotency-Key": "order-7f3a/attempt"}
    first = await api.post(
        "/import/google-drive", json={"url": folder_url(folder_id)}, headers=headers
    )
    assert first.status_code == 202
    import_id = first.json()["import_id"]
    assert (await wait_for_import(api, import_id))["status"] == "failed"
    # import.start once, or again if the import waited its turn in line.
    jobs_before = jobs_of(stack, import_id)

    # The same request, with its keys in another order and other spacing, and the default
    # spelled out: the same body once validated.
    same_body = json.dumps({"recursive": True, "url": folder_url(folder_id)}, indent=2)
    replay = await api.post(
        "/import/google-drive",
        content=same_body.encode(),
        headers={**headers, "content-type": "application/json"},
    )

    assert replay.status_code == 202
    assert replay.json() == {
        "import_id": import_id,
        "status": "failed",
        "source": "google_drive",
        "folder_id": folder_id,
    }
    assert imports_of(stack, folder_id) == [import_id]
    assert set(jobs_before) == {"import.start"}
    assert jobs_of(stack, import_id) == jobs_before


async def test_reusing_an_idempotency_key_for_another_request_gets_422(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    folder_id = new_folder_id()
    headers = {"Idempotency-Key": "reused-key"}
    first = await api.post(
        "/import/google-drive", json={"url": folder_url(folder_id)}, headers=headers
    )
    assert first.status_code == 202
    before = import_count(stack)

    for other_body in [
        {"url": folder_url(folder_id), "recursive": False},
        {"url": folder_url(new_folder_id())},
    ]:
        response = await api.post("/import/google-drive", json=other_body, headers=headers)
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "idempotency_key_reused"
        assert first.json()["import_id"] in body["detail"]
        # The import the key belongs to, for a client to fetch instead of parsing the words.
        assert body["conflict"] == {"type": "import", "id": first.json()["import_id"]}
        assert body["field"] == "Idempotency-Key"

    assert import_count(stack) == before


@pytest.mark.parametrize(
    "key",
    [b"", b"k" * 256, "cl\u00e9".encode(), b"tab\there", b"nul\x00"],
    ids=["empty", "too-long", "not-ascii", "tab", "control"],
)
async def test_a_bad_idempotency_key_gets_422_and_creates_nothing(
    api: AsyncTestClient[Any], stack: Stack, key: bytes
) -> None:
    before = import_count(stack)
    response = await api.post(
        "/import/google-drive",
        json={"url": folder_url(new_folder_id())},
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    assert "Idempotency-Key" in body["detail"]
    assert body["field"].lower() == "idempotency-key"
    assert import_count(stack) == before


async def test_the_longest_allowed_idempotency_key_is_accepted(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    key = "~ !" + "k" * 252
    response = await api.post(
        "/import/google-drive",
        json={"url": folder_url(new_folder_id())},
        headers={"Idempotency-Key": key},
    )
    assert response.status_code == 202
    with stack.db() as db:
        row = db.execute(
            "SELECT idempotency_key, request_fingerprint FROM imports WHERE id = %s",
            (response.json()["import_id"],),
        ).fetchone()
    assert row is not None
    assert row[0] == key
    assert len(row[1]) == 64


# Races: the first request holds its transaction open with its import inserted; the second
# must wait on the unique index, and decide only once the first commits.

Start = Callable[[Connection], Awaitable[starting.ImportStart]]


def start(job_app: procrastinate.App, folder_id: str, key: str | None = None, **body: Any) -> Start:
    request = ImportRequest(url=folder_url(folder_id), **body)

    async def call(conn: Connection) -> starting.ImportStart:
        return await starting.start_import(conn, job_app, load_registry(), request, key)

    return call


async def test_two_racing_posts_of_one_folder_create_one_import_and_one_job(
    stack: Stack, services: tuple[Pool, Any]
) -> None:
    pool, job_app = services
    folder_id = new_folder_id()

    first, second = await race(stack, pool, start(job_app, folder_id), start(job_app, folder_id))

    assert isinstance(second, starting.ImportStart), second
    assert (first.already_live, second.already_live) == (False, True)
    assert second.accepted.import_id == first.accepted.import_id
    assert imports_of(stack, folder_id) == [first.accepted.import_id]
    assert jobs_of(stack, first.accepted.import_id) == ["import.start"]


async def test_two_racing_posts_with_one_idempotency_key_create_one_import(
    stack: Stack, services: tuple[Pool, Any]
) -> None:
    pool, job_app = services
    folder_id = new_folder_id()
    key = f"race-{folder_id}"

    first, second = await race(
        stack, pool, start(job_app, folder_id, key), start(job_app, folder_id, key)
    )

    # The second is a replay of the first, not a different request that found the folder busy.
    assert isinstance(second, starting.ImportStart), second
    assert (first.already_live, second.already_live) == (False, False)
    assert second.accepted.import_id == first.accepted.import_id
    assert jobs_of(stack, first.accepted.import_id) == ["import.start"]


async def test_a_racing_post_that_reuses_a_key_for_another_folder_is_refused(
    stack: Stack, services: tuple[Pool, Any]
) -> None:
    pool, job_app = services
    key = f"race-{new_folder_id()}"
    other_folder = new_folder_id()

    first, second = await race(
        stack, pool, start(job_app, new_folder_id(), key), start(job_app, other_folder, key)
    )

    assert isinstance(second, IdempotencyKeyReused)
    assert first.accepted.import_id in second.detail
    assert imports_of(stack, other_folder) == []
