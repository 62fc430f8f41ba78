"""What the person running the demo reads: order events as they happen, the alerts that need the
owner, and the links worth opening, each printed once, as soon as there is something to see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from sqlalchemy import select

from core.status import Status
from core.wording import alert_title, customer_label, owner_label
from demo.orders import SHOPIFY, OrderStream, PlacedOrder
from demo.sandboxes import Sandboxes
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, Order, Shipment

Echo = Callable[[str], None]
BEYOND_SHIPPED = frozenset({Status.IN_TRANSIT, Status.OUT_FOR_DELIVERY, Status.READY_FOR_PICKUP,
                            Status.DELIVERED, Status.UNDELIVERED, Status.EXCEPTION})


def stamp(moment: datetime) -> str:
    return f"[{moment:%a %d %b %H:%M}]"


@dataclass(frozen=True)
class Snapshot:
    status: str
    reason: str
    tracking: str


class Reporter:
    def __init__(self, runtime: Runtime, sandboxes: Sandboxes, stream: OrderStream,
                 store_names: dict[int, str], echo: Echo) -> None:
        self.runtime = runtime
        self.sandboxes = sandboxes
        self.stream = stream
        self.store_names = store_names
        self.echo = echo
        self.public = runtime.settings.app.public_url
        self._seen: dict[int, Snapshot] = {}
        self._alerts: set[int] = set()
        self._printed: set[str] = set()

    def remember_history(self) -> None:
        """A resumed demo: what DropTrack already knew is history, not news. Only changes
        from here on are printed (orders, tracking numbers, alerts)."""
        self._order_events(quiet=True)
        with self.runtime.db.read() as session:
            self._alerts.update(session.scalars(select(Alert.id).where(
                Alert.resolved_at.is_(None))))

    def say(self, text: str) -> None:
        self.echo(f"{stamp(self.runtime.clock.now())} {text}")

    def placed(self, order: PlacedOrder) -> None:
        self.say(f"{order.platform} order {order.number} placed by {order.email} "
                 f"({order.story.value})")

    def tick(self) -> None:
        self._order_events()
        self._attention()
        for order in list(self.stream.placed):
            self._store_page_links(order)

    # -- DropTrack's view ---------------------------------------------------------------------

    def _order_events(self, quiet: bool = False) -> None:
        with self.runtime.db.read() as session:
            rows = session.execute(select(Order.id, Order.store_id, Order.number, Order.status,
                                          Order.reason)).all()
            parcels = dict(session.execute(select(Shipment.order_id, Shipment.tracking_number)
                                           .where(Shipment.tracking_number != "")).all())
        for order_id, store_id, number, status, reason in rows:
            now = Snapshot(status, reason or "", parcels.get(order_id, ""))
            before = self._seen.get(order_id)
            self._seen[order_id] = now
            if before == now or quiet:
                continue
            where = self.store_names.get(store_id, f"store {store_id}")
            if before is None or before.status != now.status or before.reason != now.reason:
                self.say(f"  DropTrack: {where} {number} -> {self._describe(now)}")
            elif before.tracking != now.tracking:
                self.say(f"  DropTrack: {where} {number} tracking {now.tracking}")

    @staticmethod
    def _describe(snapshot: Snapshot) -> str:
        status = Status.parse(snapshot.status)
        text = owner_label(status, snapshot.reason or None)
        if status is Status.PROCESSING:
            text += " (forwarded to the supplier)"
        if snapshot.tracking and status is Status.INFO_RECEIVED:
            text += f", tracking {snapshot.tracking}"
        return text

    def _attention(self) -> None:
        with self.runtime.db.read() as session:
            rows = session.execute(select(Alert.id, Alert.kind, Order.number)
                                   .outerjoin(Order, Order.id == Alert.order_id)
                                   .where(Alert.resolved_at.is_(None))).all()
        for alert_id, kind, number in rows:
            if alert_id in self._alerts:
                continue
            self._alerts.add(alert_id)
            title = alert_title(kind)
            self.say(f"! Needs attention: {title}{f' on order {number}' if number else ''}"
                     f" -> {self.public}/admin/attention")

    # -- the stores' own pages ---------------------------------------------------------------

    def _store_page_links(self, order: PlacedOrder) -> None:
        tracking = (self._shopify_tracking(order) if order.platform == SHOPIFY
                    else self._woocommerce_tracking(order))
        if not tracking:
            return
        self._once(f"tracked:{order.platform}",
                   f"-> {order.platform} customer order page, order {order.number} now shows "
                   f"tracking {tracking}:\n     {order.customer_page}")
        self._once("track-page",
                   f"-> DropTrack's own tracking page (order {order.number}, e-mail "
                   f"{order.email}):\n     {self.public}/track?order={quote(order.number)}")
        snapshot = self._seen_by_number(order)
        if snapshot is not None and Status.parse(snapshot.status) in BEYOND_SHIPPED:
            status = Status.parse(snapshot.status)
            self._once(f"beyond:{order.platform}",
                       f"-> {order.platform} order {order.number} is now "
                       f"'{customer_label(status)}' on the store's page:\n"
                       f"     {order.customer_page}")

    def _seen_by_number(self, order: PlacedOrder) -> Snapshot | None:
        with self.runtime.db.read() as session:
            order_id = session.scalar(select(Order.id).where(Order.number == order.number,
                                                             Order.email == order.email))
        return self._seen.get(order_id) if order_id is not None else None

    def _shopify_tracking(self, order: PlacedOrder) -> str:
        """The tracking number on the Shopify order (what its status page shows), or ""."""
        state = self.sandboxes.shopify.state
        with state.lock:
            found = state.orders.get(order.external_id)
            for fulfillment_id in found.fulfillment_ids if found else []:
                for info in state.fulfillments[fulfillment_id].tracking:
                    if info.number:
                        return info.number
        return ""

    def _woocommerce_tracking(self, order: PlacedOrder) -> str:
        """The tracking number on the WooCommerce order (its View order page), or ""."""
        store = self.sandboxes.woocommerce
        if store.find_order(order.external_id) is None:
            return ""
        items = store.tracking_items(order.external_id)
        return str(items[0].get("tracking_number", "")) if items else ""

    def _once(self, key: str, text: str) -> None:
        if key not in self._printed:
            self._printed.add(key)
            self.say(text)

    # -- a summary now and then ----------------------------------------------------------------

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for snapshot in self._seen.values():
            counts[snapshot.status] = counts.get(snapshot.status, 0) + 1
        order = [status.value for status in Status]
        parts = [f"{counts[s]} {owner_label(s).lower()}" for s in sorted(
            counts, key=lambda s: order.index(s) if s in order else len(order))]
        return f"{len(self._seen)} orders in DropTrack: " + ", ".join(parts)
