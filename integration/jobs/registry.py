"""Job kinds and their handlers. A handler must be idempotent: it may run more than once."""

from __future__ import annotations

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


def _load_builtin_handlers() -> None:
    # Imported here, not at the top: these modules register themselves with `job` above.
    import integration.engine.forwarding
    import integration.engine.notifications
    import integration.jobs.processing
    import integration.sync.shopify.fulfillment_service
    import integration.sync.shopify.reconcile
    import integration.sync.shopify.tokens
    import integration.sync.shopify.webhooks
    import integration.sync.woocommerce.deleted
    import integration.sync.woocommerce.reconcile
    import integration.sync.woocommerce.statuses
    import integration.sync.woocommerce.webhooks
    import integration.sync.writeback  # noqa: F401


def handler_for(kind: str) -> JobHandler:
    _load_builtin_handlers()
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise PermanentError(f"no handler for job kind {kind!r}") from None


def registered_kinds() -> list[str]:
    _load_builtin_handlers()
    return sorted(_HANDLERS)
