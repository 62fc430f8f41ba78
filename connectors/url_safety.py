"""Outbound URLs a user configured (supplier endpoints, store URLs): guard against SSRF.

https only; every address the host resolves to must be public: no private, loopback,
link-local (cloud metadata lives there), multicast, reserved or unspecified addresses.
Plain http to loopback is allowed only when the caller says so (sandbox and demo mode).
Callers also send these requests with redirects disabled (connectors/http.py does).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


class UnsafeURLError(ValueError):
    """The URL must not be called; the message says why in plain words."""


def resolve_host(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeURLError(f"{host}: the host name does not resolve ({exc.strerror})") from None
    return sorted({str(info[4][0]) for info in infos})


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known prefix: the last 32 bits are IPv4
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # local-use translation: never public
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # SIIT ::ffff:0:a.b.c.d


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 transition form carries (mapped, translated, compatible,
    NAT64, 6to4, Teredo): each must be public too, or the IPv6 form is a way around."""
    found: list[ipaddress.IPv4Address] = []
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in NAT64 or address in IPV4_TRANSLATED or (
            address in IPV4_COMPATIBLE and int(address) > 1):
        found.append(low32)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def _is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        if address in LOCAL_NAT64:
            return False
        embedded = embedded_ipv4(address)
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if embedded and not all(_is_public(inner) for inner in embedded):
            return False
        if address in NAT64 and embedded:
            return True  # translated to the public IPv4 address it carries
        if isinstance(address, ipaddress.IPv6Address) and address in IPV4_COMPATIBLE:
            return False
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """The address a host name spells out directly, in any form a resolver accepts
    (dotted, one number, octal or hex parts such as 0177.1 or 0x7f000001), else None."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host) and any(
            c.isdigit() for c in host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def check_url_form(url: str, *, allow_loopback_http: bool = False) -> str:
    """What can be judged without DNS (for URLs stored now and called later, the CLI
    included): https, no credentials, a valid port, and no private address spelled out.
    `check_outbound_url` checks the resolved addresses again before every call."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURLError(f"{url!r}: only https:// URLs with a host name are allowed")
    if parts.username or parts.password:
        raise UnsafeURLError(f"{url!r}: credentials do not belong in the URL")
    try:
        parts.port  # noqa: B018 (raises for a bad port)
    except ValueError:
        raise UnsafeURLError(f"{url!r}: the port is not a number between 1 and 65535") from None
    address = literal_address(parts.hostname)
    if allow_loopback_http and (parts.hostname == "localhost" or (
            address is not None and address.is_loopback)):
        return url
    if parts.scheme != "https":
        raise UnsafeURLError(f"{url!r}: only https:// URLs are allowed")
    if address is not None and not _is_public(address):
        raise UnsafeURLError(f"{parts.hostname} is {address}, a private or reserved address: "
                             "DropTrack only calls public addresses")
    return url


def check_outbound_url(url: str, *, allow_loopback_http: bool = False,
                       resolver: Resolver = resolve_host) -> str:
    """Return the URL unchanged when it is safe to call, else raise UnsafeURLError."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http"):
        raise UnsafeURLError(f"{url!r}: only https:// URLs are allowed")
    if not parts.hostname:
        raise UnsafeURLError(f"{url!r}: the URL has no host name")
    if parts.username or parts.password:
        raise UnsafeURLError(f"{url!r}: credentials do not belong in the URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeURLError(f"{url!r}: the port is not a number between 1 and 65535") from None
    if parts.scheme != "https" and not allow_loopback_http:
        raise UnsafeURLError(f"{url!r}: only https:// URLs are allowed")
    addresses = [ipaddress.ip_address(a.split("%")[0])
                 for a in resolver(parts.hostname, port)]
    if not addresses:
        raise UnsafeURLError(f"{parts.hostname}: the host name does not resolve")
    all_loopback = all(a.is_loopback for a in addresses)
    if allow_loopback_http and all_loopback:
        return url
    if parts.scheme != "https":
        raise UnsafeURLError(f"{url!r}: only https:// URLs are allowed")
    for address in addresses:
        if not _is_public(address):
            raise UnsafeURLError(
                f"{parts.hostname} resolves to {address}, a private or reserved address: "
                "DropTrack only calls public addresses"
            )
    return url
