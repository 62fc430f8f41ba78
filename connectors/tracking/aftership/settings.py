"""What DropTrack keeps about one AfterShip account."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from connectors.tracking.common import ServiceSettings

DEFAULT_BASE_URL = "https://api.aftership.com/tracking/2026-07"
# The strictest per-endpoint limit DropTrack uses (GET/PUT/DELETE /trackings/:id: 5 a second;
# POST /trackings allows 20, GET /trackings 6): one budget for all keeps every endpoint safe.
REQUESTS_PER_SECOND = 5.0


@dataclass(frozen=True, repr=False)
class AfterShipSettings(ServiceSettings):
    SERVICE: ClassVar[str] = "aftership"
    LABEL: ClassVar[str] = "AfterShip"
    KEY_SETTING: ClassVar[str] = "aftership_key"

    # api_key: the `as-api-key`
    base_url: str = DEFAULT_BASE_URL
    requests_per_second: float = REQUESTS_PER_SECOND
    # Signs webhooks (Settings -> Webhooks in AfterShip's admin).
    webhook_secret: str = field(kw_only=True)
