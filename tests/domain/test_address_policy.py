"""The notify_url policy the API and the worker share: syntax, and which addresses a webhook may
reach (public ones, and those WEBHOOK_ALLOWED_NETWORKS names)."""

import ipaddress

import pytest

from domain.address_policy import address_refusal, parse_networks
from domain.webhooks.address_policy import RefusedUrl, check_submitted_url, parse_notify_url

NONE_ALLOWED: tuple[ipaddress.IPv4Network, ...] = ()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("10.0.0.5", "a private address"),
        ("172.16.3.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("169.254.10.10", "a link-local address"),
        ("100.64.0.1", "a shared (CGNAT) address"),
        ("100.127.255.254", "a shared (CGNAT) address"),
        ("0.0.0.0", "the unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("::1", "a loopback address"),
        ("::", "the unspecified address"),
        ("fe80::1", "a link-local address"),
        ("fd12:3456::1", "a unique-local address"),
        ("ff02::1", "a multicast address"),
        ("fd00:ec2::254", "the cloud metadata address"),
    ],
)
def test_addresses_that_are_not_public_are_refused_with_their_kind(
    address: str, reason: str
) -> None:
    assert address_refusal(ipaddress.ip_address(address), NONE_ALLOWED) == reason


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("::ffff:127.0.0.1", "an IPv6 address of 127.0.0.1, a loopback address"),
        (
            "::ffff:169.254.169.254",
            "an IPv6 address of 169.254.169.254, the cloud metadata address",
        ),
        ("::ffff:10.1.2.3", "an IPv6 address of 10.1.2.3, a private address"),
        ("2002:a00:1::", "an IPv6 address of 10.0.0.1, a private address"),
    ],
)
def test_ipv6_addresses_that_carry_an_internal_ipv4_address_are_refused(
    address: str, reason: str
) -> None:
    assert address_refusal(ipaddress.ip_address(address), NONE_ALLOWED) == reason


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), NONE_ALLOWED) is None


def test_public_ipv4_mapped_address_is_allowed() -> None:
    assert address_refusal(ipaddress.ip_address("::ffff:8.8.8.8"), NONE_ALLOWED) is None


def test_the_allow_list_lets_named_networks_through_and_no_others() -> None:
    allowed = parse_networks(["127.0.0.1/32", "10.20.0.0/16", "fd00::/8"])
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), allowed) is None
    assert address_refusal(ipaddress.ip_address("10.20.30.40"), allowed) is None
    assert address_refusal(ipaddress.ip_address("fd00::5"), allowed) is None
    assert address_refusal(ipaddress.ip_address("::ffff:127.0.0.1"), allowed) is None
    assert address_refusal(ipaddress.ip_address("127.0.0.2"), allowed) == "a loopback address"
    assert address_refusal(ipaddress.ip_address("10.21.0.1"), allowed) == "a private address"
    assert address_refusal(ipaddress.ip_address("169.254.169.254"), allowed) is not None


def test_an_allow_list_entry_that_is_no_network_is_refused() -> None:
    with pytest.raises(ValueError, match="WEBHOOK_ALLOWED_NETWORKS: 'intranet' is not a network"):
        parse_networks(["intranet"], setting="WEBHOOK_ALLOWED_NETWORKS")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/hook", "must be an http or https URL"),
        ("example.com/hook", "must be an http or https URL"),
        ("https://user:secret@example.com/hook", "must not carry a user or password"),
        ("https:///hook", "has no host"),
        ("https://example.com/hook#part", "must not have a #fragment"),
        ("https://example.com/ hook", "must not contain spaces"),
        ("https://example.com:99999/hook", "not a valid URL"),
        ("https://example.com/" + "a" * 2048, "at most 2048"),
    ],
)
def test_urls_of_the_wrong_shape_are_refused_saying_why(url: str, problem: str) -> None:
    with pytest.raises(RefusedUrl, match=problem):
        parse_notify_url(url)


def test_a_url_keeps_its_path_query_and_port_for_the_request() -> None:
    target = parse_notify_url("https://Hooks.Example.com:8443/in/import?team=7")
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 8443)
    assert target.target == "/in/import?team=7"
    assert target.host_header == "hooks.example.com:8443"
    assert parse_notify_url("http://example.com").host_header == "example.com"
    assert parse_notify_url("http://[::1]:8080/").host_header == "[::1]:8080"


async def test_an_address_literal_is_refused_naming_the_allow_list() -> None:
    with pytest.raises(RefusedUrl) as refused:
        await check_submitted_url("http://169.254.169.254/latest/meta-data", NONE_ALLOWED)
    assert str(refused.value) == (
        "refused: 169.254.169.254 is the cloud metadata address; "
        "WEBHOOK_ALLOWED_NETWORKS allows none"
    )


async def test_a_name_is_judged_by_the_addresses_it_resolves_to() -> None:
    with pytest.raises(RefusedUrl, match=r"refused: localhost resolves to .*a loopback address"):
        await check_submitted_url("http://localhost:8080/hook", parse_networks(["10.0.0.0/8"]))


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(RefusedUrl, match="does not resolve"):
        await check_submitted_url("https://no-such-host.invalid/hook", NONE_ALLOWED)


async def test_a_host_no_dns_could_hold_is_refused_not_an_error() -> None:
    with pytest.raises(RefusedUrl, match="is not a valid host name"):
        await check_submitted_url("https://" + "a" * 64 + ".example.com/hook", NONE_ALLOWED)
