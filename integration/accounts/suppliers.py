"""Configured suppliers: validated endpoints, encrypted keys, the connector for each kind
(through the kind registry, integration/accounts/supplier_kinds.py). The reference REST
supplier's kind is defined here."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from connectors.suppliers.base import SupplierConnector
from connectors.suppliers.rest.client import RestSupplier
from connectors.suppliers.rest.settings import RestSupplierSettings
from connectors.url_safety import UnsafeURLError, check_outbound_url
from core.errors import RetryableError
from integration.accounts.supplier_kinds import SupplierError as SupplierError
from integration.accounts.supplier_kinds import SupplierKind, kind_of, save_new_supplier
from integration.kernel.runtime import Runtime
from integration.limits.circuits import tag
from integration.storage.models import Supplier

REST = "rest"


def add_rest_supplier(runtime: Runtime, name: str, base_url: str, api_key: str,
                      webhook_secret: str | None = None) -> int:
    name = name.strip()
    if not name:
        raise SupplierError("the supplier needs a name")
    if not api_key.strip():
        raise SupplierError("the API key must not be empty")
    try:
        url = check_outbound_url(base_url.rstrip("/"),
                                 allow_loopback_http=runtime.settings.loopback_http_allowed)
    except UnsafeURLError as exc:
        raise SupplierError(str(exc)) from None
    now = runtime.clock.now()
    supplier = Supplier(
        name=name, kind=REST, active=True, settings={"base_url": url}, created_at=now,
        credentials_encrypted=runtime.secrets.encrypt_json({"api_key": api_key.strip()}),
        webhook_secret_encrypted=runtime.secrets.encrypt(webhook_secret)
        if webhook_secret else None,
    )
    return save_new_supplier(runtime, supplier, "cli")


def connector_for(runtime: Runtime, supplier: Supplier) -> SupplierConnector:
    """A connector for a supplier row, built by its kind (checked before every use)."""
    kind = kind_of(supplier.kind)
    if kind.connect is None:
        raise SupplierError(f"supplier {supplier.id} is of kind {supplier.kind!r}, "
                            "which has no connector (its orders go out in batches)")
    if kind.check is not None:
        kind.check(runtime, supplier)
    return kind.connect(runtime, supplier)


def _check_rest(runtime: Runtime, supplier: Supplier) -> None:
    try:
        check_outbound_url(str(supplier.settings.get("base_url", "")),
                           allow_loopback_http=runtime.settings.loopback_http_allowed)
    except UnsafeURLError as exc:
        raise SupplierError(f"supplier {supplier.name}: {exc}") from None


def _connect_rest(runtime: Runtime, supplier: Supplier) -> SupplierConnector:
    credentials = runtime.secrets.decrypt_json(supplier.credentials_encrypted or "")
    base_url = str(supplier.settings.get("base_url", ""))
    timeout = float(supplier.settings.get("timeout_seconds", 15.0))
    from integration.limits.choice import supplier_limiter  # this process's (or shared) limits

    return RestSupplier(RestSupplierSettings(base_url=base_url, timeout_seconds=timeout,
                                             api_key=str(credentials["api_key"])),
                        limiter=supplier_limiter(runtime.settings),
                        limit_key=f"supplier:{supplier.id}",
                        requests_per_second=float(supplier.settings.get("requests_per_second",
                                                                        0.0)))


KIND = SupplierKind(name=REST, label="Supplier API (DropTrack protocol)", connect=_connect_rest,
                    check=_check_rest,
                    describe=lambda supplier: str(supplier.settings.get("base_url", "")))


class _ThreadConnectors(threading.local):
    def __init__(self) -> None:
        # supplier id -> (what the connector was built from, its limiter, the connector)
        self.by_supplier: dict[int, tuple[tuple[object, ...], object, SupplierConnector]] = {}


_reused = _ThreadConnectors()


@contextmanager
def supplier_connection(runtime: Runtime, supplier: Supplier) -> Iterator[SupplierConnector]:
    """This thread's connector for a supplier, kept from one job to the next so that its
    keep-alive connections (and TLS sessions) are reused instead of opened for every order.

    Rebuilt when the supplier's settings or key change; the URL is still checked on every use
    (a host that now resolves to a private address is refused before any request).
    """
    kind = kind_of(supplier.kind)
    if kind.check is not None:
        kind.check(runtime, supplier)
    from integration.limits.choice import supplier_limiter

    limiter = supplier_limiter(runtime.settings)
    built_from = (supplier.kind, supplier.credentials_encrypted,
                  json.dumps(supplier.settings, sort_keys=True, default=str),
                  runtime.settings.loopback_http_allowed)
    cached = _reused.by_supplier.get(supplier.id)
    if cached is not None and cached[0] == built_from and cached[1] is limiter:
        connector = cached[2]
    else:
        connector = connector_for(runtime, supplier)  # (checks once more: cheap)
        _reused.by_supplier[supplier.id] = (built_from, limiter, connector)
        if cached is not None:
            cached[2].close()
    try:
        yield connector
    except RetryableError as exc:  # the supplier is (maybe) down: its circuit counts this
        tag(exc, f"supplier:{supplier.id}")
        raise
