"""notify_url on a start request: refused (422, naming the address and WEBHOOK_ALLOWED_NETWORKS)
when it is not http(s), carries a user, or its host is or resolves to an address that is not
public; kept on the import and in the idempotency fingerprint when it passes. The API here
runs with the default settings: no network allowed beyond the public ones."""

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.api.factories import insert_import
from tests.conftest import Stack

# A public address literal: passes the policy without DNS (nothing is sent to it here).
PUBLIC_HOOK = "https://93.184.215.14/hooks/imports"


async def start(api: AsyncTestClient[Any], stack: Stack, folder: str, **body: Any) -> Any:
    return await api.post("/imports", json={"url": stack.drive.fixture.link(folder), **body})


@pytest.mark.parametrize(
    ("notify_url", "detail"),
    [
        (
            "http://127.0.0.1:8080/hook",
            "notify_url: refused: 127.0.0.1 is a loopback address; "
            "WEBHOOK_ALLOWED_NETWORKS allows none",
        ),
        (
            "http://169.254.169.254/latest/meta-data",
            "notify_url: refused: 169.254.169.254 is the cloud metadata address; "
            "WEBHOOK_ALLOWED_NETWORKS allows none",
        ),
        (
            "http://[::ffff:10.0.0.5]/hook",
            "notify_url: refused: ::ffff:10.0.0.5 is an IPv6 address of 10.0.0.5, a private "
            "address; WEBHOOK_ALLOWED_NETWORKS allows none",
        ),
    ],
)
async def test_a_notify_url_to_an_internal_address_is_refused_naming_it(
    api: AsyncTestClient[Any], stack: Stack, notify_url: str, detail: str
) -> None:
    response = await start(api, stack, "outside/folder", notify_url=notify_url)
    assert response.status_code == 422, response.text
    assert response.json() == {"error": "invalid_input", "detail": detail, "field": "notify_url"}


async def test_a_name_that_resolves_to_loopback_is_refused(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    response = await start(api, stack, "outside/folder", notify_url="http://localhost:9/hook")
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("notify_url: refused: localhost resolves to ")


@pytest.mark.parametrize(
    ("notify_url", "problem"),
    [
        ("ftp://93.184.215.14/hook", "must be an http or https URL"),
        ("https://me:pw@93.184.215.14/hook", "must not carry a user or password"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_a_notify_url_of_the_wrong_shape_or_unresolvable_is_refused(
    api: AsyncTestClient[Any], stack: Stack, notify_url: str, problem: str
) -> None:
    response = await start(api, stack, "outside/folder", notify_url=notify_url)
    assert response.status_code == 422, response.text
    assert problem in response.json()["detail"]


async def test_a_notify_url_longer_than_the_cap_is_request_validation(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    response = await start(api, stack, "outside/folder", notify_url=PUBLIC_HOOK + "x" * 2048)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input"


async def test_an_accepted_notify_url_is_shown_on_the_import(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    response = await start(api, stack, "tricky/level1", notify_url=PUBLIC_HOOK)
    assert response.status_code == 202, response.text
    import_id = response.json()["import_id"]
    shown = await api.get(f"/imports/{import_id}")
    assert shown.json()["notify_url"] == PUBLIC_HOOK


async def test_the_same_key_with_another_notify_url_is_another_request(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    headers = {"Idempotency-Key": "notify-url-fingerprint"}
    body = {"url": stack.drive.fixture.link("tricky/level1/level2"), "notify_url": PUBLIC_HOOK}
    first = await api.post("/imports", json=body, headers=headers)
    assert first.status_code == 202, first.text
    again = await api.post("/imports", json=body, headers=headers)
    assert again.json()["import_id"] == first.json()["import_id"]
    other = await api.post(
        "/imports", json={**body, "notify_url": PUBLIC_HOOK + "?v=2"}, headers=headers
    )
    assert other.status_code == 422, other.text
    assert other.json()["error"] == "idempotency_key_reused"


async def test_deliveries_of_an_unknown_import_are_not_found(api: AsyncTestClient[Any]) -> None:
    response = await api.get("/imports/00000000-0000-4000-8000-000000000000/deliveries")
    assert response.status_code == 404, response.text
    response = await api.get("/imports/not-a-uuid/deliveries")
    assert response.status_code == 404, response.text


async def test_an_import_without_notify_url_has_no_deliveries(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    with stack.db() as db:
        import_id = insert_import(db, status="running")
        db.execute("UPDATE imports SET status = 'completed' WHERE id = %s", (import_id,))
    response = await api.get(f"/imports/{import_id}/deliveries")
    assert response.status_code == 200, response.text
    assert response.json() == {"items": []}
