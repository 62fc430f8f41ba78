"""The WooCommerce store connector: tracking write-back and order reads for reconciliation.

A shipment is shown the most portable way the store allows (see capabilities.py): a tracking
item (the plugin's provider, or a custom provider and link), then one customer note per status
reached (WooCommerce emails it and shows it under "Order updates"), then the order status
(in "immediate" mode; in "batched" mode the status sweep sets it through orders/batch).
Every step reads before it writes, so a retried job never adds a second item or note, except
when DropTrack knows what the store shows (`ShipmentSnapshot.store_state_known`: its last write
was recorded and no attempt since can have written anything).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connectors.parsing import text
from connectors.request_limits import InProcessRequestLimiter, RequestLimiter, limit_requests
from connectors.store_base import OrderPage, ShipmentSnapshot, StoreAccess, WriteResult
from connectors.url_safety import UnsafeURLError, check_outbound_url
from connectors.woocommerce import mapper, units
from connectors.woocommerce.capabilities import TRACKING_NAMESPACE, Capabilities, probe
from connectors.woocommerce.client import MAX_PER_PAGE, NotFound, WooCommerceClient
from connectors.woocommerce.settings import StoreSettings, merged
from core.errors import PermanentError
from core.status import Status

log = logging.getLogger(__name__)

# Statuses whose note names the parcel: in notes-only mode the note carries the link too.
_NOTE_WITH_LINK = frozenset({Status.INFO_RECEIVED, Status.IN_TRANSIT})


@dataclass
class Environment:
    """Process-wide: the request limiter every WooCommerce connector shares (swapped for the
    Redis-backed one in worker processes, see integration/limits/redis_limits.py)."""

    limiter: RequestLimiter = field(default_factory=InProcessRequestLimiter)


ENVIRONMENT = Environment()


class OrderDeleted(PermanentError):
    """The order no longer exists in the store; nothing can be written to it."""


class WooCommerceConnector:
    def __init__(self, client: WooCommerceClient, settings: StoreSettings,
                 on_probe: Callable[[Capabilities], None] | None = None) -> None:
        self.client = client
        self.settings = settings
        self._capabilities = Capabilities.from_settings(settings.capabilities)
        self._on_probe = on_probe

    def close(self) -> None:
        self.client.close()

    # -- capabilities --------------------------------------------------------------------------

    def capabilities(self, fresh: bool = False) -> Capabilities:
        if fresh or self._capabilities is None:
            self._capabilities = probe(self.client)
            if self._on_probe is not None:
                self._on_probe(self._capabilities)
        return self._capabilities

    # -- write-back ----------------------------------------------------------------------------

    def write_shipment(self, snapshot: ShipmentSnapshot) -> WriteResult:
        order_id = snapshot.order_external_id
        if not order_id.isdigit():
            raise PermanentError(f"order {snapshot.order_number}: no WooCommerce order id")
        try:
            tracked = self._write_tracking_item(snapshot)
            self._write_note(snapshot, tracked)
            if self.settings.status_updates == "immediate":
                self._write_status(snapshot)
        except NotFound as missing:
            if missing.no_route:
                raise
            raise OrderDeleted(f"order {snapshot.order_number} (#{order_id}) no longer exists "
                               f"in {self.client.site_url}: it was deleted or trashed, so "
                               "its tracking cannot be shown there") from missing
        return WriteResult()

    def _write_tracking_item(self, snapshot: ShipmentSnapshot) -> bool:
        """Make the order show exactly one item for this parcel's number. False: notes only."""
        if not snapshot.tracking_number or not self.capabilities().tracking:
            return False
        if snapshot.store_state_known and (
                snapshot.written_tracking_number == snapshot.tracking_number):
            return True  # written by DropTrack's last recorded write: no read needed
        route = f"orders/{snapshot.order_external_id}/shipment-trackings"
        try:
            raw = self.client.get(route, namespace=TRACKING_NAMESPACE,
                                  what=f"reading the tracking of order {snapshot.order_number}")
        except NotFound as missing:
            if not missing.no_route:
                raise
            log.info("%s: shipment-tracking routes gone, probing again", self.client.site_url)
            return self.capabilities(fresh=True).tracking and self._write_tracking_item(snapshot)
        items, problems = mapper.parse_tracking_items(raw)
        if problems:
            raise PermanentError("; ".join(problems))
        if any(item.tracking_number == snapshot.tracking_number for item in items):
            return True
        replaced = snapshot.written_tracking_number
        for item in items:
            if replaced and item.tracking_number == replaced:
                self.client.delete(f"{route}/{item.tracking_id}", namespace=TRACKING_NAMESPACE,
                                   what=f"removing the replaced number {replaced}")
        provider = mapper.known_provider(self.capabilities().providers, snapshot.carrier,
                                         snapshot.shopify_company)
        shipped_on = (snapshot.status_happened_at.date()
                      if snapshot.status is Status.INFO_RECEIVED and snapshot.status_happened_at
                      else None)
        body = mapper.build_tracking_item(snapshot.tracking_number, snapshot.carrier,
                                          snapshot.tracking_url, provider, shipped_on)
        self.client.post(route, body, namespace=TRACKING_NAMESPACE,
                         what=f"adding tracking to order {snapshot.order_number}")
        return True

    def _write_note(self, snapshot: ShipmentSnapshot, tracked: bool) -> None:
        note = snapshot.customer_note
        if not note:
            return
        if not tracked and snapshot.tracking_url and snapshot.status in _NOTE_WITH_LINK:
            note += f" Track your parcel: {snapshot.tracking_url}"
        route = f"orders/{snapshot.order_external_id}/notes"
        # A status reached for the first time with nothing written since the last recorded
        # write cannot have its note yet; otherwise look, so a note is never sent twice.
        first_time = (snapshot.store_state_known and snapshot.status != snapshot.written_status
                      and not snapshot.status_reached_before)
        if not first_time and note in mapper.parse_customer_notes(self.client.get(
                route, params={"type": "customer"},
                what=f"reading the notes of order {snapshot.order_number}")):
            return
        self.client.post(route, {"note": note, "customer_note": True},
                         what=f"adding a customer note to order {snapshot.order_number}")

    def _write_status(self, snapshot: ShipmentSnapshot) -> None:
        target = units.order_status(snapshot.status, snapshot.reason,
                                    complete_on=self.settings.complete_on)
        route = f"orders/{snapshot.order_external_id}"
        current = self.client.get(route, params={"_fields": "id,status"},
                                  what=f"reading order {snapshot.order_number}")
        status = text(current.get("status")) if isinstance(current, dict) else ""
        if units.may_move(status, target):
            self.client.put(route, {"status": target},
                            what=f"setting order {snapshot.order_number} to {target}")

    # -- bulk status ---------------------------------------------------------------------------

    def current_statuses(self, order_ids: list[str]) -> dict[str, str]:
        """order id -> status now, 100 orders per call."""
        found: dict[str, str] = {}
        for start in range(0, len(order_ids), MAX_PER_PAGE):
            chunk = order_ids[start:start + MAX_PER_PAGE]
            data = self.client.get("orders", params={
                "include": ",".join(chunk), "per_page": MAX_PER_PAGE, "status": "any",
                "_fields": "id,status"}, what="reading order statuses")
            found.update(mapper.parse_statuses(data))
        return found

    def update_statuses(self, statuses: dict[str, str]) -> tuple[list[str], list[str]]:
        """Set statuses through orders/batch, 100 per call: (updated ids, problems)."""
        done: list[str] = []
        problems: list[str] = []
        items = list(statuses.items())
        for start in range(0, len(items), MAX_PER_PAGE):
            chunk = dict(items[start:start + MAX_PER_PAGE])
            answer = self.client.post("orders/batch", mapper.build_status_batch(chunk),
                                      what="updating order statuses in a batch")
            updated, failed = mapper.parse_batch_update(answer)
            done += updated
            problems += failed
        return done, problems

    # -- reconciliation ------------------------------------------------------------------------

    def orders_modified_since(self, since: datetime, cursor: str | None = None) -> OrderPage:
        page = int(cursor) if cursor and cursor.isdigit() else 1
        params: dict[str, str | int] = {
            "modified_after": since.strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true",
            "orderby": "modified", "order": "asc", "per_page": MAX_PER_PAGE,
        }
        raw, total = self.client.page("orders", params, page,
                                      what="reading orders changed since the last poll")
        orders = []
        problems: list[str] = []
        for entry in raw:
            if not isinstance(entry, dict):
                problems.append("an order that is not an object")
                continue
            order, found = mapper.parse_order(entry)
            if order is None:
                problems.append(f"order {entry.get('id')}: " + "; ".join(found))
            else:
                orders.append(order)
        return OrderPage(orders=orders, problems=problems,
                         next_cursor=str(page + 1) if page < total else None)


