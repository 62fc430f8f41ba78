"""The 17TRACK sandbox's state: registered numbers, quota, rate limit, faults, pushes.

What is certain in the contract (FACTS) is enforced; what is not is marked UNCERTAIN where it
is modelled:
* UNCERTAIN: the exact body of an invalid-key answer. The v1 doc lists HTTP 401 for a wrong
  key; a v2.4 client reads `code: 0` with `data.errors[0].code == -18010002`. The sandbox
  answers HTTP 401 with that errors list, so a client must handle both.
* UNCERTAIN: gettrackinfo / TRACKING_UPDATED bodies are built from the §5 schema (no verbatim
  sample exists); `origin` in register answers is always 1 (its meaning is unknown).
* UNCERTAIN: push retries. 17TRACK's retry schedule is unknown: a failed push is recorded as
  `push_status = Failure` and sent again only on the `push` endpoint, as FACTS §8 suggests.
* UNCERTAIN: the 429 body (none was captured); the sandbox sends `Retry-After: 1`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from core.clock import Clock
from sandboxes.seventeen_track.timelines import DEFAULT_SCENARIO, SCENARIOS, Step, handover_for

DEFAULT_API_KEY = "sandbox-17track-key"
FREE_QUOTA = 100
MAX_CARRIER_CHANGES = 5

# Carrier keys the sandbox knows (FACTS §9), with their names.
CARRIERS: dict[int, str] = {
    3011: "China Post", 3013: "China EMS", 2151: "Correios Brazil", 100001: "DHL Express",
    100002: "UPS", 100003: "FedEx", 100005: "GLS", 7041: "DHL Paket", 21051: "USPS",
    190012: "YanWen", 190271: "Cainiao", 190107: "YunExpress",
}
# Auto-detection, as a real aggregator would guess from the number's shape.
DETECTION: tuple[tuple[re.Pattern[str], int], ...] = (
    (re.compile(r"[A-Z]{2}\d{9}CN"), 3011),
    (re.compile(r"YT\d{16}"), 190107),
    (re.compile(r"(LP|CNG)\w{8,}"), 190271),
    (re.compile(r"1Z[0-9A-Z]{16}"), 100002),
    (re.compile(r"9\d{21}"), 21051),
    (re.compile(r"[A-Z]{2}\d{9}BR"), 2151),
)
NUMBER_SHAPE = re.compile(r"[A-Za-z0-9]{5,50}")


class ApiFailure(Exception):
    """A request-level answer other than a plain 200 with code 0."""

    def __init__(self, http_status: int, code: int, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status, self.code, self.message = http_status, code, message
        self.headers = headers or {}


class ItemError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Tracked:
    number: str
    carrier: int
    registered_at: datetime
    scenario: str
    tag: str = ""
    tracking_status: str = "Tracking"  # Tracking | Stopped
    stop_reason: str | None = None
    retracked: bool = False
    carrier_changes: int = 0
    revealed_at: list[datetime] = field(default_factory=list)  # when each shown step happened
    push_status: str = "NotPushed"

    @property
    def steps(self) -> tuple[Step, ...]:
        return SCENARIOS[self.scenario]

    @property
    def revealed(self) -> int:
        return len(self.revealed_at)

    def reveal_until(self, count: int) -> None:
        for step in self.steps[self.revealed:count]:
            self.revealed_at.append(self.registered_at + step.after)


@dataclass
class SentPush:
    number: str
    body: bytes
    sign: str
    status: int | None  # the receiver's HTTP status, None when unreachable


class Bucket:
    """A token bucket per key on real (monotonic) time: 17TRACK's 3 requests a second."""

    def __init__(self, per_second: float | None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._now = now
        self._tokens: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """None when allowed, else the seconds until the next token."""
        if self.per_second is None:
            return None
        with self._lock:
            now = self._now()
            burst = max(1.0, self.per_second)
            tokens, at = self._tokens.get(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * self.per_second)
            if tokens >= 1:
                self._tokens[key] = (tokens - 1, now)
                return None
            self._tokens[key] = (tokens, now)
            return (1 - tokens) / self.per_second


@dataclass
class SeventeenTrackState:
    clock: Clock
    api_keys: set[str] = field(default_factory=lambda: {DEFAULT_API_KEY})
    quota_total: int = FREE_QUOTA
    quota_used: int = 0
    max_track_daily: int = 10_000_000
    rate_limit_per_second: float | None = 3.0
    webhook_url: str = ""  # set in 17TRACK's dashboard only (no API for it)
    push_timeout_seconds: float = 5.0
    tracked: dict[str, Tracked] = field(default_factory=dict)
    scenarios: dict[str, str] = field(default_factory=dict)  # number -> scenario, preset
    pushes: list[SentPush] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    faults: deque[int] = field(default_factory=deque)  # HTTP statuses for the next requests
    today_used: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.bucket = Bucket(self.rate_limit_per_second)
        self._http = requests.Session()

    # --- control (tests and the demo) ----------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.tracked.clear()
            self.scenarios.clear()
            self.pushes.clear()
            self.calls.clear()
            self.faults.clear()
            self.quota_total, self.quota_used, self.today_used = FREE_QUOTA, 0, 0
            self.set_rate_limit(self.rate_limit_per_second)

    def set_rate_limit(self, per_second: float | None) -> None:
        self.rate_limit_per_second = per_second
        self.bucket = Bucket(per_second)

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with HTTP `status` (429, 500, 503 ...)."""
        with self.lock:
            self.faults.extend([status] * times)

    def set_scenario(self, number: str, scenario: str) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
        with self.lock:
            self.scenarios[number] = scenario
            if number in self.tracked:
                self.tracked[number].scenario = scenario

    @property
    def quota_remain(self) -> int:
        return max(self.quota_total - self.quota_used, 0)

    def count(self, endpoint: str) -> None:
        with self.lock:
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1

    def take_fault(self) -> int | None:
        with self.lock:
            return self.faults.popleft() if self.faults else None

    # --- the API's operations (per item; raise ItemError for a rejection) -----------------

    def register(self, item: dict[str, Any]) -> dict[str, Any]:
        number = _number(item)
        carrier = item.get("carrier")
        with self.lock:
            if number in self.tracked:
                raise ItemError(-18019901, "The tracking number is already registered.")
            if carrier is not None:
                if not isinstance(carrier, int) or carrier not in CARRIERS:
                    raise ItemError(-18019910, "The carrier code is incorrect.")
            else:
                carrier = detect(number)
                if carrier is None:
                    raise ItemError(-18019903, "Carrier cannot be detected, see "
                                    "https://res.17track.net/asset/carrier/info/"
                                    "apicarrier.all.json")
            if self.today_used >= self.max_track_daily:
                raise ItemError(-18019907, "Daily tracking limit exceeded.")
            if self.quota_remain <= 0:
                raise ItemError(-18019908, "The quota is exhausted.")
            self.quota_used += 1
            self.today_used += 1
            self.tracked[number] = Tracked(
                number, carrier, self.clock.now(), self.scenarios.get(number, DEFAULT_SCENARIO),
                tag=str(item.get("tag") or ""))
            return {"origin": 1, "number": number, "carrier": carrier}

    def _find(self, item: dict[str, Any]) -> Tracked:
        number = _number(item)
        tracked = self.tracked.get(number)
        carrier = item.get("carrier")
        if tracked is None or (carrier is not None and carrier != tracked.carrier):
            raise ItemError(-18019902, "The tracking number is not registered.")
        return tracked

    def track_info(self, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            tracked = self._find(item)
            return self.item_json(tracked)

    def change_carrier(self, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            number = _number(item)
            old, new = item.get("carrier_old"), item.get("carrier_new")
            if old is None:
                raise ItemError(-18019801, "carrier_old is required.")
            if new is None:
                raise ItemError(-18019804, "carrier_new is required.")
            tracked = self.tracked.get(number)
            if tracked is None:
                raise ItemError(-18019902, "The tracking number is not registered.")
            if not isinstance(new, int) or new not in CARRIERS:
                raise ItemError(-18019802, "carrier_new is incorrect.")
            if old != tracked.carrier:
                raise ItemError(-18019805, "carrier_old does not match.")
            if new == old:
                raise ItemError(-18019803, "Cannot change to the same carrier.")
            if tracked.tracking_status == "Stopped":
                raise ItemError(-18019806, "Cannot change the carrier of a stopped number.")
            if tracked.carrier_changes >= MAX_CARRIER_CHANGES:
                raise ItemError(-18019807, "Carrier change limit exceeded.")
            tracked.carrier, tracked.carrier_changes = new, tracked.carrier_changes + 1
            if tracked.scenario == "invalid":  # the right carrier knows the number
                tracked.scenario, tracked.revealed_at = DEFAULT_SCENARIO, []
                tracked.registered_at = self.clock.now()
            return {"number": number, "carrier": new}

    def stop(self, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            tracked = self._find(item)
            if tracked.tracking_status != "Tracking":
                raise ItemError(-18019906, "Stop is allowed only while tracking.")
            tracked.tracking_status, tracked.stop_reason = "Stopped", "ByRequest"
            return {"number": tracked.number, "carrier": tracked.carrier}

    def retrack(self, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            tracked = self._find(item)
            if tracked.tracking_status != "Stopped":
                raise ItemError(-18019904, "Retrack is allowed only for stopped numbers.")
            if tracked.retracked:
                raise ItemError(-18019905, "Retrack is allowed only once.")
            tracked.tracking_status, tracked.stop_reason, tracked.retracked = (
                "Tracking", None, True)
            return {"number": tracked.number, "carrier": tracked.carrier}

    def delete(self, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            tracked = self._find(item)
            del self.tracked[tracked.number]
            return {"number": tracked.number, "carrier": tracked.carrier}

    def push_again(self, item: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            tracked = self._find(item)
        self._push(tracked)
        return {"number": tracked.number, "carrier": tracked.carrier}

    def quota(self) -> dict[str, int]:
        with self.lock:
            return {"quota_total": self.quota_total, "quota_used": self.quota_used,
                    "quota_remain": self.quota_remain, "today_used": self.today_used,
                    "max_track_daily": self.max_track_daily, "free_email_quota": 300,
                    "free_email_quotaused": 0}

    # --- timelines and pushes -----------------------------------------------------------

    def due_steps(self, tracked: Tracked) -> int:
        now = self.clock.now()
        return sum(1 for step in tracked.steps if tracked.registered_at + step.after <= now)

    def next_due(self, number: str) -> datetime | None:
        """When the number's next step happens (None at the end of its timeline)."""
        with self.lock:
            tracked = self.tracked[number]
            if tracked.revealed >= len(tracked.steps):
                return None
            return tracked.registered_at + tracked.steps[tracked.revealed].after

    def deliver_due(self) -> list[SentPush]:
        """Push every tracked number whose timeline moved since its last push."""
        sent = []
        with self.lock:
            moving = []
            for tracked in self.tracked.values():
                due = self.due_steps(tracked)
                if tracked.tracking_status == "Tracking" and due > tracked.revealed:
                    tracked.reveal_until(due)
                    moving.append(tracked)
        for tracked in moving:
            sent.append(self._push(tracked))
        return sent

    def push_next(self, number: str) -> SentPush | None:
        """Move the number's timeline on by one step now and push it (for any clock: the
        step happens at this moment, and the rest of the timeline moves with it)."""
        with self.lock:
            tracked = self.tracked[number]
            if tracked.revealed >= len(tracked.steps):
                return None
            now = self.clock.now()
            step = tracked.steps[tracked.revealed]
            tracked.registered_at = now - step.after  # later steps keep their spacing
            tracked.revealed_at.append(max([now, *tracked.revealed_at]))
        return self._push(tracked)

    def stopped_push(self, number: str) -> SentPush:
        """TRACKING_STOPPED for a number (17TRACK sends it when it stops tracking)."""
        with self.lock:
            tracked = self.tracked[number]
            tracked.tracking_status, tracked.stop_reason = "Stopped", "Expired"
            data = {"number": tracked.number, "carrier": tracked.carrier, "param": None,
                    "tag": tracked.tag}
        return self._send(tracked, {"event": "TRACKING_STOPPED", "data": data})

    def _push(self, tracked: Tracked) -> SentPush:
        with self.lock:
            body = {"event": "TRACKING_UPDATED", "data": self.item_json(tracked)}
        return self._send(tracked, body)

    def _send(self, tracked: Tracked, payload: dict[str, Any]) -> SentPush:
        raw = json.dumps(payload, ensure_ascii=False).encode()
        key = sorted(self.api_keys)[0]
        signature = sign(raw, key)
        status: int | None = None
        if self.webhook_url:
            try:
                response = self._http.post(self.webhook_url, data=raw, timeout=(
                    self.push_timeout_seconds, self.push_timeout_seconds), headers={
                    "Content-Type": "application/json", "sign": signature})
                status = response.status_code
            except requests.RequestException:
                status = None
        push = SentPush(tracked.number, raw, signature, status)
        with self.lock:
            tracked.push_status = "Success" if status and 200 <= status < 300 else "Failure"
            self.pushes.append(push)
        return push

    def item_json(self, tracked: Tracked) -> dict[str, Any]:
        """A gettrackinfo accepted item (SYNTHETIC: built from the FACTS §5 schema)."""
        return {"number": tracked.number, "carrier": tracked.carrier, "param": None,
                "tag": tracked.tag, "track_info": self._track_info(tracked)}

    def _track_info(self, tracked: Tracked) -> dict[str, Any]:
        steps = tracked.steps[:tracked.revealed]
        events = [self._event(step, at) for step, at in
                  reversed(list(zip(steps, tracked.revealed_at, strict=True)))]  # newest first
        latest = steps[-1] if steps else None
        main = latest.sub_status.partition("_")[0] if latest else "NotFound"
        sub = latest.sub_status if latest else "NotFound_Other"
        handed = any(step.handover for step in steps)
        handover = handover_for(tracked.number)
        started = tracked.registered_at
        eta = started + tracked.steps[-1].after if len(tracked.steps) > 1 else None
        return {
            "shipping_info": {"shipper_address": _address("CN", "Guangdong", "Shenzhen"),
                              "recipient_address": _address("US", "IL", "Springfield")},
            "latest_status": {"status": main, "sub_status": sub, "sub_status_descr": None},
            "latest_event": events[0] if events else None,
            "time_metrics": {
                "days_after_order": 0, "days_of_transit": 0, "days_of_transit_done": 0,
                "days_after_last_update": 0,
                "estimated_delivery_date": {
                    "source": "17TRACK" if eta else None,
                    "from": _iso(eta - (eta - started) * 0.1) if eta else None,
                    "to": _iso(eta) if eta else None}},
            "milestone": [{"key_stage": step.stage, "time_iso": _iso(at), "time_utc": _utc(at)}
                          for step, at in zip(steps, tracked.revealed_at, strict=True)
                          if step.stage],
            "misc_info": {
                "risk_factor": 0, "service_type": "", "weight_raw": "", "weight_kg": "",
                "pieces": "1", "dimensions": "", "customer_number": "", "reference_number": "",
                "local_number": handover.number if handed else "",
                "local_provider": handover.provider if handed else "",
                "local_key": handover.key if handed else 0},
            "tracking": {"providers_hash": 0, "providers": [{
                "provider": {"key": tracked.carrier, "name": CARRIERS[tracked.carrier],
                             "alias": CARRIERS[tracked.carrier], "tel": "", "homepage": "",
                             "country": ""},
                "service_type": "", "latest_sync_status": "Success",
                "latest_sync_time": _iso(self.clock.now()), "events_hash": len(events),
                "events": events}]},
        }

    def _event(self, step: Step, at: datetime) -> dict[str, Any]:
        city, _, country = step.location.partition(", ")
        return {"time_iso": _iso(at), "time_utc": _utc(at), "description": step.description,
                "location": step.location, "stage": step.stage, "sub_status": step.sub_status,
                "address": _address(country, "", city)}

    def close(self) -> None:
        self._http.close()


def sign(body: bytes, key: str) -> str:
    """17TRACK's push signature (FACTS §8): hex SHA-256 of raw body + "/" + key."""
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def detect(number: str) -> int | None:
    for pattern, key in DETECTION:
        if pattern.fullmatch(number):
            return key
    return None


def _number(item: dict[str, Any]) -> str:
    number = item.get("number")
    if not isinstance(number, str) or not number:
        raise ItemError(-18010010, "The number field is required.")
    if not NUMBER_SHAPE.fullmatch(number):
        raise ItemError(-18010012, "The tracking number format is invalid.")
    return number


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _address(country: str, state: str, city: str) -> dict[str, Any]:
    return {"country": country, "state": state, "city": city, "street": "",
            "postal_code": "", "coordinates": {"longitude": None, "latitude": None}}
