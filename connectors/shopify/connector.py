"""The Shopify store connector: fulfillments and fulfillment events for DropTrack's parcels,
and orders modified since a watermark for reconciliation.

Every write is checked against what the store already shows, so a retried job (or a second
worker) never creates a second fulfillment or a second event for the same status:
* the fulfillment is found by the bound id, else by an existing fulfillment with the same
  tracking number, and only then created;
* the tracking number is replaced only when the store shows another one;
* an event is created only when the store has no event with that status at that moment.
When DropTrack knows what the store shows (`ShipmentSnapshot.store_state_known`: its last write
was recorded and no attempt since can have written anything), the fulfillment is not read:
a status change then costs one `fulfillmentEventCreate` (10 points) instead of ~18.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.shopify import graphql as ops
from connectors.shopify import paging, units
from connectors.shopify.client import ShopifyClient, http_client, user_errors
from connectors.shopify.fulfillment import (
    ShownFulfillment,
    already_shown,
    event_input,
    least_advanced,
    line_groups,
    live_fulfillments,
    parse_fulfillment,
    shared,
    tracking_input,
)
from connectors.shopify.mapper import parse_graphql_order
from connectors.shopify.ratelimit import CostLimiter, InProcessLimiter
from connectors.shopify.settings import StoreSettings
from connectors.shopify.tokens import Credentials
from connectors.store_base import OrderPage, ShipmentSnapshot, StoreAccess, WriteResult
from core.clock import Clock, SystemClock
from core.errors import PermanentError


@dataclass
class Environment:
    """Process-wide: one clock and one cost limiter shared by every Shopify connector."""

    clock: Clock = field(default_factory=SystemClock)
    limiter: CostLimiter = field(default_factory=InProcessLimiter)


ENVIRONMENT = Environment()


class ShopifyConnector:
    def __init__(self, client: ShopifyClient, settings: StoreSettings) -> None:
        self.client = client
        self.settings = settings

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ write-back
    def write_shipment(self, snapshot: ShipmentSnapshot) -> WriteResult:
        known = self._known(snapshot)
        shown = known or self._find_or_create(snapshot)
        if snapshot.tracking_number and snapshot.tracking_number not in shown.tracking_numbers:
            self._replace_tracking(shown, snapshot)
        event_status = units.fulfillment_event_status(snapshot.status, snapshot.reason)
        if known is not None:  # the store shows the written status's event, nothing newer
            event_shown = snapshot.status == snapshot.written_status
        elif shared(snapshot, shown):  # its events follow the parcel furthest behind
            event_shown = not least_advanced(snapshot, shown) or (
                bool(event_status) and already_shown(shown, str(event_status), None))
        else:
            event_shown = bool(event_status) and already_shown(
                shown, str(event_status), snapshot.status_happened_at)
        if event_status and not event_shown:
            data = self.client.execute(ops.EVENT_CREATE, {
                "fulfillmentEvent": event_input(shown.id, event_status, snapshot)})
            self._raise_user_errors(data.get("fulfillmentEventCreate"), snapshot,
                                    "fulfillment event")
        # A fulfillment is bound to the parcel that made it; parcels that joined it find it
        # again by their number.
        return WriteResult(fulfillment_external_id=None if shared(snapshot, shown) and
                           snapshot.fulfillment_external_id is None else shown.id)

    @staticmethod
    def _known(snapshot: ShipmentSnapshot) -> ShownFulfillment | None:
        """What the store shows, without reading it (10 points instead of ~18 per status
        change), when DropTrack knows: its last write was recorded and nothing since."""
        if not (snapshot.store_state_known and snapshot.fulfillment_external_id
                and snapshot.written_tracking_number) or snapshot.siblings:
            return None  # (a split order's fulfillment may show other parcels too: read it)
        return ShownFulfillment(snapshot.fulfillment_external_id, "",
                                (snapshot.written_tracking_number,))

    def _find_or_create(self, snapshot: ShipmentSnapshot) -> ShownFulfillment:
        if snapshot.fulfillment_external_id:
            return self._fulfillment(snapshot.fulfillment_external_id, snapshot)
        order_id = ops.gid("Order", snapshot.order_external_id)
        order = self._order(order_id, snapshot)
        existing = live_fulfillments(order)
        same_number = self._same_number(existing, snapshot)
        if same_number is not None:  # written before, but the job did not get to bind it
            return self._fulfillment(same_number.id, snapshot)
        groups, problems = line_groups(order, snapshot.lines)
        joined = self._join_sibling(existing, snapshot) if not groups else None
        if joined is not None:
            return joined
        if problems or not groups:
            raise PermanentError(f"order {snapshot.order_number}: cannot fulfil: "
                                 + ("; ".join(problems) or "nothing open for fulfillment"))
        data = self.client.execute(ops.FULFILLMENT_CREATE, {"fulfillment": {
            "lineItemsByFulfillmentOrder": groups, "trackingInfo": tracking_input(snapshot),
            # Shopify's shipping confirmation, on the first shipment of the order only.
            "notifyCustomer": self.settings.notify_customer and not existing}})
        payload = data.get("fulfillmentCreate")
        if user_errors(payload):
            # Refused because the lines are fulfilled already? If by this very parcel (a run
            # of this job that stalled past its lease, then finished), that is success.
            raced = self._same_number(live_fulfillments(self._order(order_id, snapshot)),
                                      snapshot)
            if raced is not None:
                return self._fulfillment(raced.id, snapshot)
        self._raise_user_errors(payload, snapshot, "fulfillment")
        created = parse_fulfillment((payload or {}).get("fulfillment"))
        if created is None:
            raise PermanentError(f"order {snapshot.order_number}: Shopify returned no fulfillment")
        return ShownFulfillment(created.id, created.status, (snapshot.tracking_number,))

    def _order(self, order_id: str, snapshot: ShipmentSnapshot) -> dict[str, Any]:
        order = self.client.execute(ops.ORDER_FULFILLMENTS, {"id": order_id}).get("order")
        if not isinstance(order, dict):
            raise PermanentError(f"order {snapshot.order_number}: not found in Shopify")
        paging.complete_fulfillment_orders(self.client, order)
        if paging.incomplete(order):
            raise PermanentError(f"order {snapshot.order_number}: Shopify did not give all its "
                                 "fulfillment orders")
        return order

    @staticmethod
    def _same_number(fulfillments: list[ShownFulfillment],
                     snapshot: ShipmentSnapshot) -> ShownFulfillment | None:
        """The live fulfillment that already carries this parcel's tracking number."""
        return next((f for f in fulfillments
                     if snapshot.tracking_number in f.tracking_numbers), None)

    def _fulfillment(self, fulfillment_id: str, snapshot: ShipmentSnapshot) -> ShownFulfillment:
        data = self.client.execute(ops.FULFILLMENT_STATE, {"id": fulfillment_id})
        shown = parse_fulfillment(data.get("fulfillment"))
        if shown is None:
            raise PermanentError(f"order {snapshot.order_number}: fulfillment {fulfillment_id} "
                                 "no longer exists in Shopify")
        return shown

    def _join_sibling(self, existing: list[ShownFulfillment],
                      snapshot: ShipmentSnapshot) -> ShownFulfillment | None:
        """Nothing of this parcel's lines is open because an earlier parcel of the same
        supplier order fulfilled them (the supplier split the order without saying which
        parcel holds which line): the parcel joins that fulfillment with its own number."""
        target = next((f for f in existing if shared(snapshot, f)), None)
        if target is None:
            return None
        shown = self._fulfillment(target.id, snapshot)
        self._replace_tracking(shown, snapshot)
        return ShownFulfillment(shown.id, shown.status,
                                (*shown.tracking_numbers, snapshot.tracking_number),
                                shown.events)

    def _replace_tracking(self, shown: ShownFulfillment, snapshot: ShipmentSnapshot) -> None:
        """This parcel's number (new, or corrected by the supplier) on its fulfillment; the
        other parcels a shared fulfillment shows keep theirs."""
        keep = [t for t in shown.tracking if t.number not in (
            snapshot.written_tracking_number, snapshot.tracking_number)] \
            if shared(snapshot, shown) else []
        data = self.client.execute(ops.TRACKING_UPDATE, {
            "fulfillmentId": shown.id, "trackingInfoInput": tracking_input(snapshot, keep),
            "notifyCustomer": False})
        self._raise_user_errors(data.get("fulfillmentTrackingInfoUpdate"), snapshot,
                                "tracking number")

    @staticmethod
    def _raise_user_errors(payload: object, snapshot: ShipmentSnapshot, what: str) -> None:
        errors = user_errors(payload)
        if errors:
            raise PermanentError(f"order {snapshot.order_number}: Shopify refused the {what}: "
                                 + "; ".join(errors))

    # ------------------------------------------------------------------ reconciliation
    def orders_modified_since(self, since: datetime, cursor: str | None = None) -> OrderPage:
        moment = since.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        data = self.client.execute(ops.ORDERS_MODIFIED, {
            "query": f"updated_at:>='{moment}'", "after": cursor})
        connection = data.get("orders") or {}
        orders, problems = [], []
        for node in connection.get("nodes") or []:
            order, issues = parse_graphql_order(paging.complete_order_lines(self.client, node))
            if order is None:
                problems.append(f"order {node.get('name') or node.get('id')}: "
                                + "; ".join(issues))
            else:
                orders.append(order)
        page_info = connection.get("pageInfo") or {}
        return OrderPage(orders, problems,
                         page_info.get("endCursor") if page_info.get("hasNextPage") else None)


def client_for(access: StoreAccess, environment: Environment | None = None) -> ShopifyClient:
    env = environment or ENVIRONMENT
    settings = StoreSettings.parse(access.settings, allow_override=access.allow_loopback_http)
    return ShopifyClient(
        access.domain, Credentials.from_dict(access.credentials),
        api_version=settings.api_version, http=http_client(settings.admin_base_url),
        limiter=env.limiter, clock=env.clock, save_credentials=access.save_credentials)


def build(access: StoreAccess, environment: Environment | None = None) -> ShopifyConnector:
    settings = StoreSettings.parse(access.settings, allow_override=access.allow_loopback_http)
    return ShopifyConnector(client_for(access, environment), settings)
