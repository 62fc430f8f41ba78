"""What DropTrack keeps about one DHL API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from connectors.tracking.common import ServiceSettings

DEFAULT_BASE_URL = "https://api-eu.dhl.com/track"
# The initial service level: 250 calls a day, at most 1 a second (FACTS "Rate limits").
REQUESTS_PER_SECOND = 1.0
DAILY_CALLS = 250


@dataclass(frozen=True, repr=False)
class DhlSettings(ServiceSettings):
    SERVICE: ClassVar[str] = "dhl"
    LABEL: ClassVar[str] = "DHL"
    KEY_SETTING: ClassVar[str] = "dhl_key"

    # api_key: the `DHL-API-Key`
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = REQUESTS_PER_SECOND
    daily_calls: int = DAILY_CALLS
