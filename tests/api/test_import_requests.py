"""What the API answers to import requests, good and bad, before any worker runs."""

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import Stack
from tests.job_log import install_job_log

FOLDER = "1AbCdEfGhIjKlMnOpQrStUvWxYz012345"


@pytest.fixture(scope="module", autouse=True)
def log_jobs(stack: Stack) -> None:
    """Jobs ever queued: the worker deletes the start job as soon as it succeeds."""
    with stack.db() as db:
        install_job_log(db)


async def test_post_answers_202_with_the_import_and_queues_one_job(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    response = await api.post(
        "/import/google-drive",
        json={"url": f"https://drive.google.com/drive/folders/{FOLDER}?usp=sharing"},
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["source"] == "google_drive"
    assert body["folder_id"] == FOLDER
    with stack.db() as db:
        jobs = db.execute(
            "SELECT task_name, args->>'import_id' FROM test_job_log WHERE args->>'import_id' = %s",
            (body["import_id"],),
        ).fetchall()
    assert jobs == [("import.start", body["import_id"])]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"url": "https://example.com/folders/abc"}, "not a Google Drive link"),
        ({"url": f"https://drive.google.com/file/d/{FOLDER}/view"}, "single file"),
        ({"url": ""}, "length >= 1"),
        ({}, "url"),
        ({"url": 42}, "url"),
        ({"url": f"https://drive.google.com/drive/folders/{FOLDER}", "extra": 1}, "extra"),
    ],
)
async def test_a_bad_request_gets_422_with_a_message_and_creates_nothing(
    api: AsyncTestClient[Any], stack: Stack, payload: dict[str, Any], fragment: str
) -> None:
    with stack.db() as db:
        (before,) = db.execute("SELECT count(*) FROM imports").fetchone() or (0,)
    response = await api.post("/import/google-drive", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "invalid_input"
    assert fragment in body["detail"]
    with stack.db() as db:
        assert db.execute("SELECT count(*) FROM imports").fetchone() == (before,)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"url": "https://example.com/folders/abc"}, "url"),
        ({"url": ""}, "url"),
        ({}, "url"),
        ({"url": 42}, "url"),
        (
            {"url": f"https://drive.google.com/drive/folders/{FOLDER}", "recursive": "yes"},
            "recursive",
        ),
        ({"url": f"https://drive.google.com/drive/folders/{FOLDER}", "extra": 1}, "extra"),
        ({"url": f"https://drive.google.com/drive/folders/{FOLDER}", "password": "x"}, "password"),
    ],
)
async def test_a_bad_request_names_the_field_at_fault(
    api: AsyncTestClient[Any], payload: dict[str, Any], field: str
) -> None:
    response = await api.post("/import/google-drive", json=payload)
    assert response.status_code == 422
    assert response.json()["field"] == field, response.text


async def test_a_body_that_is_not_json_gets_a_clear_error(api: AsyncTestClient[Any]) -> None:
    response = await api.post(
        "/import/google-drive", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code in {400, 422}
    assert response.json()["error"] in {"invalid_input", "http_error"}


async def test_an_unknown_import_is_404(api: AsyncTestClient[Any]) -> None:
    for import_id in ["00000000-0000-0000-0000-000000000000", "not-a-uuid"]:
        response = await api.get(f"/imports/{import_id}")
        assert response.status_code == 404
        assert response.json()["error"] == "not_found"


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 501}, {"cursor": "garbage!"}, {"source": "ftp"}]
)
async def test_bad_image_list_parameters_get_422_naming_the_parameter(
    api: AsyncTestClient[Any], params: dict[str, Any]
) -> None:
    response = await api.get("/images", params=params)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_input"
    assert response.json()["field"] == next(iter(params))


async def test_health_and_openapi_are_served(api: AsyncTestClient[Any]) -> None:
    health = await api.get("/healthz")
    assert health.json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "storage": "ok"}
    schema = (await api.get("/schema/openapi.json")).json()
    assert "/import/google-drive" in schema["paths"]
    assert "/images" in schema["paths"]
