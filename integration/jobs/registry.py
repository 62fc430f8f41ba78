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
    import integration.engine.redaction
    import integration.jobs.processing
    import integration.sync.shopify.install
    import integration.sync.shopify.uninstall_check
    import integration.sync.woocommerce.store
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
