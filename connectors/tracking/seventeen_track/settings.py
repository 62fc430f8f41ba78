"""What DropTrack keeps about one 17TRACK account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from connectors.tracking.common import ServiceSettings

DEFAULT_BASE_URL = "https://api.17track.net/track/v2.2"
REQUESTS_PER_SECOND = 3.0  # per key; more answers HTTP 429


@dataclass(frozen=True, repr=False)
class SeventeenTrackSettings(ServiceSettings):
    SERVICE: ClassVar[str] = "17track"
    LABEL: ClassVar[str] = "17TRACK"
    KEY_SETTING: ClassVar[str] = "seventeen_track_key"

    # api_key: the `17token`; it also signs pushes
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = REQUESTS_PER_SECOND
