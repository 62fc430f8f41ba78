"""DropTrack's reference supplier: the supplier protocol (docs/supplier-protocol.md) served
locally with a scenario engine (stock, address rules, carrier timelines) and fault injection.

``build(clock, public_url=...)`` returns the Flask app; its state (seed, inspect, reset, push)
is ``app.extensions["sandbox"]``, a :class:`SupplierState`.

Modules: ``app`` (routes, auth, rate limit, faults on requests), ``state`` (orders, stock,
idempotency, seeding), ``timelines`` (scenarios and carrier events), ``carriers`` (tracking
numbers and check digits), ``addresses`` (address rules), ``validation`` (request bodies),
``views`` (JSON shapes), ``faults``, ``ratelimit``, ``push`` (signed callbacks with retries).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask

from core.clock import Clock
from sandboxes.supplier.app import create_supplier_app
from sandboxes.supplier.faults import FaultKind
from sandboxes.supplier.state import (
    DEFAULT_API_KEY,
    DEFAULT_CATALOG,
    OrderStatus,
    SupplierState,
)
from sandboxes.supplier.timelines import Scenario

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CATALOG",
    "FaultKind",
    "OrderStatus",
    "Scenario",
    "SupplierState",
    "build",
]


def build(clock: Clock, *, public_url: str, api_keys: Iterable[str] = (DEFAULT_API_KEY,),
          catalog: Mapping[str, int] | None = None, seed: int | str = 0,
          rate_limit_per_second: float | None = 10.0, rate_limit_burst: int | None = None,
          scenario_weights: Mapping[Scenario, int] | None = None,
          background_push: bool = True, push_interval_seconds: float = 1.0,
          push_timeout_seconds: float = 5.0, **options: Any) -> Flask:
    """The reference supplier app.

    ``background_push`` starts a thread (on the first webhook subscription) that runs
    ``deliver_due()`` every ``push_interval_seconds``; tests turn it off and call
    ``app.extensions["sandbox"].deliver_due()`` themselves.
    """
    if options:
        raise TypeError(f"unknown supplier sandbox options: {', '.join(sorted(options))}")
    state = SupplierState(
        clock, public_url=public_url, api_keys=api_keys, catalog=catalog, seed=seed,
        rate_limit_per_second=rate_limit_per_second, rate_limit_burst=rate_limit_burst,
        scenario_weights=scenario_weights, background_push=background_push,
        push_interval_seconds=push_interval_seconds, push_timeout_seconds=push_timeout_seconds,
    )
    return create_supplier_app(state)
