"""Nextcloud / ownCloud / oCIS share links: the forms people paste, on any host, and hosts the
address policy refuses before anything is fetched."""

import pytest

from domain.sources.nextcloud import NextcloudShare, check_share_host, parse_link
from domain.sources.registry import InvalidLink, load_registry


@pytest.mark.parametrize(
    ("url", "folder_id", "base_url"),
    [
        (
            "https://cloud.example.com/s/AbCd3fGh1jKl5mN",
            "cloud.example.com/s/AbCd3fGh1jKl5mN",
            "https://cloud.example.com",
        ),
        (
            "https://cloud.example.com/index.php/s/tok/",
            "cloud.example.com/s/tok",
            "https://cloud.example.com",
        ),
        (
            "https://example.org/nextcloud/index.php/s/tok/download",
            "example.org/nextcloud/s/tok",
            "https://example.org/nextcloud",
        ),
        (
            "http://files.example.net:8080/s/tok",
            "files.example.net:8080/s/tok",
            "http://files.example.net:8080",
        ),
        ("https://ocis.example.com/#/s/tok", "ocis.example.com/s/tok", "https://ocis.example.com"),
    ],
)
def test_every_share_link_form_gives_the_server_and_token(
    url: str, folder_id: str, base_url: str
) -> None:
    share = parse_link(url)
    assert (share.folder_id, share.base_url, share.token, share.path) == (
        folder_id,
        base_url,
        folder_id.rsplit("/", 1)[1],
        "/",
    )


def test_a_link_opened_on_a_subfolder_imports_that_subfolder() -> None:
    share = parse_link("https://cloud.example.com/s/tok?path=%2F2024%2FSummer")
    assert share == NextcloudShare(
        "cloud.example.com/s/tok?path=/2024/Summer",
        "https://cloud.example.com",
        "tok",
        "/2024/Summer",
    )


def test_the_registry_detects_a_share_on_any_host_after_the_sources_owning_theirs() -> None:
    registry = load_registry()
    assert registry.detect("https://photos.example.com/s/tok")[0].name == "nextcloud"
    assert registry.detect("https://www.dropbox.com/sh/abc/def")[0].name == "dropbox"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://127.0.0.1/s/tok", "loopback"),
        ("https://localhost:8080/s/tok", "loopback"),
        ("http://169.254.169.254/s/tok", "cloud metadata"),
        ("http://10.1.2.3/s/tok", "private"),
        ("http://[::ffff:192.168.0.1]/s/tok", "private"),
        ("https://user:pw@cloud.example.com/s/tok", "user or password"),
        ("ftp://cloud.example.com/s/tok", "http or https"),
        ("https://cloud.example.com/s/t%20k", "token"),
        ("https://cloud.example.com/s/tok?path=/../x", "outside the share"),
    ],
)
def test_a_link_that_cannot_be_read_or_reaches_inside_is_refused_with_a_reason(
    url: str, message: str
) -> None:
    with pytest.raises(InvalidLink, match=message):
        parse_link(url)


def test_allowed_networks_let_a_share_inside_ones_own_network_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEXTCLOUD_ALLOWED_NETWORKS", "10.0.0.0/8, 127.0.0.0/8")
    assert parse_link("http://10.1.2.3/s/tok").base_url == "http://10.1.2.3"
    with pytest.raises(InvalidLink, match=r"allows only 10\.0\.0\.0/8, 127\.0\.0\.0/8"):
        parse_link("http://192.168.1.1/s/tok")


async def test_the_api_s_check_resolves_a_share_s_host_and_names_the_setting_that_allows_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the registry's check_locator does once the link parsed: `localhost` stands for any
    # name that resolves to an internal address.
    share = NextcloudShare("localhost/s/tok", "https://localhost", "tok")
    with pytest.raises(
        InvalidLink,
        match=r"^refused: localhost resolves to .*, a loopback address; "
        r"NEXTCLOUD_ALLOWED_NETWORKS allows none$",
    ):
        await check_share_host(share)
    monkeypatch.setenv("NEXTCLOUD_ALLOWED_NETWORKS", "127.0.0.0/8, ::1/128")
    await check_share_host(share)
    missing = NextcloudShare("photos.invalid/s/tok", "https://photos.invalid", "tok")
    with pytest.raises(InvalidLink, match=r"^the share.s host photos\.invalid does not resolve"):
        await check_share_host(missing)
