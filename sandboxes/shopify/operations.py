"""Admin API write operations with Shopify's validation order and userError wording.

Messages and `field` paths are the ones live Shopify returned in the recordings under
shared/contracts/shopify/live_graphql_recordings_draft_proxy. Pure logic: no Flask, no HTTP.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sandboxes.shopify.state import (
    Fulfillment,
    FulfillmentEvent,
    FulfillmentLineItem,
    FulfillmentOrder,
    FulfillmentService,
    Location,
    SandboxState,
    TrackingInfo,
    WebhookSubscription,
    parse_gid,
)

UserError = dict[str, Any]

OPEN_FULFILLMENT_ORDER_STATUSES = ("OPEN", "IN_PROGRESS")
SUBSCRIPTION_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
SUPPORTED_ADDRESS_SCHEMES = ("https", "http", "pubsub", "arn")
USER_ERROR_FOR_UNKNOWN_FULFILLMENT_ORDER = "2026-04"
"""The first API version known (recorded) to answer an unknown first fulfillment order of
fulfillmentCreate with a userError; earlier ones are given the 2025-01 top-level error."""
RESERVED_SERVICE_HANDLES = frozenset({"manual", "gift_card", "gift-card", "shopify", "amazon"})
"""Handles Shopify reserves (recorded: Manual, Gift_Card, Shopify, Amazon -> "Name is
reserved")."""


def service_handle(name: str) -> str:
    """Shopify's handle of a fulfillment service name (recorded: Latin diacritics transliterated,
    punctuation runs collapse to one hyphen, underscores kept, trailing punctuation trimmed)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]+", "-", ascii_name.lower()).strip("-")


class ResourceNotFound(Exception):
    """A top-level GraphQL error (`extensions.code = RESOURCE_NOT_FOUND`), not a userError."""


def user_error(field: list[str] | None, message: str) -> UserError:
    return {"field": field, "message": message}


@dataclass
class Result:
    value: Any
    user_errors: list[UserError]


def _parse_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _tracking_from_input(data: dict[str, Any] | None) -> list[TrackingInfo]:
    if not data:
        return []
    company = data.get("company")
    numbers = list(data.get("numbers") or []) or ([data["number"]] if data.get("number") else [])
    urls = list(data.get("urls") or []) or ([data["url"]] if data.get("url") else [])
    if not numbers:
        return [TrackingInfo(company=company, number=None, url=urls[0] if urls else None)]
    return [TrackingInfo(company=company, number=number, url=urls[i] if i < len(urls) else None)
            for i, number in enumerate(numbers)]


class AdminOperations:
    """The mutations DropTrack uses, for one shop and one app."""

    def __init__(self, state: SandboxState, shop: str, client_id: str,
                 api_version: str = "2026-07") -> None:
        self.state = state
        self.shop = shop
        self.client_id = client_id
        self.api_version = api_version

    # ---------------------------------------------------------------- fulfillmentCreate
    def fulfillment_create(self, data: dict[str, Any]) -> Result:
        groups: list[dict[str, Any]] = data["lineItemsByFulfillmentOrder"]
        with self.state.lock:
            for g, group in enumerate(groups):
                for i, line in enumerate(group.get("fulfillmentOrderLineItems") or []):
                    if int(line["quantity"]) <= 0:
                        return Result(None, [user_error(
                            ["fulfillment", "lineItemsByFulfillmentOrder", str(g),
                             "fulfillmentOrderLineItems", str(i), "quantity"],
                            "Quantity must be greater than 0")])
            fulfillment_orders: list[FulfillmentOrder] = []
            for g, group in enumerate(groups):
                fo = self.state.fulfillment_order_for_shop(
                    self.shop, parse_gid(group["fulfillmentOrderId"], "FulfillmentOrder"))
                if fo is None:
                    # 2025-01 answered an unknown first fulfillment order with a top-level
                    # RESOURCE_NOT_FOUND; 2026-04 with this userError (both recorded live).
                    if g == 0 and self.api_version < USER_ERROR_FOR_UNKNOWN_FULFILLMENT_ORDER:
                        raise ResourceNotFound("invalid id")
                    return Result(None, [user_error(["fulfillment"],
                                                    "Fulfillment order does not exist.")])
                fulfillment_orders.append(fo)
            order_ids = sorted({fo.order_id for fo in fulfillment_orders})
            if len(order_ids) > 1:
                return Result(None, [user_error(["fulfillment"], (
                    "All fulfillment orders must belong to the same order. Multiple orders "
                    f"with ids [{', '.join(map(str, order_ids))}] were found."))])
            location_ids = sorted({fo.location_id for fo in fulfillment_orders})
            if len(location_ids) > 1:
                return Result(None, [user_error(["fulfillment"], (
                    "All fulfillment orders must be assigned to a single location. Multiple "
                    f"locations with ids [{', '.join(map(str, location_ids))}] were found."))])
            for fo in fulfillment_orders:
                if fo.status not in OPEN_FULFILLMENT_ORDER_STATUSES:
                    return Result(None, [user_error(["fulfillment"], (
                        f"Fulfillment order {fo.id} has an unfulfillable "
                        f"status= {fo.status.lower()}."))])
            plan: list[tuple[FulfillmentOrder, int, int]] = []
            for fo, group in zip(fulfillment_orders, groups, strict=True):
                requested = group.get("fulfillmentOrderLineItems")
                if not requested:
                    plan.extend((fo, li.id, li.remaining_quantity)
                                for li in fo.line_items if li.remaining_quantity > 0)
                    continue
                for line in requested:
                    line_id = parse_gid(line["id"], "FulfillmentOrderLineItem")
                    match = next((li for li in fo.line_items if li.id == line_id), None)
                    if match is None:
                        return Result(None, [user_error(
                            ["fulfillment"], "Fulfillment order line item does not exist.")])
                    if int(line["quantity"]) > match.remaining_quantity:
                        return Result(None, [user_error(
                            ["fulfillment"],
                            "Invalid fulfillment order line item quantity requested.")])
                    plan.append((fo, match.id, int(line["quantity"])))
            fulfillment = self._apply_fulfillment(plan, fulfillment_orders,
                                                  _tracking_from_input(data.get("trackingInfo")))
        self.state.emit(self.shop, "fulfillments/create", {"fulfillment_id": fulfillment.id})
        self.state.emit(self.shop, "orders/updated", {"order_id": fulfillment.order_id})
        return Result(fulfillment, [])

    def _apply_fulfillment(self, plan: list[tuple[FulfillmentOrder, int, int]],
                           fulfillment_orders: list[FulfillmentOrder],
                           tracking: list[TrackingInfo]) -> Fulfillment:
        now = self.state.now()
        order = self.state.orders[fulfillment_orders[0].order_id]
        line_items: list[FulfillmentLineItem] = []
        for fo, fo_line_id, quantity in plan:
            fo_line = next(li for li in fo.line_items if li.id == fo_line_id)
            fo_line.remaining_quantity -= quantity
            line_items.append(FulfillmentLineItem(id=self.state.next_id(),
                                                  line_item_id=fo_line.line_item_id,
                                                  quantity=quantity))
        fulfillment = Fulfillment(
            id=self.state.next_id(), order_id=order.id,
            # `#1513-F1`, `#1513-F2`: the names live Shopify gave (fulfillment-create-name)
            name=f"{order.name}-F{len(order.fulfillment_ids) + 1}", created_at=now,
            updated_at=now, tracking=tracking, line_items=line_items,
            fulfillment_order_ids=[fo.id for fo in fulfillment_orders])
        self.state.fulfillments[fulfillment.id] = fulfillment
        order.fulfillment_ids.append(fulfillment.id)
        order.updated_at = now
        for fo in fulfillment_orders:
            fo.fulfillment_ids.append(fulfillment.id)
            fo.updated_at = now
            if all(li.remaining_quantity == 0 for li in fo.line_items):
                fo.status = "CLOSED"
                if fo.request_status == "ACCEPTED":
                    fo.request_status = "CLOSED"
            else:
                fo.status = "IN_PROGRESS"
        return fulfillment

    # ---------------------------------------------------------------- tracking and events
    def fulfillment_tracking_info_update(self, fulfillment_id: str,
                                         tracking_input: dict[str, Any]) -> Result:
        with self.state.lock:
            fulfillment = self.state.fulfillment_for_shop(
                self.shop, parse_gid(fulfillment_id, "Fulfillment"))
            if fulfillment is None:
                return Result(None, [user_error(["fulfillmentId"],
                                                "Fulfillment does not exist.")])
            fulfillment.tracking = _tracking_from_input(tracking_input)
            now = self.state.now()
            fulfillment.updated_at = now
            self.state.orders[fulfillment.order_id].updated_at = now
        self.state.emit(self.shop, "fulfillments/update", {"fulfillment_id": fulfillment.id})
        return Result(fulfillment, [])

    def fulfillment_event_create(self, data: dict[str, Any]) -> Result:
        with self.state.lock:
            fulfillment = self.state.fulfillment_for_shop(
                self.shop, parse_gid(data["fulfillmentId"], "Fulfillment"))
            if fulfillment is None:
                return Result(None, [user_error(["fulfillmentEvent", "fulfillmentId"],
                                                "Fulfillment does not exist.")])
            details = {key: data.get(camel) for key, camel in (
                ("message", "message"), ("address1", "address1"), ("city", "city"),
                ("province", "province"), ("country", "country"), ("zip", "zip"),
                ("latitude", "latitude"), ("longitude", "longitude"))}
            event: FulfillmentEvent = self.state.add_fulfillment_event(
                fulfillment.id, data["status"], happened_at=_parse_datetime(data.get("happenedAt")),
                estimated_delivery_at=_parse_datetime(data.get("estimatedDeliveryAt")), **details)
        self.state.emit(self.shop, "fulfillment_events/create",
                        {"fulfillment_id": fulfillment.id, "event_id": event.id})
        return Result(event, [])

    # ---------------------------------------------------------------- webhooks
    def webhook_subscription_create(self, topic: str, data: dict[str, Any],
                                    api_version: str) -> Result:
        address = (data.get("uri") or data.get("callbackUrl") or "").strip()
        field = ["webhookSubscription", "callbackUrl"]
        if not address:
            return Result(None, [user_error(field, "Address can't be blank")])
        scheme = urlsplit(address).scheme.lower()
        if scheme not in SUPPORTED_ADDRESS_SCHEMES:
            message = (f"Address protocol {scheme}:// is not supported" if scheme
                       else "Address is invalid")
            return Result(None, [user_error(field, message)])
        if scheme in ("http", "https") and not urlsplit(address).hostname:
            return Result(None, [user_error(field, "Address is invalid")])
        name = data.get("name")
        if name is not None and not SUBSCRIPTION_NAME.match(name):
            return Result(None, [user_error(
                ["webhookSubscription", "name"],
                "Name name field can only contain alphanumeric characters, underscores, "
                "and hyphens")])
        fmt = data.get("format") or "JSON"
        if fmt != "JSON":
            return Result(None, [user_error(
                ["webhookSubscription", "format"],
                f"Format '{fmt.lower()}' is invalid for this webhook topic. "
                "Allowed formats: json")])
        with self.state.lock:
            mine = [s for s in self.state.subscriptions.values()
                    if s.shop == self.shop and s.client_id == self.client_id]
            if any(s.topic == topic and s.uri == address for s in mine):
                return Result(None, [user_error(field,
                                                "Address for this topic has already been taken")])
            if name is not None and any(s.name == name for s in mine):
                return Result(None, [user_error(["webhookSubscription", "name"],
                                                "Name already exists, no duplicate allowed")])
            now = self.state.now()
            subscription = WebhookSubscription(
                id=self.state.next_id(), shop=self.shop, client_id=self.client_id, topic=topic,
                uri=address, api_version=api_version, created_at=now, updated_at=now,
                format=fmt, include_fields=list(data.get("includeFields") or []),
                filter=data.get("filter"), name=name)
            self.state.subscriptions[subscription.id] = subscription
            return Result(subscription, [])

    def webhook_subscription_delete(self, subscription_id: str) -> Result:
        with self.state.lock:
            number = parse_gid(subscription_id, "WebhookSubscription")
            found = self.state.subscriptions.get(number) if number is not None else None
            if found is None or found.shop != self.shop or found.client_id != self.client_id:
                return Result(None, [user_error(["id"], "Webhook subscription does not exist")])
            del self.state.subscriptions[found.id]
            return Result(subscription_id, [])

    # ---------------------------------------------------------------- fulfillment services
    def fulfillment_service_create(self, name: str, callback_url: str | None,
                                   options: dict[str, Any]) -> Result:
        errors: list[UserError] = []
        if not name.strip():
            errors.append(user_error(["name"], "Name can't be blank"))
        app = self.state.apps[self.client_id]
        allowed_hosts = {urlsplit(u).hostname for u in [*app.redirect_urls, app.proxy_url or ""]}
        if callback_url is not None and urlsplit(callback_url).hostname not in allowed_hosts:
            errors.append(user_error(["callbackUrl"], "Callback url is not allowed"))
        handle = service_handle(name.strip())
        with self.state.lock:
            if handle in RESERVED_SERVICE_HANDLES:
                errors.append(user_error(["name"], "Name is reserved"))
            elif any(s.shop == self.shop and (s.service_name.lower() == name.strip().lower()
                                              or s.handle == handle)
                     for s in self.state.fulfillment_services.values()):
                # the same name in any case, or another name giving the same handle
                errors.append(user_error(["name"], "Name has already been taken"))
            if errors:
                return Result(None, errors)
            location = Location(id=self.state.next_id(), name=name.strip(),
                                is_fulfillment_service=True)
            self.state.locations[location.id] = location
            service = FulfillmentService(
                id=self.state.next_id(), shop=self.shop, client_id=self.client_id,
                service_name=name.strip(),
                handle=handle,
                callback_url=callback_url, location_id=location.id,
                tracking_support=bool(options.get("trackingSupport")),
                inventory_management=bool(options.get("inventoryManagement")),
                requires_shipping_method=options.get("requiresShippingMethod") is not False)
            self.state.fulfillment_services[service.id] = service
            return Result(service, [])

    def _requested_fulfillment_order(self, fulfillment_order_id: str) -> FulfillmentOrder:
        fo = self.state.fulfillment_order_for_shop(
            self.shop, parse_gid(fulfillment_order_id, "FulfillmentOrder"))
        if fo is None or fo.fulfillment_service_client_id != self.client_id:
            raise ResourceNotFound(f"Invalid id: {fulfillment_order_id}")
        return fo

    def accept_fulfillment_request(self, fulfillment_order_id: str,
                                   message: str | None = None) -> Result:
        with self.state.lock:
            fo = self._requested_fulfillment_order(fulfillment_order_id)
            if fo.request_status != "SUBMITTED":
                return Result(None, [user_error(
                    None, "Cannot accept fulfillment request for the fulfillment order.")])
            fo.request_status = "ACCEPTED"
            fo.status = "IN_PROGRESS"
            fo.response_reason, fo.response_message = None, message
            fo.updated_at = self.state.now()
        self.state.emit(self.shop, "fulfillment_orders/fulfillment_request_accepted",
                        {"fulfillment_order_id": fo.id})
        return Result(fo, [])

    def reject_fulfillment_request(self, fulfillment_order_id: str, reason: str | None = None,
                                   message: str | None = None) -> Result:
        with self.state.lock:
            fo = self._requested_fulfillment_order(fulfillment_order_id)
            if fo.request_status != "SUBMITTED":
                return Result(None, [user_error(
                    None, "Cannot reject fulfillment request for the fulfillment order.")])
            fo.request_status = "REJECTED"
            fo.response_reason, fo.response_message = reason, message
            fo.updated_at = self.state.now()
        self.state.emit(self.shop, "fulfillment_orders/fulfillment_request_rejected",
                        {"fulfillment_order_id": fo.id})
        return Result(fo, [])
