"""Who is asking: the client's address, through the reverse proxies the owner trusts.

Behind a reverse proxy every request comes from the proxy (often 127.0.0.1). With
`[server] trusted_proxies` (networks) or `proxy_hops` (how many proxies stand in front),
the client is read from `X-Forwarded-For`: the right-most address not itself a trusted
proxy (or, with hops alone, the one that many entries from the right). A peer that is not a
trusted proxy is the client, whatever it says in the header. Without either setting, loopback
peers are not taken as "this machine" when `public_url` is not loopback: a local proxy would
make every visitor look local.
"""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from integration.base.config import Settings

log = logging.getLogger("droptrack.web")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_ENVIRON_KEY = "droptrack.client_address"
_warned: set[str] = set()


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address | None,
             networks: tuple[Network, ...]) -> bool:
    return address is not None and any(address in network for network in networks)


def behind_proxy(settings: Settings) -> bool:
    return bool(settings.server.trusted_proxies) or settings.server.proxy_hops > 0


def client_address(environ: dict[str, Any], settings: Settings) -> str:
    """The client's address for this request (cached on the request)."""
    cached = environ.get(_ENVIRON_KEY)
    if isinstance(cached, str):
        return cached
    peer = str(environ.get("REMOTE_ADDR") or "unknown")
    found = _resolve(peer, str(environ.get("HTTP_X_FORWARDED_FOR") or ""), settings)
    environ[_ENVIRON_KEY] = found
    return found


def _resolve(peer: str, forwarded: str, settings: Settings) -> str:
    server = settings.server
    if not behind_proxy(settings):
        if forwarded and is_loopback(peer) and "unset" not in _warned:
            _warned.add("unset")
            log.warning("requests arrive from %s with X-Forwarded-For: set [server] "
                        "trusted_proxies so that limits and /metrics see the real client", peer)
        return peer
    networks = _networks(tuple(server.trusted_proxies))
    if networks and not _trusted(_address(peer), networks):
        return peer  # not one of our proxies: its header proves nothing
    hops = [entry.strip() for entry in forwarded.split(",") if entry.strip()][-64:]
    if networks:
        for entry in reversed(hops):
            address = _address(entry)
            if address is None:
                return peer  # a garbled header: fall back to the proxy itself
            if not _trusted(address, networks):
                return str(address)
        return str(_address(hops[0])) if hops else peer
    if len(hops) < server.proxy_hops:
        return peer
    address = _address(hops[-server.proxy_hops])
    return str(address) if address is not None else peer


def reached_over_https(environ: dict[str, Any], settings: Settings) -> bool:
    """Whether this request reached DropTrack over https: its own TLS, or a trusted reverse
    proxy that says so in `X-Forwarded-Proto` (the nearest proxy's entry, the right-most).
    The header of a peer that is not a trusted proxy proves nothing."""
    if environ.get("wsgi.url_scheme") == "https":
        return True
    if not behind_proxy(settings):
        return False
    networks = _networks(tuple(settings.server.trusted_proxies))
    if networks and not _trusted(_address(str(environ.get("REMOTE_ADDR") or "")), networks):
        return False
    proto = str(environ.get("HTTP_X_FORWARDED_PROTO") or "").split(",")[-1]
    return proto.strip().lower() == "https"


def is_loopback(text: str) -> bool:
    address = _address(text)
    return address is not None and address.is_loopback


def public_url_is_loopback(settings: Settings) -> bool:
    host = urlsplit(settings.app.public_url).hostname or ""
    return host == "localhost" or is_loopback(host)


def local_client(environ: dict[str, Any], settings: Settings) -> bool:
    """Whether the request comes from this machine itself, and may be believed to: behind a
    trusted proxy, the resolved client is loopback; without a proxy setting, only when
    DropTrack is not published beyond loopback anyway."""
    if behind_proxy(settings):
        return is_loopback(client_address(environ, settings))
    return is_loopback(str(environ.get("REMOTE_ADDR") or "")) and public_url_is_loopback(settings)
