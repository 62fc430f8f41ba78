"""A protocol-faithful stand-in for AliExpress's Open Platform DS APIs
(`droptrack sandbox aliexpress`).

Built from ../shared/contracts/suppliers/aliexpress/FACTS.md: the OAuth code flow and the
token APIs, HMAC-SHA256 signatures checked on every call (a bad one is refused), the
envelopes and `error_response`, the QPS limit and its 1-second ban, products with SKUs and
stock, freight per country, orders with `out_order_id`, their statuses, split parcels and
tracking numbers the 17TRACK sandbox can follow (Cainiao `LP...`). What the contract leaves
uncertain is listed in `state`.

``build(clock, public_url=...)`` returns the Flask app; its state is
``app.extensions["sandbox"]`` (:class:`AliExpressState`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from core.clock import Clock
from sandboxes.aliexpress.app import create_app
from sandboxes.aliexpress.state import (
    DEFAULT_ACCOUNT,
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    TIMESTAMP_TOLERANCE,
    AliExpressState,
)

__all__ = ["DEFAULT_ACCOUNT", "DEFAULT_APP_KEY", "DEFAULT_APP_SECRET", "TIMESTAMP_TOLERANCE",
           "AliExpressState", "build"]


def build(clock: Clock, *, public_url: str = "", app_key: str = DEFAULT_APP_KEY,
          app_secret: str = DEFAULT_APP_SECRET, qps: int | None = 20,
          repeat_mode: str = "refuse", auto_ship_after: timedelta | None = None,
          timestamp_tolerance: timedelta = TIMESTAMP_TOLERANCE, **options: Any) -> Flask:
    if options:
        raise TypeError(f"unknown aliexpress sandbox options: {', '.join(sorted(options))}")
    state = AliExpressState(clock, apps={app_key: app_secret}, qps=qps,
                            repeat_mode=repeat_mode, auto_ship_after=auto_ship_after,
                            timestamp_tolerance=timestamp_tolerance)
    return create_app(state)
