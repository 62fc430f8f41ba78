"""What DropTrack keeps about one 17TRACK account."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError("17TRACK base URL must start with http:// or https://")

    @property
    def limiter_key(self) -> str:
        """The request limiter's key for this account: shared by every worker holding the
        same key, and no secret (a digest, since limiter keys show up in Redis)."""
        digest = hashlib.sha256(self.api_key.encode()).hexdigest()[:16]
        return f"17track:{digest}"

    def __repr__(self) -> str:  # never the key
        return f"SeventeenTrackSettings(base_url={self.base_url!r})"
