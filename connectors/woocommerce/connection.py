"""The connection test a store owner runs after entering keys: what is wrong, in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from connectors.http import TransientHttpError
from connectors.store_base import StoreAccess
from connectors.url_safety import UnsafeURLError, check_outbound_url
from connectors.woocommerce.capabilities import Capabilities, RestApiMissing
from connectors.woocommerce.client import StoreRefused
from connectors.woocommerce.connector import build
from core.errors import PermanentError

READ_ONLY_KEY = (
    "The API key can only read: WooCommerce refused DropTrack a write with it, so tracking "
    "could never be added to orders. In WooCommerce > Settings > Advanced > REST API, give "
    "the key Read/Write permission (or create a new Read/Write key) and connect again.")
HTTPS_REQUIRED = (
    "The store address starts with http://. DropTrack sends API keys only over HTTPS: use "
    "your store's https:// address (the site needs a valid SSL certificate).")


@dataclass(frozen=True)
class ConnectionReport:
    problems: list[str] = field(default_factory=list)
    capabilities: Capabilities | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problems:
            return "\n".join(self.problems)
        mode = self.capabilities.mode if self.capabilities else "unknown"
        return f"Connected: orders can be read and tracking written ({mode})."


def check_connection(access: StoreAccess) -> ConnectionReport:
    try:
        check_outbound_url(access.domain, allow_loopback_http=access.allow_loopback_http)
    except UnsafeURLError as unsafe:
        http = urlsplit(access.domain).scheme == "http"
        return ConnectionReport([HTTPS_REQUIRED if http else str(unsafe)])
    try:
        connector = build(access)
    except PermanentError as failure:
        return ConnectionReport([str(failure)])
    try:
        found = connector.capabilities(fresh=True)
        connector.client.get("orders", params={"per_page": 1, "_fields": "id"},
                             what="reading orders")
        try:
            # An empty batch writes nothing, but WooCommerce checks the key may write first.
            connector.client.post("orders/batch", {}, what="checking that the key may write")
        except StoreRefused as refused:
            if refused.status == 401:  # the same key just read
                return ConnectionReport([READ_ONLY_KEY])
            raise
    except RestApiMissing as missing:
        return ConnectionReport([str(missing)])
    except TransientHttpError as unreachable:
        return ConnectionReport([f"{access.domain} could not be reached right now "
                                 f"({unreachable}); try again in a few minutes."])
    except PermanentError as failure:
        return ConnectionReport([str(failure)])
    finally:
        connector.close()
    return ConnectionReport(capabilities=found)
