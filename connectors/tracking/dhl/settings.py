"""What DropTrack keeps about one DHL API key."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.tracking.common import check_base_url, limiter_key

DEFAULT_BASE_URL = "https://api-eu.dhl.com/track"
# The initial service level: 250 calls a day, at most 1 a second (FACTS "Rate limits").
REQUESTS_PER_SECOND = 1.0
DAILY_CALLS = 250


@dataclass(frozen=True)
class DhlSettings:
    api_key: str  # the `DHL-API-Key`
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = REQUESTS_PER_SECOND
    daily_calls: int = DAILY_CALLS
    timeout_seconds: float = 30.0
    verify: bool | str = True

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("DHL needs an API key (tracking.dhl_key)")
        check_base_url("DHL", self.base_url)

    @property
    def limiter_key(self) -> str:
        return limiter_key("dhl", self.api_key)

    def __repr__(self) -> str:  # never the key
        return f"DhlSettings(base_url={self.base_url!r})"
