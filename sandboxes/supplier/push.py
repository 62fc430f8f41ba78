"""Push notifications to DropTrack: subscriptions, a delivery outbox, signing, retries.

Every notification is POSTed to each of the account's callback URLs as JSON, signed with
``X-Supplier-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``. Each attempt is stamped
with ``X-Supplier-Timestamp`` (Unix seconds), repeated in the signed body as ``sent_at`` so a
receiver can enforce the replay window. The event id stays the same across retries.

Time comes from the injected clock: ``deliver_due()`` sends what is due *now*, so tests drive
retries by advancing a frozen clock; the CLI runs it on a background thread.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import requests

from core.clock import Clock

log = logging.getLogger(__name__)

__all__ = [
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "MAX_ATTEMPTS",
    "REPLAY_WINDOW",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "Attempt",
    "Delivery",
    "DeliveryState",
    "PeriodicThread",
    "PushOutbox",
    "Subscription",
    "retry_delay",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "X-Supplier-Signature"
TIMESTAMP_HEADER = "X-Supplier-Timestamp"
EVENT_ID_HEADER = "X-Supplier-Event-Id"
EVENT_TYPE_HEADER = "X-Supplier-Event-Type"
REPLAY_WINDOW = timedelta(minutes=5)
MAX_ATTEMPTS = 10
FIRST_RETRY_DELAY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=1)


def retry_delay(failed_attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 30 s, 1 min, 2 min, ... capped at 1 h."""
    delay: timedelta = FIRST_RETRY_DELAY * (2 ** (failed_attempts - 1))
    return min(delay, MAX_RETRY_DELAY)


def sign(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, body: bytes, signature: str | None, timestamp: str | None,
           now: datetime, window: timedelta = REPLAY_WINDOW) -> bool:
    """The receiver's check, for reference: signature over the raw body, fresh timestamp."""
    if not signature or not timestamp or not timestamp.isdigit():
        return False
    if not hmac.compare_digest(sign(secret, body), signature):
        return False
    return abs(now.timestamp() - int(timestamp)) <= window.total_seconds()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Subscription:
    id: str
    account: str
    url: str
    secret: str
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "url": self.url, "created_at": _iso(self.created_at)}


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS


@dataclass(frozen=True)
class Attempt:
    event_id: str
    url: str
    at: datetime
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Delivery:
    event_id: str
    type: str
    subscription: Subscription
    data: Mapping[str, Any]
    created_at: datetime
    next_attempt_at: datetime
    state: DeliveryState = DeliveryState.PENDING
    attempts: list[Attempt] = field(default_factory=list)

    def body(self, sent_at: datetime) -> bytes:
        envelope = {
            "id": self.event_id,
            "type": self.type,
            "created_at": _iso(self.created_at),
            "sent_at": _iso(sent_at),
            "attempt": len(self.attempts) + 1,
            "data": self.data,
        }
        return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


class PushOutbox:
    def __init__(self, clock: Clock, *, timeout_seconds: float = 5.0,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self._clock = clock
        self.timeout_seconds = timeout_seconds
        self.max_attempts = max_attempts
        self._lock = threading.Lock()
        self._sending = threading.Lock()
        self._ids = itertools.count(1)
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self._delivery_keys: set[tuple[str, str]] = set()
        self._session = requests.Session()

    # --- subscriptions ----------------------------------------------------------------------

    def subscribe(self, account: str, url: str, secret: str) -> Subscription:
        with self._lock:
            subscription = Subscription(f"wh_{next(self._ids):04d}", account, url, secret,
                                        self._clock.now())
            self.subscriptions[subscription.id] = subscription
            return subscription

    def unsubscribe(self, account: str, subscription_id: str) -> bool:
        with self._lock:
            found = self.subscriptions.get(subscription_id)
            if found is None or found.account != account:
                return False
            del self.subscriptions[subscription_id]
            return True

    def for_account(self, account: str) -> list[Subscription]:
        with self._lock:
            return [s for s in self.subscriptions.values() if s.account == account]

    # --- outbox -----------------------------------------------------------------------------

    def enqueue(self, account: str, event_id: str, event_type: str,
                data: Mapping[str, Any], created_at: datetime) -> int:
        """Queue ``event_id`` for every subscription of ``account`` (once each); returns count."""
        queued = 0
        with self._lock:
            for subscription in self.subscriptions.values():
                key = (subscription.id, event_id)
                if subscription.account != account or key in self._delivery_keys:
                    continue
                self._delivery_keys.add(key)
                self.deliveries.append(Delivery(event_id, event_type, subscription, data,
                                                created_at, next_attempt_at=self._clock.now()))
                queued += 1
        return queued

    def pending(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.state is DeliveryState.PENDING]

    def deliver_due(self) -> list[Attempt]:
        """Attempt every pending delivery whose time has come, oldest first; one run at a time."""
        with self._sending:
            now = self._clock.now()
            with self._lock:
                due = [d for d in self.deliveries
                       if d.state is DeliveryState.PENDING and d.next_attempt_at <= now]
            return [self._attempt(delivery, now) for delivery in due]

    def _attempt(self, delivery: Delivery, now: datetime) -> Attempt:
        body = delivery.body(now)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "DropTrack-Reference-Supplier/1",
            SIGNATURE_HEADER: sign(delivery.subscription.secret, body),
            TIMESTAMP_HEADER: str(int(now.timestamp())),
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: delivery.type,
        }
        status_code: int | None = None
        error: str | None = None
        try:
            response = self._session.post(delivery.subscription.url, data=body, headers=headers,
                                          timeout=self.timeout_seconds, allow_redirects=False)
            status_code = response.status_code
            response.close()
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        attempt = Attempt(delivery.event_id, delivery.subscription.url, now, status_code, error)
        with self._lock:
            delivery.attempts.append(attempt)
            if attempt.ok:
                delivery.state = DeliveryState.DELIVERED
            elif len(delivery.attempts) >= self.max_attempts:
                delivery.state = DeliveryState.FAILED
            else:
                delivery.next_attempt_at = now + retry_delay(len(delivery.attempts))
        return attempt

    def clear(self) -> None:
        with self._lock:
            self.subscriptions.clear()
            self.deliveries.clear()
            self._delivery_keys.clear()

    def close(self) -> None:
        self._session.close()


class PeriodicThread:
    """Calls ``work`` every ``interval`` seconds on a daemon thread until ``stop()``."""

    def __init__(self, work: Callable[[], object], interval: float, name: str) -> None:
        self._work = work
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._work()
            except Exception:  # keep the sandbox alive; the next run retries
                log.exception("periodic sandbox work failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
