"""A protocol-faithful stand-in for the AfterShip Tracking API (`droptrack sandbox aftership`).

Built from ../shared/contracts/trackers/aftership/FACTS.md: `as-api-key` auth, the
`{meta: {code, message, type}, data}` envelope, the documented meta codes (4001, 4003, 4004,
4005, 4007, 4008, 4010, 4012, 4013, 4016, 401, 429), per-endpoint rate limits (HTTP 429 with
X-RateLimit-*), and signed webhooks (`aftership-hmac-sha256` = base64 HMAC-SHA256 of the raw
body with the webhook secret) playing the shared parcel lives (sandboxes/trackers/timelines).
What the contract leaves uncertain is listed in `state`.

``build(clock, ...)`` returns the Flask app; its state is ``app.extensions["sandbox"]``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from core.clock import Clock
from sandboxes.aftership.app import PREFIX, create_app
from sandboxes.aftership.state import DEFAULT_API_KEY, DEFAULT_WEBHOOK_SECRET, AfterShipState

__all__ = ["DEFAULT_API_KEY", "DEFAULT_WEBHOOK_SECRET", "PREFIX", "AfterShipState", "build"]


def build(clock: Clock, *, public_url: str = "", api_key: str = DEFAULT_API_KEY,
          webhook_secret: str = DEFAULT_WEBHOOK_SECRET, webhook_url: str = "",
          **options: Any) -> Flask:
    if options:
        raise TypeError(f"unknown aftership sandbox options: {', '.join(sorted(options))}")
    state = AfterShipState(clock, api_keys={api_key}, webhook_secret=webhook_secret,
                           webhook_url=webhook_url)
    return create_app(state)
