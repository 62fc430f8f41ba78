"""Job kinds and their handlers. A handler must be idempotent: it may run more than once."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from integration.jobs.outbox import ClaimedJob, PermanentError
from integration.kernel.runtime import Runtime

JobHandler = Callable[[Runtime, ClaimedJob], None]

_HANDLERS: dict[str, JobHandler] = {}


def job(kind: str) -> Callable[[JobHandler], JobHandler]:
    """Register a handler for a job kind."""

    def register(handler: JobHandler) -> JobHandler:
        if kind in _HANDLERS and _HANDLERS[kind] is not handler:
            raise ValueError(f"job kind {kind!r} is already registered")
        _HANDLERS[kind] = handler
        return handler

    return register


# Modules that register handlers with `job` when imported. Imported by name, on first use:
# the rooms that define jobs (engine, sync) sit above this one and import it.
HANDLER_MODULES = (
    "integration.engine.forwarding",
    "integration.engine.notifications",
    "integration.engine.redaction",
    "integration.sync.deliveries",
    "integration.sync.shopify.fulfillment_service",
    "integration.sync.shopify.reconcile",
    "integration.sync.shopify.tokens",
    "integration.sync.shopify.uninstall_check",
    "integration.sync.shopify.webhooks",
    "integration.sync.suppliers.csv_exchange",
    "integration.sync.suppliers.tokens",
    "integration.sync.woocommerce.deleted",
    "integration.sync.tracking.polling",
    "integration.sync.tracking.registration",
    "integration.sync.woocommerce.reconcile",
    "integration.sync.woocommerce.statuses",
    "integration.sync.woocommerce.webhooks",
    "integration.sync.writeback",
)


def _load_builtin_handlers() -> None:
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def handler_for(kind: str) -> JobHandler:
    _load_builtin_handlers()
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise PermanentError(f"no handler for job kind {kind!r}") from None


def registered_kinds() -> list[str]:
    _load_builtin_handlers()
    return sorted(_HANDLERS)