def build_client(access: StoreAccess, settings: StoreSettings) -> WooCommerceClient:
    try:
        check_outbound_url(access.domain, allow_loopback_http=access.allow_loopback_http)
    except UnsafeURLError as unsafe:
        raise PermanentError(f"store {access.store_id}: {unsafe}") from None
    key = access.credentials.get("consumer_key", "")
    secret = access.credentials.get("consumer_secret", "")
    if not key or not secret:
        raise PermanentError(f"store {access.store_id}: no API keys stored; reconnect it")
    client = WooCommerceClient(
        access.domain, key, secret, verify=settings.verify,
        timeout=(settings.connect_timeout_seconds, settings.read_timeout_seconds))
    # No cap of our own (WooCommerce publishes none), but a 429/503 Retry-After from the site
    # pauses it for every connector sharing the limiter, not just the one that was told.
    limit_requests(client.http, ENVIRONMENT.limiter, f"woocommerce:{access.domain}", 0.0)
    return client


def build(access: StoreAccess,
          on_probe: Callable[[Capabilities], None] | None = None) -> WooCommerceConnector:
    try:
        settings = StoreSettings.from_store(access.settings)
    except ValueError as bad:
        raise PermanentError(f"store {access.store_id}: {bad}") from None
    if on_probe is None and access.save_settings is not None:
        save, current = access.save_settings, access.settings

        def on_probe(found: Capabilities) -> None:
            save(merged(current, capabilities=found.to_settings()))

    return WooCommerceConnector(build_client(access, settings), settings, on_probe)
