"""The DHL Unified Tracking sandbox's state: shipments on the shared parcel lives, the daily
call budget, the per-second limit, faults.

Certain (FACTS) and enforced: `DHL-API-Key` (header, or the query string), 404 problem JSON
for an unknown number, 401 for a bad key, 250 calls a day answered 429 until 00:00 GMT, events
newest first, the five `statusCode` values.
UNCERTAIN, and modelled so:
* the 429 bodies were never captured: problem JSON; the per-second limit's 429 carries
  `Retry-After: 1`, the daily budget's none (it lasts until 00:00 GMT).
* whether a 429 or 404 answer counts against the day's calls: every authenticated call counts
  (the safe reading for a client's budget).
* a new shipment is visible `visible_after` (10-30 min in DHL's KB; 15 min here) after it is
  handed to DHL.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from core.clock import Clock
from sandboxes.trackers import common
from sandboxes.trackers.common import Bucket, FaultControl, Life
from sandboxes.trackers.timelines import DEFAULT_SCENARIO, SCENARIOS

DEFAULT_API_KEY = "sandbox-dhl-key"
DAILY_CALLS = 250

STATUS_CODE_BY_STEP: dict[str, str] = {
    "InfoReceived": "pre-transit", "Delivered": "delivered", "DeliveryFailure": "failure",
    "Exception": "failure", "Expired": "unknown", "NotFound": "unknown",
}
"""Each shared step's main status (before "_") as DHL's statusCode; anything else: transit."""


def status_code(sub_status: str) -> str:
    return STATUS_CODE_BY_STEP.get(sub_status.partition("_")[0], "transit")


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}


@dataclass
class Shipment(Life):
    number: str
    service: str
    registered_at: datetime
    scenario: str
    revealed_at: list[datetime] = field(default_factory=list)


@dataclass
class DhlState(FaultControl):
    clock: Clock
    api_keys: set[str] = field(default_factory=lambda: {DEFAULT_API_KEY})
    daily_calls: int = DAILY_CALLS
    rate_limit_per_second: float | None = 1.0
    visible_after: timedelta = timedelta(minutes=15)
    shipments: dict[str, Shipment] = field(default_factory=dict)
    used: dict[tuple[str, str], int] = field(default_factory=dict)  # (key, GMT day) -> calls
    calls: dict[str, int] = field(default_factory=dict)  # answers by HTTP status
    faults: deque[int] = field(default_factory=deque)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.bucket = Bucket(self.rate_limit_per_second)
        self._built_rate = self.rate_limit_per_second

    def reset(self) -> None:
        with self.lock:
            self.shipments.clear()
            self.used.clear()
            self.calls.clear()
            self.faults.clear()
            self.daily_calls = DAILY_CALLS
            self.set_rate_limit(self._built_rate)

    def set_rate_limit(self, per_second: float | None) -> None:
        self.rate_limit_per_second = per_second
        self.bucket = Bucket(per_second)

    def ship(self, number: str, scenario: str = DEFAULT_SCENARIO,
             service: str = "ecommerce") -> None:
        """A parcel handed to DHL now (what the sender's label creation would do)."""
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
        with self.lock:
            self.shipments[number] = Shipment(number, service, self.clock.now(), scenario)

    def count(self, status: int) -> None:
        with self.lock:
            self.calls[str(status)] = self.calls.get(str(status), 0) + 1

    def calls_today(self, key: str = DEFAULT_API_KEY) -> int:
        return self.used.get((key, self._day()), 0)

    def _day(self) -> str:
        return f"{self.clock.now().astimezone(UTC):%Y-%m-%d}"

    def next_due(self, number: str) -> datetime | None:
        with self.lock:
            return self.shipments[number].next_due()

    # --- the API ----------------------------------------------------------------------------

    def track(self, key: str, number: str, service: str | None) -> dict[str, Any]:
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
        if fault is not None:
            raise Problem(fault, "Service unavailable" if fault >= 500 else "Injected fault",
                          "injected fault")
        if key not in self.api_keys:
            raise Problem(401, "Unauthorized", "Invalid API key.")
        wait = self.bucket.take(key)
        if wait is not None:
            raise Problem(429, "Too many requests", "Rate limit: 1 call per second.",
                          {"Retry-After": str(max(1, round(wait)))})
        with self.lock:
            day = (key, self._day())
            if self.used.get(day, 0) >= self.daily_calls:
                raise Problem(429, "Too many requests",
                              f"Daily limit of {self.daily_calls} calls reached; it resets "
                              "at 00:00 GMT.")
            self.used[day] = self.used.get(day, 0) + 1
            if not number:
                raise Problem(400, "Bad request", "trackingNumber is required.")
            shipment = self.shipments.get(number)
            now = self.clock.now()
            if (shipment is None or now < shipment.registered_at + self.visible_after
                    or (service and service != shipment.service)):
                raise Problem(404, "No result found",
                              "No shipment with given tracking number found.")
            shipment.reveal_due(now)
            return {"url": f"/shipments?trackingNumber={number}&offset=0&limit=5",
                    "shipments": [self.shipment_json(shipment)],
                    "possibleAdditionalShipmentsUrl": []}

    def shipment_json(self, shipment: Shipment) -> dict[str, Any]:
        """A shipment as in the OpenAPI example (samples/), its events newest first."""
        events = [{
            "timestamp": common.iso(at),
            "location": {"address": {"countryCode": step.location.rpartition(", ")[2],
                                     "addressLocality": step.location}},
            "statusCode": status_code(step.sub_status),
            "status": step.description.upper(), "description": step.description,
        } for step, at in reversed(shipment.shown())]
        eta = shipment.registered_at + shipment.steps[-1].after
        return {
            "id": shipment.number, "service": shipment.service,
            "origin": {"address": {"countryCode": "CN", "addressLocality": "Shenzhen"}},
            "destination": {"address": {"countryCode": "US", "addressLocality": "Springfield"}},
            "status": events[0] if events else {
                "timestamp": common.iso(shipment.registered_at), "statusCode": "unknown",
                "status": "UNKNOWN", "description": "No events yet"},
            "estimatedTimeOfDelivery": common.iso(eta),
            "details": {"carrier": {"@type": "Organization", "organizationName": "DHL"},
                        "product": {"productName": "DHL Parcel International"},
                        "totalNumberOfPieces": 1, "pieceIds": [shipment.number]},
            "events": events,
        }
