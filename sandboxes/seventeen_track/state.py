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
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.clock import Clock
from sandboxes.trackers import common
from sandboxes.trackers.common import Bucket, Life, ScenarioControl, SentPush, WebhookSender
from sandboxes.trackers.timelines import DEFAULT_SCENARIO, Step, handover_for

DEFAULT_API_KEY = "sandbox-17track-key"
FREE_QUOTA = 100
MAX_CARRIER_CHANGES = 5

# Carrier keys the sandbox knows (FACTS §9), with their names.
CARRIERS: dict[int, str] = {
    3011: "China Post", 3013: "China EMS", 2151: "Correios Brazil", 100001: "DHL Express",
    100002: "UPS", 100003: "FedEx", 100005: "GLS", 7041: "DHL Paket", 21051: "USPS",
    190012: "YanWen", 190271: "Cainiao", 190107: "YunExpress",
    # The sandbox's own picks for two posts FACTS §9 does not list (keys unverified).
    11031: "Royal Mail", 6051: "La Poste",
}
# Auto-detection by the number's shape (sandboxes/trackers/common.py), as 17TRACK keys.
DETECTED_KEYS: dict[str, int] = {"china_post": 3011, "yunexpress": 190107, "cainiao": 190271,
                                 "ups": 100002, "usps": 21051, "correios": 2151,
                                 "royal_mail": 11031, "la_poste": 6051}
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
class Tracked(Life):
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


@dataclass
class SeventeenTrackState(ScenarioControl):
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
        self.sender = WebhookSender(self.push_timeout_seconds)

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

    def scenario_changed(self, number: str, scenario: str) -> None:
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
                tracked.restart(self.clock.now(), DEFAULT_SCENARIO)
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

    def next_due(self, number: str) -> datetime | None:
        """When the number's next step happens (None at the end of its timeline)."""
        with self.lock:
            return self.tracked[number].next_due()

    def deliver_due(self) -> list[SentPush]:
        """Push every tracked number whose timeline moved since its last push."""
        now = self.clock.now()
        with self.lock:
            moving = [tracked for tracked in self.tracked.values()
                      if tracked.tracking_status == "Tracking" and tracked.reveal_due(now)]
        return [self._push(tracked) for tracked in moving]

    def push_next(self, number: str) -> SentPush | None:
        """Move the number's timeline on by one step now and push it."""
        with self.lock:
            if not self.tracked[number].advance(self.clock.now()):
                return None
        return self._push(self.tracked[number])

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
        push = self.sender.send(self.webhook_url, tracked.number, raw, {"sign": signature},
                                signature)
        with self.lock:
            status = push.status
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
        self.sender.close()


def sign(body: bytes, key: str) -> str:
    """17TRACK's push signature (FACTS §8): hex SHA-256 of raw body + "/" + key."""
    return hashlib.sha256(body + b"/" + key.encode()).hexdigest()


def detect(number: str) -> int | None:
    found = common.detect(number)
    return DETECTED_KEYS.get(found) if found else None


def _number(item: dict[str, Any]) -> str:
    number = item.get("number")
    if not isinstance(number, str) or not number:
        raise ItemError(-18010010, "The number field is required.")
    if not NUMBER_SHAPE.fullmatch(number):
        raise ItemError(-18010012, "The tracking number format is invalid.")
    return number


_iso, _utc = common.iso, common.utc


def _address(country: str, state: str, city: str) -> dict[str, Any]:
    return {"country": country, "state": state, "city": city, "street": "",
            "postal_code": "", "coordinates": {"longitude": None, "latitude": None}}
