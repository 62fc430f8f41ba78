"""SSRF guard for URLs users configure."""

from __future__ import annotations

import pytest

from connectors.url_safety import UnsafeURLError, check_outbound_url


def resolver(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda _host, _port: list(addresses)


@pytest.mark.parametrize("address", [
    "10.0.0.5", "172.16.3.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "0.0.0.0",  # noqa: S104
    "100.64.0.1", "::1", "fe80::1", "fd00::1", "::ffff:10.0.0.1", "224.0.0.1", "240.0.0.1",
])
def test_private_and_reserved_addresses_are_refused(address: str) -> None:
    with pytest.raises(UnsafeURLError, match="private or reserved"):
        check_outbound_url("https://supplier.example/api", resolver=resolver(address))


def test_one_private_address_among_public_ones_is_refused() -> None:
    with pytest.raises(UnsafeURLError):
        check_outbound_url("https://supplier.example/",
                           resolver=resolver("93.184.216.34", "10.1.2.3"))


def test_public_https_is_allowed() -> None:
    url = "https://supplier.example/v1"
    assert check_outbound_url(url, resolver=resolver("93.184.216.34", "2606:2800::1")) == url


@pytest.mark.parametrize(("url", "message"), [
    ("http://supplier.example/", "only https"),
    ("ftp://supplier.example/", "only https"),
    ("https:///path", "no host"),
    ("https://user:pw@supplier.example/", "credentials"),
    ("https://supplier.example:99999/", "port"),
])
def test_malformed_or_insecure_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(UnsafeURLError, match=message):
        check_outbound_url(url, resolver=resolver("93.184.216.34"))


def test_loopback_http_only_when_allowed() -> None:
    url = "http://127.0.0.1:8099/v1"
    with pytest.raises(UnsafeURLError):
        check_outbound_url(url)
    assert check_outbound_url(url, allow_loopback_http=True) == url
    assert check_outbound_url("http://localhost:1/", allow_loopback_http=True)
    with pytest.raises(UnsafeURLError):
        check_outbound_url("http://supplier.example/", allow_loopback_http=True,
                           resolver=resolver("93.184.216.34"))


def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(UnsafeURLError, match="does not resolve"):
        check_outbound_url("https://no-such-host.invalid/")


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "0177.0.0.1", "127.1",
                                  "[::ffff:127.0.0.1]", "localhost"])
def test_numeric_and_named_forms_of_loopback_are_refused(host: str) -> None:
    with pytest.raises(UnsafeURLError, match=r"private or reserved|does not resolve"):
        check_outbound_url(f"https://{host}/orders")


def test_a_name_resolving_to_a_private_address_is_refused() -> None:
    with pytest.raises(UnsafeURLError, match=r"supplier\.example resolves to 10\.0\.0\.7"):
        check_outbound_url("https://supplier.example/", resolver=resolver("10.0.0.7"))
