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
from datetime import date, datetime
from typing import Any

from connectors.parsing import text, timestamp
from connectors.request_limits import InProcessRequestLimiter, RequestLimiter, limit_requests
from connectors.store_base import OrderPage, ShipmentSnapshot, StoreAccess, WriteResult
from connectors.url_safety import UnsafeURLError, check_outbound_url
from connectors.woocommerce import mapper, units
from connectors.woocommerce.capabilities import TRACKING_NAMESPACE, Capabilities, probe
from connectors.woocommerce.client import MAX_PER_PAGE, NotFound, WooCommerceClient
from connectors.woocommerce.cursor import Cursor, advance, wc_time
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


StatusSight = tuple[str, datetime | None]  # (status, the store's modification time)


class OrderDeleted(PermanentError):
    """The order no longer exists in the store; nothing can be written to it."""


class WooCommerceConnector:
    def __init__(self, client: WooCommerceClient, settings: StoreSettings,
                 on_probe: Callable[[Capabilities], None] | None = None,
                 page_size: int = MAX_PER_PAGE) -> None:
        self.client = client
        self.page_size = page_size
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
            tracked = self._write_fulfillment(snapshot) or tracked
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
        shipped_on = (snapshot.status_happened_at.date()
                      if snapshot.status is Status.INFO_RECEIVED and snapshot.status_happened_at
                      else None)
        for item in items:
            if item.tracking_number == snapshot.tracking_number:
                self._keep_ship_date(snapshot, item, shipped_on)
                return True
        replaced = snapshot.written_tracking_number
        for item in items:
            if replaced and item.tracking_number == replaced:
                self.client.delete(f"{route}/{item.tracking_id}", namespace=TRACKING_NAMESPACE,
                                   what=f"removing the replaced number {replaced}")
        provider = mapper.known_provider(self.capabilities().providers, snapshot.carrier,
                                         snapshot.shopify_company)
        body = mapper.build_tracking_item(snapshot.tracking_number, snapshot.carrier,
                                          snapshot.tracking_url, provider, shipped_on)
        created = self.client.post(route, body, namespace=TRACKING_NAMESPACE,
                                   what=f"adding tracking to order {snapshot.order_number}")
        made, _ = mapper.parse_tracking_items([created])
        if made:
            self._keep_ship_date(snapshot, made[0], shipped_on)
        return True

    def _write_fulfillment(self, snapshot: ShipmentSnapshot) -> bool:
        """Where core's Order Fulfillments are on, one fulfillment per parcel number (read
        first, so a retry adds none; a replaced number's fulfillment is removed). The store
        sends no e-mail for it: the customer note does the telling."""
        if not snapshot.tracking_number or not self.capabilities().fulfillments:
            return False
        route = f"orders/{snapshot.order_external_id}/fulfillments"
        existing = mapper.fulfillment_numbers(self.client.get(
            route, what=f"reading the fulfillments of order {snapshot.order_number}"))
        if snapshot.tracking_number in existing:
            return True
        replaced = snapshot.written_tracking_number
        if replaced and replaced in existing:
            self.client.delete(f"{route}/{existing[replaced]}",
                               what=f"removing the fulfillment of replaced number {replaced}")
        provider = mapper.known_provider(self.capabilities().providers, snapshot.carrier,
                                         snapshot.shopify_company) or snapshot.carrier
        body = mapper.build_fulfillment(
            snapshot.tracking_number, provider, snapshot.tracking_url,
            [(line.external_id, line.quantity) for line in snapshot.lines])
        self.client.request("POST", route, json_body=body, params={"notify_customer": "false"},
                            what=f"adding a fulfillment to order {snapshot.order_number}")
        return True

    def _keep_ship_date(self, snapshot: ShipmentSnapshot, item: mapper.TrackingItem,
                        shipped_on: date | None) -> None:
        """Make the item show the day the parcel shipped. AST parses `date_shipped` with its
        "API date format" setting, which a fresh install leaves empty: the date is then lost
        and today's shown. The item is corrected in the order's tracking meta, where both
        plugins keep it (the REST routes offer no update)."""
        if shipped_on is None or not item.date_shipped or item.date_shipped == str(shipped_on):
            return
        route = f"orders/{snapshot.order_external_id}"
        found = mapper.tracking_meta(self.client.get(
            route, params={"_fields": "id,meta_data"},
            what=f"reading the tracking of order {snapshot.order_number}"))
        if found is None:
            return
        meta_id, raw_items = found
        fixed = mapper.with_ship_date(raw_items, item.tracking_id, shipped_on)
        if fixed is None:
            return
        self.client.put(route, {"meta_data": [{"id": meta_id, "key": mapper.TRACKING_META_KEY,
                                               "value": fixed}]},
                        params={"_fields": "id"},
                        what=f"setting the ship date of order {snapshot.order_number}")

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
        """The order's status, as a batched flush would set it: an order with parts still to
        ship is partly shipped (or left processing), whatever this parcel's status."""
        if snapshot.order_status is None:
            status, reason = snapshot.status, snapshot.reason
        else:
            status, reason = snapshot.order_status, snapshot.order_reason
        target = units.flush_target(status, reason, complete_on=self.settings.complete_on,
                                    partial_shipped=self.capabilities().partial_shipped)
        route = f"orders/{snapshot.order_external_id}"
        current = self.client.get(route, params={"_fields": "id,status"},
                                  what=f"reading order {snapshot.order_number}")
        shown = text(current.get("status")) if isinstance(current, dict) else ""
        if units.may_move(shown, target):
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

    def statuses_changed_since(self, since: datetime, max_pages: int,
                               ) -> dict[str, StatusSight] | None:
        """Every order modified after `since`: id -> (status, modification time), 100 per call,
        or None (stop reading) when that takes more than `max_pages` calls.

        Two listings: `status=any` leaves trashed orders out (WordPress's "any" excludes
        trash), and a merchant's trash is a status DropTrack must not undo, so trashed orders
        changed since are listed on their own. Sorted by id, which is unique and stable: an
        order modified again while the pages are read stays in the list at its place."""
        found: dict[str, StatusSight] = {}
        left = max_pages
        for status in ("any", "trash"):
            number = 1
            while True:
                items, pages = self.client.page("orders", {
                    "modified_after": wc_time(since), "dates_are_gmt": "true",
                    "status": status, "orderby": "id", "order": "asc",
                    "per_page": MAX_PER_PAGE, "_fields": "id,status,date_modified_gmt"},
                    number, what="reading the orders changed since the last status flush")
                left -= 1
                if number == 1 and pages - 1 + (1 if status == "any" else 0) > left:
                    return None  # cheaper to read the orders themselves
                found.update(mapper.parse_status_sights(items))
                if number >= pages or not items:
                    break
                number += 1
        return found

    def update_statuses(self, statuses: dict[str, str], previous: dict[str, str] | None = None,
                        seen: dict[str, StatusSight] | None = None,
                        ) -> tuple[list[str], list[str]]:
        """Set statuses through orders/batch, 100 per call: (updated ids, problems).

        Each item's answer is what the store did, and it is checked: WooCommerce answers 200
        for a status it does not know (a plugin's, switched off) and sets the order to
        "pending" instead. Such an order is put back to its `previous` status with a single
        PUT (which validates the status), reported as a problem, and the store's statuses are
        probed again. `seen`, when given, gets each updated order's status and modification
        time from the answer (what DropTrack's own write left)."""
        done: list[str] = []
        problems: list[str] = []
        refused = False
        items = list(statuses.items())
        for start in range(0, len(items), MAX_PER_PAGE):
            chunk = dict(items[start:start + MAX_PER_PAGE])
            answer = self.client.post("orders/batch", mapper.build_status_batch(chunk),
                                      what="updating order statuses in a batch")
            shown, failed = mapper.parse_batch_update(answer)
            problems += failed
            if seen is not None and isinstance(answer, dict):
                seen.update(mapper.parse_status_sights(answer.get("update")))
            for order_id, status in shown.items():
                wanted = chunk.get(order_id)
                if status == wanted:
                    done.append(order_id)
                    continue
                refused = True
                problems.append(f"order {order_id}: the store did not accept the status "
                                f"{wanted!r} and shows {status!r}")
                before = (previous or {}).get(order_id)
                if before and status != before:
                    self.client.put(f"orders/{order_id}", {"status": before},
                                    params={"_fields": "id,status"},
                                    what=f"putting order {order_id} back to {before}")
        if refused:
            self.capabilities(fresh=True)
        return done, problems

    # -- reconciliation ------------------------------------------------------------------------

    def orders_modified_since(self, since: datetime, cursor: str | None = None) -> OrderPage:
        """One page of the orders changed after `since`, through a cursor that neither skips
        nor repeats an order when many share a modified second (see cursor.py)."""
        position = Cursor.decode(cursor, since)
        raw, _ = self.client.page("orders", position.params(self.page_size), 1,
                                  what="reading orders changed since the last poll")
        entries = [entry for entry in raw if isinstance(entry, dict)]
        keys = [(int(entry.get("id") or 0), _modified(entry) or position.second)
                for entry in entries]
        step = advance(position, keys, self.page_size)
        orders = []
        problems: list[str] = [] if len(entries) == len(raw) else [
            "an order that is not an object"]
        for index in step.take:
            entry = entries[index]
            order, found = mapper.parse_order(entry)
            if order is None:
                problems.append(f"order {entry.get('id')}: " + "; ".join(found))
            else:
                orders.append(order)
        return OrderPage(orders=orders, problems=problems,
                         next_cursor=step.next.encode() if step.next else None)


def _modified(entry: dict[str, Any]) -> datetime | None:
    return timestamp(entry.get("date_modified_gmt")) or timestamp(entry.get("date_modified"))


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
