"""The AfterShip sandbox's state: trackings, rate limits, faults, signed webhooks.

What is certain in the contract (FACTS) is enforced; what is not is marked UNCERTAIN:
* UNCERTAIN: no verbatim tracking or webhook JSON exists; both are built from the fields FACTS
  names plus AfterShip's published field names (`checkpoints`, `last_mile`,
  `courier_estimated_delivery_date`). `data` is the tracking object itself (2024-07 and later).
* UNCERTAIN: the HTTP status of a per-number error (4003, 4005, 4010, 4012): 400, with the
  meta code telling which.
* UNCERTAIN: webhook retries ("up to 14 times, 2^n x 30 s" is TrackingMore's wording). A
  failed webhook is recorded and sent again only on request (`resend`), with the same
  `event_id`, as a retry would be.
* AfterShip stops tracking a parcel once it is delivered or expired (`active: false`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.clock import Clock
from sandboxes.aftership import vocabulary
from sandboxes.trackers import common
from sandboxes.trackers.common import Bucket, Life, ScenarioControl, SentPush, WebhookSender
from sandboxes.trackers.timelines import DEFAULT_SCENARIO, Step, handover_for

DEFAULT_API_KEY = "sandbox-aftership-key"
DEFAULT_WEBHOOK_SECRET = "sandbox-aftership-webhook-secret"  # noqa: S105 (a sandbox's own)
VERSION = "2026-07"
# Per endpoint group, per second (FACTS "Rate limits").
RATE_LIMITS: dict[str, float] = {"create": 20.0, "list": 6.0, "one": 5.0, "action": 5.0}
NUMBER_SHAPE = re.compile(r"[A-Za-z0-9]{5,50}")


class ApiFailure(Exception):
    """An answer other than 2xx: HTTP status, meta code, meta type, message."""

    def __init__(self, http_status: int, code: int, type_: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.http_status, self.code, self.type, self.message = (
            http_status, code, type_, message)
        self.headers = headers or {}


def bad_request(code: int, message: str) -> ApiFailure:
    return ApiFailure(400, code, "BadRequest", message)


@dataclass
class Tracking(Life):
    id: str
    number: str
    slug: str
    registered_at: datetime
    scenario: str
    custom_fields: dict[str, Any] = field(default_factory=dict)
    revealed_at: list[datetime] = field(default_factory=list)
    completed: str | None = None  # mark-as-completed reason
    retracked: bool = False
    webhooks: int = 0

    @property
    def active(self) -> bool:
        if self.completed:
            return False
        shown = self.shown()
        return not (shown and shown[-1][0].sub_status.partition("_")[0] in (
            "Delivered", "Expired"))


@dataclass
class AfterShipState(ScenarioControl):
    clock: Clock
    api_keys: set[str] = field(default_factory=lambda: {DEFAULT_API_KEY})
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    webhook_url: str = ""  # set in AfterShip's admin (Settings -> Webhooks)
    rate_limited: bool = True
    trackings: dict[str, Tracking] = field(default_factory=dict)  # by id
    scenarios: dict[str, str] = field(default_factory=dict)  # number -> scenario, preset
    pushes: list[SentPush] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    faults: deque[int] = field(default_factory=deque)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.sender = WebhookSender()
        self._buckets = {name: Bucket(rate) for name, rate in RATE_LIMITS.items()}

    # --- control (tests and the demo) ---------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.trackings.clear()
            self.scenarios.clear()
            self.pushes.clear()
            self.calls.clear()
            self.faults.clear()
            self._buckets = {name: Bucket(rate) for name, rate in RATE_LIMITS.items()}

    def count(self, endpoint: str) -> None:
        with self.lock:
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1

    def guard(self, key: str, group: str) -> None:
        """Faults, auth and the endpoint's rate limit, in that order."""
        with self.lock:
            fault = self.faults.popleft() if self.faults else None
        if fault is not None:
            kind = "TooManyRequests" if fault == 429 else "InternalError"
            raise ApiFailure(fault, fault, kind, "injected fault")
        if key not in self.api_keys:
            raise ApiFailure(401, 401, "Unauthorized", "Invalid API key.")
        if not self.rate_limited:
            return
        bucket = self._buckets[group]
        wait = bucket.take(key)
        if wait is not None:
            reset = int(self.clock.now().timestamp() + max(1, round(wait)))
            raise ApiFailure(429, 429, "TooManyRequests", "You have exceeded the API call "
                             "rate limit.", {"X-RateLimit-Reset": str(reset),
                                             "X-RateLimit-Limit": str(int(bucket.per_second or 0)),
                                             "X-RateLimit-Remaining": "0"})

    def by_number(self, number: str) -> Tracking | None:
        return next((t for t in self.trackings.values() if t.number == number), None)

    def get(self, tracking_id: str) -> Tracking:
        tracking = self.trackings.get(tracking_id)
        if tracking is None:
            raise ApiFailure(404, 4004, "NotFound", "Tracking does not exist.")
        return tracking

    # --- the API's operations ----------------------------------------------------------------

    def create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request(4001, "Invalid JSON data.")
        number = body.get("tracking_number")
        if not isinstance(number, str) or not number.strip():
            raise bad_request(4007, "`tracking_number` is required.")
        if not NUMBER_SHAPE.fullmatch(number):
            raise bad_request(4005, "The value of `tracking_number` is invalid.")
        slug = body.get("slug")
        if slug is not None and (not isinstance(slug, str) or slug not in vocabulary.SLUGS):
            raise bad_request(4010, "The value of `slug` is invalid.")
        if slug is None:
            detected = common.detect(number)
            slug = vocabulary.SLUG_BY_CARRIER.get(detected) if detected else None
            if slug is None:
                raise bad_request(4012, "Cannot detect courier. Activate courier at "
                                  "https://admin.aftership.com/settings/couriers.")
        with self.lock:
            existing = self.by_number(number)
            if existing is not None and existing.slug == slug:
                raise bad_request(4003, "Tracking already exists.")
            tracking = Tracking(uuid.uuid4().hex[:24], number, slug, self.clock.now(),
                                self.scenarios.get(number, DEFAULT_SCENARIO),
                                custom_fields=dict(body.get("custom_fields") or {}))
            self.trackings[tracking.id] = tracking
            return self.tracking_json(tracking)

    def listed(self, numbers: str) -> dict[str, Any]:
        wanted = [n for n in numbers.split(",") if n] if numbers else []
        with self.lock:
            found = [self.tracking_json(t) for t in self.trackings.values()
                     if not wanted or t.number in wanted]
        return {"pagination": {"total": len(found), "next_cursor": None,
                               "has_next_page": False}, "trackings": found}

    def delete(self, tracking_id: str) -> dict[str, Any]:
        with self.lock:
            tracking = self.get(tracking_id)
            del self.trackings[tracking_id]
            return self.tracking_json(tracking)

    def retrack(self, tracking_id: str) -> dict[str, Any]:
        with self.lock:
            tracking = self.get(tracking_id)
            if tracking.active:
                raise bad_request(4013, "Retrack is not allowed. You can only retrack an "
                                  "inactive tracking.")
            if tracking.retracked:
                raise bad_request(4016, "Retrack is not allowed. You can only retrack once.")
            tracking.retracked, tracking.completed = True, None
            return self.tracking_json(tracking)

    def complete(self, tracking_id: str, body: Any) -> dict[str, Any]:
        reason = body.get("reason") if isinstance(body, dict) else None
        if reason not in ("DELIVERED", "LOST", "RETURNED_TO_SENDER"):
            raise bad_request(4008, "The value of `reason` is invalid.")
        with self.lock:
            tracking = self.get(tracking_id)
            tracking.completed = str(reason)
            return self.tracking_json(tracking)

    # --- timelines and webhooks --------------------------------------------------------------

    def next_due(self, number: str) -> datetime | None:
        with self.lock:
            tracking = self.by_number(number)
            return tracking.next_due() if tracking else None

    def deliver_due(self) -> list[SentPush]:
        """A webhook for every active tracking whose timeline moved since the last one."""
        now = self.clock.now()
        with self.lock:
            moving = [t for t in self.trackings.values() if t.active and t.reveal_due(now)]
        return [self._webhook(tracking) for tracking in moving]

    def push_next(self, number: str) -> SentPush | None:
        with self.lock:
            tracking = self.by_number(number)
            if tracking is None or not tracking.advance(self.clock.now()):
                return None
        return self._webhook(tracking)

    def resend(self, push: SentPush) -> SentPush:
        """The same webhook again (AfterShip's retry of an unacknowledged one)."""
        return self._send(push.number, push.body)

    def _webhook(self, tracking: Tracking) -> SentPush:
        with self.lock:
            tracking.webhooks += 1
            payload = {"event": "tracking_update", "event_id": str(uuid.uuid4()),
                       "is_tracking_first_tag": tracking.webhooks == 1,
                       "msg": self.tracking_json(tracking),
                       "ts": int(self.clock.now().timestamp())}
        return self._send(tracking.number, json.dumps(payload, ensure_ascii=False).encode())

    def _send(self, number: str, raw: bytes) -> SentPush:
        signature = sign(raw, self.webhook_secret)
        push = self.sender.send(self.webhook_url, number, raw, {
            "aftership-hmac-sha256": signature, "as-webhook-version": VERSION,
            "User-Agent": "AfterShipTrackingWebhook/4.0.0 (sandbox)"}, signature)
        with self.lock:
            self.pushes.append(push)
        return push

    def tracking_json(self, tracking: Tracking) -> dict[str, Any]:
        """A tracking object (SYNTHETIC: AfterShip's published field names)."""
        shown = tracking.shown()
        checkpoints = [self._checkpoint(tracking, step, at) for step, at in shown]
        tag, subtag = (vocabulary.subtag(shown[-1][0].sub_status) if shown
                       else ("Pending", "Pending_001"))
        handed = any(step.handover for step, _ in shown)
        handover = handover_for(tracking.number)
        eta = (tracking.registered_at + tracking.steps[-1].after
               if len(tracking.steps) > 1 else None)
        now = self.clock.now()
        return {
            "id": tracking.id, "tracking_number": tracking.number, "slug": tracking.slug,
            "active": tracking.active, "tag": tag, "subtag": subtag,
            "subtag_message": shown[-1][0].description if shown else "Pending",
            "title": tracking.number, "custom_fields": tracking.custom_fields,
            "created_at": common.iso(tracking.registered_at), "updated_at": common.iso(now),
            "origin_country_region": "CHN", "destination_country_region": "USA",
            "courier_estimated_delivery_date": {
                "estimated_delivery_date": common.iso(eta) if eta else None,
                "estimated_delivery_date_min": None, "estimated_delivery_date_max": None},
            "last_mile": {"tracking_number": handover.number, "slug": vocabulary.LAST_MILE_SLUG,
                          "transit_time": None, "courier_tracking_link": None}
            if handed else None,
            "checkpoints": checkpoints,
        }

    @staticmethod
    def _checkpoint(tracking: Tracking, step: Step, at: datetime) -> dict[str, Any]:
        tag, subtag = vocabulary.subtag(step.sub_status)
        city, _, country = step.location.partition(", ")
        return {"checkpoint_time": common.iso(at), "created_at": common.iso(at),
                "slug": vocabulary.LAST_MILE_SLUG if step.handover else tracking.slug,
                "tag": tag, "subtag": subtag, "subtag_message": step.description,
                "message": step.description, "location": step.location, "city": city,
                "country_region": country}

    def close(self) -> None:
        self.sender.close()


def sign(body: bytes, secret: str) -> str:
    """AfterShip's webhook signature (FACTS): base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
