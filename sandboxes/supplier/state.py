"""Everything the reference supplier knows, behind one lock: the object tests seed and inspect.

Found at ``app.extensions["sandbox"]``. Orders are planned in full when created (see
timelines.py); what is visible is computed from the injected clock on every read.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from core.clock import Clock
from sandboxes.supplier.addresses import address_problems
from sandboxes.supplier.carriers import CarrierCode, new_tracking_number
from sandboxes.supplier.errors import ApiError
from sandboxes.supplier.faults import FaultInjector
from sandboxes.supplier.push import PeriodicThread, PushOutbox, Subscription
from sandboxes.supplier.ratelimit import RateLimiter
from sandboxes.supplier.timelines import (
    DEFAULT_SCENARIO_WEIGHTS,
    Destination,
    ParcelPlan,
    PlannedEvent,
    Scenario,
    ShipmentPlan,
    TrackingLeg,
    pick_scenario,
    plan_shipment,
)
from sandboxes.supplier.validation import OrderRequest
from sandboxes.supplier.views import event_json, order_json

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CATALOG",
    "IDEMPOTENCY_RETENTION",
    "CreateResult",
    "OrderStatus",
    "SupplierOrder",
    "SupplierState",
    "TrackedNumber",
]

DEFAULT_API_KEY = "sk_test_droptrack_supplier"
DEFAULT_CATALOG: Mapping[str, int] = {
    "MUG-CERAMIC-11OZ": 500,
    "TEE-BLACK-M": 300,
    "TEE-BLACK-L": 300,
    "CASE-IPHONE15-CLEAR": 1000,
    "LAMP-SUNSET-02": 40,
    "WATCH-SMART-X7": 25,
    "BAG-TOTE-CANVAS": 0,
}
IDEMPOTENCY_RETENTION = timedelta(hours=24)
SCENARIO_MARKER = re.compile(r"\[sandbox:([a-z_]+)\]", re.IGNORECASE)


class OrderStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"
    ON_HOLD = "on_hold"


@dataclass
class SupplierOrder:
    id: str
    account: str
    request: OrderRequest
    created_at: datetime
    plan: ShipmentPlan
    cancelled_at: datetime | None = None
    hold_reason: str | None = None
    held_at: datetime | None = None

    def status_at(self, now: datetime) -> OrderStatus:
        if self.cancelled_at is not None and self.cancelled_at <= now:
            return OrderStatus.CANCELLED
        if self.hold_reason is not None:
            return OrderStatus.ON_HOLD
        shipped_at = self.plan.shipped_at
        if shipped_at is not None and shipped_at <= now:
            return OrderStatus.SHIPPED
        if self.plan.processing_at <= now:
            return OrderStatus.PROCESSING
        return OrderStatus.RECEIVED

    def parcels_at(self, now: datetime) -> list[ParcelPlan]:
        if self.hold_reason is not None:
            return []
        cutoff = now if self.cancelled_at is None else min(now, self.cancelled_at)
        return [p for p in self.plan.parcels if p.shipped_at <= cutoff]


@dataclass(frozen=True)
class _IdempotencyRecord:
    fingerprint: str
    order_id: str
    created_at: datetime


@dataclass(frozen=True)
class CreateResult:
    order: SupplierOrder
    replayed: bool


@dataclass(frozen=True)
class TrackedNumber:
    """A tracking number as the clock lets it be seen: its leg, parcel and visible events."""

    order: SupplierOrder
    parcel: ParcelPlan
    leg: TrackingLeg
    events: list[PlannedEvent]
    replaced_by: TrackingLeg | None
    replaces: TrackingLeg | None


def fingerprint(body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class _Notified:
    order_status: dict[str, OrderStatus] = field(default_factory=dict)
    events: set[str] = field(default_factory=set)


class SupplierState:
    def __init__(self, clock: Clock, *, public_url: str, api_keys: Iterable[str] = (
                 DEFAULT_API_KEY,), catalog: Mapping[str, int] | None = None,
                 seed: int | str = 0, rate_limit_per_second: float | None = 10.0,
                 rate_limit_burst: int | None = None,
                 scenario_weights: Mapping[Scenario, int] | None = None,
                 background_push: bool = True, push_interval_seconds: float = 1.0,
                 push_timeout_seconds: float = 5.0) -> None:
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.seed = seed
        self._initial_api_keys = tuple(api_keys)
        self._initial_catalog = dict(DEFAULT_CATALOG if catalog is None else catalog)
        self.scenario_weights = dict(scenario_weights or DEFAULT_SCENARIO_WEIGHTS)
        self.faults = FaultInjector()
        self._initial_rate_limit = (rate_limit_per_second, rate_limit_burst)
        self.rate_limiter = RateLimiter(clock, rate_limit_per_second, rate_limit_burst)
        self.push = PushOutbox(clock, timeout_seconds=push_timeout_seconds)
        self.background_push = background_push
        self.push_interval_seconds = push_interval_seconds
        self._push_thread: PeriodicThread | None = None
        self._lock = threading.RLock()
        self.reset()

    # --- seeding and inspection (for tests and the demo) -----------------------------------

    def reset(self) -> None:
        """Back to the state right after build: no orders or webhooks, initial stock and keys,
        no faults, the initial rate limit, nothing counted."""
        with self._lock:
            self.api_keys: set[str] = set(self._initial_api_keys)
            self.stock: dict[str, int] = dict(self._initial_catalog)
            self.orders: dict[str, SupplierOrder] = {}
            self._idempotency: dict[tuple[str, str], _IdempotencyRecord] = {}
            self._numbers: dict[str, tuple[str, int, int]] = {}  # number -> order, parcel, leg
            self._scenario_by_order_number: dict[str, Scenario] = {}
            self._next_scenarios: deque[Scenario] = deque()
            self._notified = _Notified()
            self._sequence = 0
            self.calls: Counter[str] = Counter()
            self.responses: Counter[tuple[str, int]] = Counter()
            self.faults.clear()
            self.push.clear()
            self.rate_limiter.configure(*self._initial_rate_limit)

    def add_api_key(self, key: str) -> None:
        with self._lock:
            self.api_keys.add(key)

    def all_orders(self) -> list[SupplierOrder]:
        """Every order, newest first (the sandbox's home page)."""
        with self._lock:
            return sorted(self.orders.values(), key=lambda o: o.id, reverse=True)

    def continue_numbering_after(self, highest: int) -> None:
        """Number new orders after SO<highest> (a restarted sandbox meeting a client that
        remembers the old orders: no id, and so no tracking number, is issued twice)."""
        with self._lock:
            self._sequence = max(self._sequence, highest)

    def seed_stock(self, stock: Mapping[str, int] | None = None, /, **by_sku: int) -> None:
        """Set the available quantity of SKUs (a mapping, keywords, or both)."""
        with self._lock:
            self.stock.update({**(stock or {}), **by_sku})

    def seed_scenario(self, scenario: Scenario | str, *, order_number: str | None = None,
                      count: int = 1) -> None:
        """Choose the scenario of the order with ``order_number``, or of the next ``count``."""
        chosen = Scenario(scenario)
        with self._lock:
            if order_number is not None:
                self._scenario_by_order_number[order_number] = chosen
            else:
                self._next_scenarios.extend([chosen] * count)

    def register_webhook(self, url: str, secret: str, *,
                         api_key: str = DEFAULT_API_KEY) -> Subscription:
        """What ``POST /v1/webhooks`` does, for setting up push without a request."""
        subscription = self.push.subscribe(api_key, url, secret)
        self._ensure_push_thread()
        return subscription

    def hold_order(self, order_id: str, reason: str) -> SupplierOrder:
        """Put an order that has not shipped on hold (e.g. ``payment_review``)."""
        with self._lock:
            order = self._order(order_id)
            if order.status_at(self.clock.now()) not in (OrderStatus.RECEIVED,
                                                          OrderStatus.PROCESSING):
                raise ValueError(f"order {order_id} can no longer be held")
            order.hold_reason, order.held_at = reason, self.clock.now()
            return order

    def release_order(self, order_id: str) -> SupplierOrder:
        """Release a held order: its journey is re-planned from now."""
        with self._lock:
            order = self._order(order_id)
            order.hold_reason = order.held_at = None
            order.plan = self._plan(order.id, order.request, self.clock.now(), order.plan.scenario)
            return order

    def order_by_reference(self, order_number: str) -> SupplierOrder | None:
        with self._lock:
            return next((o for o in self.orders.values()
                         if o.request.order_number == order_number), None)

    def call_count(self, endpoint: str) -> int:
        with self._lock:
            return self.calls[endpoint]

    def count_call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def count_response(self, endpoint: str, status: int) -> None:
        with self._lock:
            self.responses[(endpoint, status)] += 1

    # --- orders -----------------------------------------------------------------------------

    def create_order(self, account: str, idempotency_key: str, body: Any,
                     request: OrderRequest) -> CreateResult:
        """Create an order once per idempotency key; 4xx outcomes are not remembered."""
        now = self.clock.now()
        body_fingerprint = fingerprint(body)
        with self._lock:
            record = self._idempotency.get((account, idempotency_key))
            if record is not None and now - record.created_at < IDEMPOTENCY_RETENTION:
                if record.fingerprint != body_fingerprint:
                    raise ApiError(409, "idempotency_key_reused",
                                   "this Idempotency-Key was used with a different request body",
                                   {"order_id": record.order_id})
                return CreateResult(self.orders[record.order_id], replayed=True)

            self._check_address(request)
            marked = self._marked_scenario(request)
            self._check_duplicate(account, request)
            self._check_stock(request)
            scenario = self._choose_scenario(request, marked)
            for line in request.lines:
                self.stock[line.supplier_sku] -= line.quantity

            self._sequence += 1
            order_id = f"SO{self._sequence:06d}"
            order = SupplierOrder(order_id, account, request, now,
                                  self._plan(order_id, request, now, scenario))
            self.orders[order_id] = order
            self._idempotency[(account, idempotency_key)] = _IdempotencyRecord(
                body_fingerprint, order_id, now)
            return CreateResult(order, replayed=False)

    def get_order(self, account: str, order_id: str) -> SupplierOrder:
        with self._lock:
            order = self.orders.get(order_id)
            if order is None or order.account != account:
                raise ApiError(404, "order_not_found", f"no order {order_id}")
            return order

    def cancel_order(self, account: str, order_id: str) -> SupplierOrder:
        with self._lock:
            order = self.get_order(account, order_id)
            now = self.clock.now()
            status = order.status_at(now)
            if status is OrderStatus.CANCELLED:
                return order
            if status is OrderStatus.SHIPPED:
                raise ApiError(409, "order_not_cancellable",
                               "the order has shipped and can no longer be cancelled",
                               {"status": status.value})
            order.cancelled_at = now
            for line in order.request.lines:
                self.stock[line.supplier_sku] = self.stock.get(line.supplier_sku, 0) \
                    + line.quantity
            return order

    def _order(self, order_id: str) -> SupplierOrder:
        order = self.orders.get(order_id)
        if order is None:
            raise KeyError(f"no order {order_id}")
        return order

    def _check_address(self, request: OrderRequest) -> None:
        problems = address_problems(request.recipient)
        if problems:
            raise ApiError.validation(
                [p.as_json() for p in problems], code="invalid_address",
                message="the recipient address cannot be shipped to")

    def _check_duplicate(self, account: str, request: OrderRequest) -> None:
        for order in self.orders.values():
            same = (order.account, order.request.store, order.request.order_number) == (
                account, request.store, request.order_number)
            if same and order.cancelled_at is None:
                raise ApiError(409, "duplicate_order",
                               "an order with this external reference exists already",
                               {"order_id": order.id})

    def _check_stock(self, request: OrderRequest) -> None:
        unknown = [{"field": f"lines[{i}].supplier_sku", "code": "unknown_sku",
                    "message": f"no product {line.supplier_sku!r} in the catalog"}
                   for i, line in enumerate(request.lines) if line.supplier_sku not in self.stock]
        if unknown:
            raise ApiError.validation(unknown)
        wanted: Counter[str] = Counter()
        for line in request.lines:
            wanted[line.supplier_sku] += line.quantity
        short = [{"supplier_sku": sku, "requested": qty, "available": self.stock[sku]}
                 for sku, qty in wanted.items() if self.stock[sku] < qty]
        if short:
            raise ApiError(422, "out_of_stock", "some items are out of stock; nothing was ordered",
                           {"lines": short})

    def _marked_scenario(self, request: OrderRequest) -> Scenario | None:
        """The scenario named by a ``[sandbox:<scenario>]`` marker in the recipient, if any."""
        for key in ("name", "address1", "address2"):
            marker = SCENARIO_MARKER.search(request.recipient.get(key, ""))
            if marker is None:
                continue
            try:
                return Scenario(marker.group(1).lower())
            except ValueError:
                raise ApiError.validation([{
                    "field": f"recipient.{key}", "code": "unknown_scenario",
                    "message": f"no sandbox scenario {marker.group(1)!r}; one of "
                               + ", ".join(s.value for s in Scenario)}]) from None
        return None

    def _choose_scenario(self, request: OrderRequest, marked: Scenario | None) -> Scenario:
        """A seed for the order number, else the recipient marker, else the queue, else chance."""
        seeded = self._scenario_by_order_number.get(request.order_number)
        if seeded is not None:
            return seeded
        if marked is not None:
            return marked
        if self._next_scenarios:
            return self._next_scenarios.popleft()
        return pick_scenario(random.Random(f"{self.seed}:scenario:{self._sequence + 1}"),
                             self.scenario_weights)

    def _plan(self, order_id: str, request: OrderRequest, placed_at: datetime,
              scenario: Scenario) -> ShipmentPlan:
        rng = random.Random(f"{self.seed}:plan:{order_id}")
        recipient = request.recipient
        destination = Destination(recipient["country"], recipient["city"],
                                  recipient.get("province", ""), recipient.get("postcode", ""))

        def new_number(code: CarrierCode) -> str:
            while True:
                number = new_tracking_number(code, rng)
                if number not in self._numbers:
                    self._numbers[number] = (order_id, -1, -1)  # reserved; indexed below
                    return number

        plan = plan_shipment(order_id=order_id, scenario=scenario,
                             line_count=len(request.lines), destination=destination,
                             placed_at=placed_at, rng=rng, new_number=new_number,
                             express=request.shipping_method == "express")
        for parcel_index, parcel in enumerate(plan.parcels):
            for leg_index, leg in enumerate(parcel.legs):
                self._numbers[leg.tracking_number] = (order_id, parcel_index, leg_index)
        return plan

    # --- tracking ---------------------------------------------------------------------------

    def track(self, account: str, tracking_number: str) -> TrackedNumber | None:
        """The number's visible tracking, or None if unknown (or not visible yet) to ``account``."""
        with self._lock:
            now = self.clock.now()
            located = self._numbers.get(tracking_number)
            if located is None or located[1] < 0:
                return None
            order_id, parcel_index, leg_index = located
            order = self.orders.get(order_id)
            if order is None or order.account != account:
                return None
            parcel = order.plan.parcels[parcel_index]
            leg = parcel.legs[leg_index]
            if parcel not in order.parcels_at(now) or leg.assigned_at > now:
                return None
            events = [e for e in parcel.events
                      if e.tracking_number == tracking_number and e.happened_at <= now]
            newer = parcel.legs[leg_index + 1] if leg_index + 1 < len(parcel.legs) else None
            older = parcel.legs[leg_index - 1] if leg_index > 0 else None
            replaced_by = newer if newer is not None and newer.assigned_at <= now else None
            return TrackedNumber(order, parcel, leg, events, replaced_by, older)

    # --- push -------------------------------------------------------------------------------

    def collect_notifications(self) -> int:
        """Queue a push for every order status change and carrier event the clock has passed."""
        queued = 0
        with self._lock:
            now = self.clock.now()
            for order in self.orders.values():
                status = order.status_at(now)
                if self._notified.order_status.get(order.id) is not status:
                    self._notified.order_status[order.id] = status
                    queued += self.push.enqueue(
                        order.account, f"evt_{order.id}_status_{status.value}",
                        "order.updated", {"order": order_json(order, now, self.public_url)}, now)
                for parcel in order.parcels_at(now):
                    for event in parcel.events:
                        if event.happened_at > now or event.id in self._notified.events:
                            continue
                        self._notified.events.add(event.id)
                        data = {"order_id": order.id, "parcel_id": parcel.id,
                                "external_reference": {"store": order.request.store,
                                                       "order_number": order.request.order_number},
                                "event": event_json(event)}
                        queued += self.push.enqueue(order.account, event.id, "tracking.updated",
                                                    data, event.happened_at)
        return queued

    def deliver_due(self) -> list[Any]:
        """Collect what the clock has made visible, then POST every delivery that is due."""
        self.collect_notifications()
        return list(self.push.deliver_due())

    def _ensure_push_thread(self) -> None:
        with self._lock:
            if self.background_push and self._push_thread is None:
                self._push_thread = PeriodicThread(self.deliver_due, self.push_interval_seconds,
                                                   "supplier-sandbox-push")
                self._push_thread.start()

    def close(self) -> None:
        with self._lock:
            thread, self._push_thread = self._push_thread, None
        if thread is not None:
            thread.stop()
        self.push.close()
