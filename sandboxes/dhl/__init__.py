"""A protocol-faithful stand-in for DHL Shipment Tracking - Unified API
(`droptrack sandbox dhl`).

Built from ../shared/contracts/trackers/dhl/FACTS.md: `DHL-API-Key`, the `shipments` answer
shaped as DHL's OpenAPI example, problem+json errors (400, 401, 404, 429, 5xx), 1 call a
second, 250 calls a day refused with 429 until 00:00 GMT, and parcels following the shared
lives (sandboxes/trackers/timelines). Pull only, as DHL is. What is uncertain is in `state`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from core.clock import Clock
from sandboxes.dhl.app import PREFIX, create_app
from sandboxes.dhl.state import DAILY_CALLS, DEFAULT_API_KEY, DhlState

__all__ = ["DAILY_CALLS", "DEFAULT_API_KEY", "PREFIX", "DhlState", "build"]


def build(clock: Clock, *, public_url: str = "", api_key: str = DEFAULT_API_KEY,
          daily_calls: int = DAILY_CALLS, rate_limit_per_second: float | None = 1.0,
          **options: Any) -> Flask:
    if options:
        raise TypeError(f"unknown dhl sandbox options: {', '.join(sorted(options))}")
    return create_app(DhlState(clock, api_keys={api_key}, daily_calls=daily_calls,
                               rate_limit_per_second=rate_limit_per_second))
