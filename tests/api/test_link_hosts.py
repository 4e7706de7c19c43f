"""A link that names any host (a Nextcloud share, a bucket on an endpoint the link names) is
accepted for an import or a sync only when its host resolves, within a few seconds, to addresses
the address policy allows: otherwise 422 naming the host, the address and the setting that would
allow it (NEXTCLOUD_ALLOWED_NETWORKS, PUBLIC_S3_ALLOWED_NETWORKS). The API here runs with the
default settings: no network allowed beyond the public ones.

A name that resolves to an internal address without a DNS server is the machine's own name
(from /etc/hosts); `localhost` would not do, as the link's parser refuses it before any lookup.
"""

import ipaddress
import socket
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from domain.address_policy import address_refusal
from tests.conftest import Stack

LINKS = {
    "NEXTCLOUD_ALLOWED_NETWORKS": "https://{host}/s/Abc123Def456Ghi",
    "PUBLIC_S3_ALLOWED_NETWORKS": "s3+http://{host}:9/photos/2024/",
}


@pytest.fixture(scope="module")
def own_name() -> tuple[str, str]:
    """The machine's name and the address it resolves to, one the policy refuses."""
    name = socket.gethostname()
    try:
        infos = socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)
    except OSError:
        pytest.skip(f"the machine's name {name} does not resolve here")
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if any(address_refusal(address, ()) is None for address in addresses):
        pytest.skip(f"the machine's name {name} resolves to a public address here")
    return name, str(addresses[0])


@pytest.mark.parametrize("setting", sorted(LINKS))
@pytest.mark.parametrize(("path", "body"), [("/imports", {}), ("/syncs", {"every": "1h"})])
async def test_a_link_whose_host_resolves_inside_is_refused_naming_the_setting_that_allows_it(
    api: AsyncTestClient[Any],
    stack: Stack,
    own_name: tuple[str, str],
    setting: str,
    path: str,
    body: dict[str, Any],
) -> None:
    name, _ = own_name
    response = await api.post(path, json={"url": LINKS[setting].format(host=name), **body})
    assert response.status_code == 422, response.text
    answer = response.json()
    assert (answer["error"], answer["field"]) == ("invalid_input", "url")
    assert answer["detail"].startswith(f"refused: {name} resolves to ")
    assert answer["detail"].endswith(f"; {setting} allows none")


async def test_a_host_inside_a_network_its_setting_allows_is_accepted(
    api: AsyncTestClient[Any],
    stack: Stack,
    own_name: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, address = own_name
    # The in-process API reads the source's settings from the environment, as in production.
    monkeypatch.setenv("NEXTCLOUD_ALLOWED_NETWORKS", address)
    link = LINKS["NEXTCLOUD_ALLOWED_NETWORKS"].format(host=name)
    response = await api.post("/imports", json={"url": link})
    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    ("link", "detail"),
    [
        ("https://photos.invalid/s/Abc123Def456Ghi", "the share's host photos.invalid does not"),
        ("s3+https://photos.invalid/bucket/", "the bucket's host photos.invalid does not"),
    ],
)
async def test_a_link_whose_host_does_not_resolve_is_refused(
    api: AsyncTestClient[Any], stack: Stack, link: str, detail: str
) -> None:
    response = await api.post("/imports", json={"url": link})
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(detail)


async def test_the_source_hint_judges_a_link_without_looking_its_host_up(
    api: AsyncTestClient[Any], stack: Stack
) -> None:
    # GET /sources/detect answers each keystroke of the web form: no DNS there.
    response = await api.get(
        "/sources/detect", params={"url": "https://photos.invalid/s/Abc123Def456Ghi"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["source"] == "nextcloud"
