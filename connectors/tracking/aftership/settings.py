"""What DropTrack keeps about one AfterShip account."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.tracking.common import check_base_url, limiter_key

DEFAULT_BASE_URL = "https://api.aftership.com/tracking/2026-07"
# The strictest per-endpoint limit DropTrack uses (GET/PUT/DELETE /trackings/:id: 5 a second;
# POST /trackings allows 20, GET /trackings 6): one budget for all keeps every endpoint safe.
REQUESTS_PER_SECOND = 5.0


@dataclass(frozen=True)
class AfterShipSettings:
    api_key: str  # the `as-api-key`
    webhook_secret: str  # signs webhooks (Settings -> Webhooks in AfterShip's admin)
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = REQUESTS_PER_SECOND
    timeout_seconds: float = 30.0
    verify: bool | str = True

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("AfterShip needs an API key (tracking.aftership_key)")
        check_base_url("AfterShip", self.base_url)

    @property
    def limiter_key(self) -> str:
        return limiter_key("aftership", self.api_key)

    def __repr__(self) -> str:  # never the key or the secret
        return f"AfterShipSettings(base_url={self.base_url!r})"
