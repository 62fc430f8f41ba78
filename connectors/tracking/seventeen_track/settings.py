"""What DropTrack keeps about one 17TRACK account."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.tracking.common import check_base_url, limiter_key

DEFAULT_BASE_URL = "https://api.17track.net/track/v2.2"
REQUESTS_PER_SECOND = 3.0  # per key; more answers HTTP 429


@dataclass(frozen=True)
class SeventeenTrackSettings:
    api_key: str  # the `17token`; it also signs pushes
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = REQUESTS_PER_SECOND
    timeout_seconds: float = 30.0
    verify: bool | str = True

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("17TRACK needs an API key (tracking.seventeen_track_key)")
        check_base_url("17TRACK", self.base_url)

    @property
    def limiter_key(self) -> str:
        return limiter_key("17track", self.api_key)

    def __repr__(self) -> str:  # never the key
        return f"SeventeenTrackSettings(base_url={self.base_url!r})"
