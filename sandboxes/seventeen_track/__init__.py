"""A protocol-faithful stand-in for the 17TRACK Tracking API v2.2 (`droptrack sandbox 17track`).

Built from ../shared/contracts/trackers/17track/FACTS.md: `17token` auth, the
`{code, data: {accepted, rejected}}` envelope with per-number rejections, the documented error
codes, the 40-number limit, quota (1 credit per registration, refused with -18019908 when gone),
3 requests a second (HTTP 429), and signed pushes (`sign` = sha256(body + "/" + key)) with
realistic parcel lives (`timelines`). What the contract leaves uncertain is listed in `state`.

``build(clock, public_url=...)`` returns the Flask app; its state is
``app.extensions["sandbox"]`` (:class:`SeventeenTrackState`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from core.clock import Clock
from sandboxes.seventeen_track.app import create_app
from sandboxes.seventeen_track.state import DEFAULT_API_KEY, SeventeenTrackState
from sandboxes.seventeen_track.timelines import SCENARIOS

__all__ = ["DEFAULT_API_KEY", "SCENARIOS", "SeventeenTrackState", "build"]


def build(clock: Clock, *, public_url: str = "", api_key: str = DEFAULT_API_KEY,
          quota_total: int = 100, rate_limit_per_second: float | None = 3.0,
          webhook_url: str = "", **options: Any) -> Flask:
    if options:
        raise TypeError(f"unknown 17track sandbox options: {', '.join(sorted(options))}")
    state = SeventeenTrackState(clock, api_keys={api_key}, quota_total=quota_total,
                                rate_limit_per_second=rate_limit_per_second,
                                webhook_url=webhook_url)
    return create_app(state)
