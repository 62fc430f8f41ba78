"""Pieces every tracking sandbox needs the same way: rate limits, carrier detection, webhooks."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests
from flask import Flask, Response, jsonify, request

from sandboxes.trackers.timelines import SCENARIOS, Step


class Bucket:
    """A token bucket per key on real (monotonic) time: 17TRACK's 3 a second, AfterShip's
    per-endpoint limits, DHL's 1 a second."""

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


# Auto-detection, as a real aggregator would guess from the number's shape: DropTrack-neutral
# carrier names, which each sandbox turns into its own carrier code.
DETECTION: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[A-Z]{2}\d{9}CN"), "china_post"),
    (re.compile(r"YT\d{16}"), "yunexpress"),
    (re.compile(r"(LP|CNG)\w{8,}"), "cainiao"),
    (re.compile(r"1Z[0-9A-Z]{16}"), "ups"),
    (re.compile(r"9\d{21}"), "usps"),
    (re.compile(r"[A-Z]{2}\d{9}BR"), "correios"),
    (re.compile(r"[A-Z]{2}\d{9}GB"), "royal_mail"),
    (re.compile(r"[A-Z]{2}\d{9}FR"), "la_poste"),
    (re.compile(r"JJD\d{18}|\d{10}"), "dhl"),
)


def detect(number: str) -> str | None:
    for pattern, carrier in DETECTION:
        if pattern.fullmatch(number):
            return carrier
    return None


@dataclass
class SentPush:
    number: str
    body: bytes
    sign: str
    status: int | None  # the receiver's HTTP status, None when unreachable


class WebhookSender:
    """POSTs signed webhook bodies to the receiver over real HTTP (one keep-alive session)."""

    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self.timeout_seconds = timeout_seconds
        self._http = requests.Session()

    def send(self, url: str, number: str, raw: bytes, headers: dict[str, str],
             signature: str) -> SentPush:
        status: int | None = None
        if url:
            try:
                response = self._http.post(url, data=raw, timeout=(
                    self.timeout_seconds, self.timeout_seconds), headers={
                    "Content-Type": "application/json", **headers})
                status = response.status_code
            except requests.RequestException:
                status = None
        return SentPush(number, raw, signature, status)

    def close(self) -> None:
        self._http.close()


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FaultControl:
    """Mixed into a tracker sandbox's state (which declares `lock` and `faults`): a test makes
    the next requests fail."""

    lock: threading.RLock
    faults: deque[int]

    def fail_next(self, status: int, times: int = 1) -> None:
        """Answer the next `times` requests with HTTP `status` (429, 500, 503 ...)."""
        with self.lock:
            self.faults.extend([status] * times)


class ScenarioControl(FaultControl):
    """And presets a number's parcel life (the state declares `scenarios`)."""

    scenarios: dict[str, str]

    def set_scenario(self, number: str, scenario: str) -> None:
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
        with self.lock:
            self.scenarios[number] = scenario
            self.scenario_changed(number, scenario)

    def scenario_changed(self, number: str, scenario: str) -> None:
        """A sandbox that already tracks the number follows the new life (default: nothing)."""


def add_control_routes(app: Flask, state: Callable[[], Any]) -> None:
    """The test-only routes of a pushing tracker sandbox (its state is a ScenarioControl with
    a `webhook_url`): where pushes go (set in the real service's dashboard, no API), and a
    number's preset parcel life."""

    @app.post("/_sandbox/webhook")
    def set_webhook() -> Response:
        body = request.get_json(silent=True) or {}
        state().webhook_url = str(body.get("url", ""))
        return jsonify({"webhook_url": state().webhook_url})

    @app.post("/_sandbox/numbers/<number>/scenario")
    def set_scenario(number: str) -> Response:
        body = request.get_json(silent=True) or {}
        try:
            state().set_scenario(number, str(body.get("scenario", "")))
        except ValueError as exc:
            response = jsonify({"error": str(exc)})
            response.status_code = 400
            return response
        return jsonify({"number": number, "scenario": body.get("scenario")})


class Life:
    """A tracked parcel's life on a timeline (mixed into each sandbox's own tracked record,
    which declares `registered_at`, `scenario` and `revealed_at`): which steps are shown, and
    when each happened."""

    registered_at: datetime
    scenario: str
    revealed_at: list[datetime]

    @property
    def steps(self) -> tuple[Step, ...]:
        return SCENARIOS[self.scenario]

    @property
    def revealed(self) -> int:
        return len(self.revealed_at)

    def shown(self) -> list[tuple[Step, datetime]]:
        """The steps shown so far with their times, oldest first."""
        return list(zip(self.steps[:self.revealed], self.revealed_at, strict=True))

    def reveal_until(self, count: int) -> None:
        for step in self.steps[self.revealed:count]:
            self.revealed_at.append(self.registered_at + step.after)

    def due_steps(self, now: datetime) -> int:
        return sum(1 for step in self.steps if self.registered_at + step.after <= now)

    def reveal_due(self, now: datetime) -> bool:
        """Show every step due by `now`; True when something new is shown."""
        due = self.due_steps(now)
        if due <= self.revealed:
            return False
        self.reveal_until(due)
        return True

    def next_due(self) -> datetime | None:
        """When the next step happens (None at the end of the timeline)."""
        if self.revealed >= len(self.steps):
            return None
        return self.registered_at + self.steps[self.revealed].after

    def advance(self, now: datetime) -> bool:
        """Move the life on by one step now (for any clock: the step happens at this moment,
        and the rest of the timeline moves with it). False at the end of the timeline."""
        if self.revealed >= len(self.steps):
            return False
        step = self.steps[self.revealed]
        self.registered_at = now - step.after  # later steps keep their spacing
        self.revealed_at.append(max([now, *self.revealed_at]))
        return True

    def restart(self, now: datetime, scenario: str) -> None:
        self.scenario, self.revealed_at, self.registered_at = scenario, [], now
