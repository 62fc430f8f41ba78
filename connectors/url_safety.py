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


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


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
