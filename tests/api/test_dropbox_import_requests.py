"""What the API answers to Dropbox import requests, good and bad, and how it records them."""

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.factories import insert_import
from tests.conftest import Stack
from tests.job_log import install_job_log

# A link the emulator does not know: the worker fails these imports, but only after the API
# has answered, and these tests look only at what the API did.
SCL = "https://www.dropbox.com/scl/fo/apitest0000000000000a1/AApiTestKey00000000000?rlkey=k0000000000000000000000a1"
SH = "https://www.dropbox.com/sh/apitest00000a2/AAapiTestHash000000000000"


@pytest.fixture(scope="module", autouse=True)
def log_jobs(stack: Stack) -> None:
    """Jobs ever queued: the worker deletes the start job as soon as it succeeds."""
    with stack.db() as db:
        install_job_log(db)


def recorded(stack: Stack, import_id: str) -> tuple[Any, ...]:
    with stack.db() as db:
        row = db.execute(
            "SELECT source, folder_id, source_url, locator, link_password, recursive FROM imports"
            " WHERE id = %s",
            (import_id,),
        ).fetchone()
        jobs = db.execute(
            "SELECT task_name FROM test_job_log WHERE args->>'import_id' = %s", (import_id,)
        ).fetchall()
    assert row is not None
    return (*row, [task for (task,) in jobs])


async def test_post_answers_202_with_the_import_and_queues_its_start(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    url = f"{SCL}&st=abc&dl=0"
    response = await api.post("/import/dropbox", json={"url": url})

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["source"] == "dropbox"
    assert body["folder_id"] == "scl/fo/apitest0000000000000a1/AApiTestKey00000000000"
    source, folder_id, source_url, locator, password, recursive, jobs = recorded(
        stack, body["import_id"]
    )
    assert (source, folder_id, source_url, recursive) == ("dropbox", body["folder_id"], url, True)
    assert locator == {"folder_id": folder_id, "url": url}
    assert password is None
    assert jobs == ["import.start"]
    view = (await api.get(f"/imports/{body['import_id']}")).json()
    assert (view["source"], view["source_url"]) == ("dropbox", url)


async def test_a_password_is_kept_once_on_the_import_and_never_shown(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    response = await api.post(
        "/import/dropbox", json={"url": SH + "?dl=0", "password": "hunter2", "recursive": False}
    )
    assert response.status_code == 202
    import_id = response.json()["import_id"]
    _, folder_id, _, locator, password, recursive, _ = recorded(stack, import_id)
    assert folder_id == "sh/apitest00000a2/AAapiTestHash000000000000"
    assert locator == {"folder_id": folder_id, "url": SH + "?dl=0"}
    assert password == "hunter2"
    assert recursive is False
    view = await api.get(f"/imports/{import_id}")
    listing = await api.get("/imports", params={"limit": 500})
    assert "hunter2" not in view.text and "hunter2" not in listing.text


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"url": "https://example.com/sh/abc/def"}, "not a Dropbox link"),
        (
            {"url": "https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOpQrStUvWxYz012345"},
            "not a Dropbox link",
        ),
        ({"url": "https://www.dropbox.com/s/abc123/photo.jpg?dl=0"}, "single Dropbox file"),
        (
            {"url": "https://www.dropbox.com/scl/fi/abc123/photo.jpg?rlkey=k&dl=0"},
            "single Dropbox file",
        ),
        ({"url": "https://www.dropbox.com/sh/abc123"}, "malformed Dropbox folder link"),
        ({"url": SCL.split("?")[0]}, "no rlkey parameter"),
        ({"url": ""}, "length >= 1"),
        ({"url": SH, "password": ""}, "password is empty"),
        ({}, "url"),
        ({"url": 42}, "url"),
        ({"url": SH, "extra": 1}, "extra"),
    ],
)
async def test_a_bad_request_gets_422_with_a_message_and_creates_nothing(
    api: AsyncTestClient[Any], stack: Stack, payload: dict[str, Any], fragment: str
) -> None:
    with stack.db() as db:
        before = db.execute("SELECT count(*) FROM imports").fetchone()
    response = await api.post("/import/dropbox", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    assert fragment in body["detail"]
    with stack.db() as db:
        assert db.execute("SELECT count(*) FROM imports").fetchone() == before


async def test_a_link_with_a_live_import_returns_it_whatever_its_parameters(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    folder_id = "sh/apitestlive001/AAapiTestLiveHash0000000000"
    with stack.db() as db:
        live_id = insert_import(
            db,
            source="dropbox",
            folder_id=folder_id,
            status="running",
            source_url=f"https://www.dropbox.com/{folder_id}?dl=0",
        )
    response = await api.post(
        "/import/dropbox", json={"url": f"https://www.dropbox.com/{folder_id}?dl=1&e=1"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "import_id": live_id,
        "status": "running",
        "source": "dropbox",
        "folder_id": folder_id,
    }
    with stack.db() as db:
        jobs = db.execute(
            "SELECT count(*) FROM test_job_log WHERE args->>'import_id' = %s", (live_id,)
        ).fetchone()
    assert jobs == (0,)


async def test_a_drive_folder_and_a_dropbox_link_with_the_same_id_do_not_collide(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    folder_id = "sh/apitestcross01/AAapiTestCrossHash000000000"
    with stack.db() as db:
        insert_import(db, source="google_drive", folder_id=folder_id, status="running")
    response = await api.post(
        "/import/dropbox", json={"url": f"https://www.dropbox.com/{folder_id}"}
    )
    assert response.status_code == 202


async def test_an_idempotency_key_replays_the_import_and_refuses_another_body(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    url = "https://www.dropbox.com/sh/apitestidem001/AAapiTestIdemHash00000000?dl=0"
    headers = {"Idempotency-Key": "dropbox-idem-1"}
    first = await api.post("/import/dropbox", json={"url": url}, headers=headers)
    again = await api.post("/import/dropbox", json={"url": url}, headers=headers)
    other = await api.post("/import/dropbox", json={"url": url, "password": "x"}, headers=headers)
    drive = await api.post(
        "/import/google-drive",
        json={"url": "https://drive.google.com/drive/folders/1AbCdEfGhIjKlMnOpQrStUvWxYz012345"},
        headers=headers,
    )

    assert first.status_code == again.status_code == 202
    assert again.json()["import_id"] == first.json()["import_id"]
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    assert drive.status_code == 422 and drive.json()["error"] == "idempotency_key_reused"


async def test_the_route_is_in_the_openapi_schema(api: AsyncTestClient[Any]) -> None:
    schema = (await api.get("/schema/openapi.json")).json()
    operation = schema["paths"]["/import/dropbox"]["post"]
    assert set(operation["responses"]) >= {"200", "202"}
    assert operation["description"] or operation["summary"]
