"""GraphQL views of the sandbox state: root fields, object views, connections, access scopes.

Objects are served as dicts keyed by GraphQL field name; a value that needs arguments (a
connection) is a callable, which graphql-core's default resolver calls with the field's args.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from graphql import GraphQLError, GraphQLResolveInfo

from sandboxes.shopify.operations import AdminOperations, ResourceNotFound, Result
from sandboxes.shopify.state import (
    FULFILLMENT_ORDER_SCOPES,
    PLAN_DISPLAY_NAME,
    AccessToken,
    Fulfillment,
    FulfillmentEvent,
    FulfillmentOrder,
    FulfillmentService,
    LineItem,
    Order,
    SandboxState,
    WebhookSubscription,
    gid,
    grants,
    parse_gid,
)

View = dict[str, Any]
T = TypeVar("T")
MAX_PAGE_SIZE = 250
ACCESS_SCOPES_DOCS = "https://shopify.dev/api/usage/access-scopes"

READ_FULFILLMENT_ORDERS = tuple(f"read_{s}" for s in FULFILLMENT_ORDER_SCOPES)
WRITE_FULFILLMENT_ORDERS = tuple(f"write_{s}" for s in FULFILLMENT_ORDER_SCOPES)
ROOT_FIELD_SCOPES: dict[str, tuple[str, ...]] = {
    "order": ("read_orders",),
    "orders": ("read_orders",),
    "fulfillmentOrder": READ_FULFILLMENT_ORDERS,
    "fulfillment": ("read_orders",),
    "assignedFulfillmentOrders": ("read_assigned_fulfillment_orders",),
    "fulfillmentCreate": WRITE_FULFILLMENT_ORDERS,
    "fulfillmentTrackingInfoUpdate": WRITE_FULFILLMENT_ORDERS,
    "fulfillmentEventCreate": ("write_fulfillments",),
    "fulfillmentServiceCreate": ("write_fulfillments",),
    "fulfillmentOrderAcceptFulfillmentRequest": ("write_assigned_fulfillment_orders",),
    "fulfillmentOrderRejectFulfillmentRequest": ("write_assigned_fulfillment_orders",),
}
ASSIGNMENT_REQUEST_STATUSES: dict[str, tuple[str, ...]] = {
    "FULFILLMENT_REQUESTED": ("SUBMITTED",), "FULFILLMENT_ACCEPTED": ("ACCEPTED",),
    "CANCELLATION_REQUESTED": ("CANCELLATION_REQUESTED",),
    "FULFILLMENT_UNSUBMITTED": ("UNSUBMITTED",),
}
TOPIC_SCOPES = {"ORDERS_": "read_orders", "FULFILLMENT_ORDERS_": "read_assigned_fulfillment_orders",
                "FULFILLMENTS_": "read_fulfillments", "FULFILLMENT_EVENTS_": "read_fulfillments"}


@dataclass
class RequestContext:
    state: SandboxState
    shop: str
    token: AccessToken
    api_version: str

    @property
    def operations(self) -> AdminOperations:
        return AdminOperations(self.state, self.shop, self.token.client_id, self.api_version)


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def access_denied(field: str, required: Sequence[str]) -> GraphQLError:
    wanted = " or ".join(f"`{scope}`" for scope in required)
    requirement = f"{wanted} access scope{'s' if len(required) > 1 else ''}."
    return GraphQLError(f"Access denied for {field} field. Required access: {requirement}",
                        extensions={"code": "ACCESS_DENIED", "documentation": ACCESS_SCOPES_DOCS,
                                    "requiredAccess": requirement})


def require_scopes(context: RequestContext, field: str, required: Sequence[str]) -> None:
    if not any(grants(context.token.scopes, scope) for scope in required):
        raise access_denied(field, required)


# ---------------------------------------------------------------------------- connections
def _cursor(item_id: int) -> str:
    return base64.b64encode(f"sandbox:{item_id}".encode()).decode()


def _cursor_id(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().split(":", 1)[1])
    except (ValueError, IndexError, UnicodeDecodeError):
        raise GraphQLError(f"Invalid cursor: {cursor}",
                           extensions={"code": "BAD_REQUEST"}) from None


def connection(items: Sequence[T], view: Callable[[T], View], key: Callable[[T], int], *,
               first: int | None = None, after: str | None = None, last: int | None = None,
               before: str | None = None, reverse: bool = False, **_: Any) -> View:
    """A Relay connection over `items` (already sorted), paginated like Shopify's."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last",
                           extensions={"code": "BAD_REQUEST"})
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE_SIZE:
            raise GraphQLError(f"The '{name}' argument must be between 0 and {MAX_PAGE_SIZE}.",
                               extensions={"code": "BAD_REQUEST"})
    ordered = list(reversed(items)) if reverse else list(items)
    start, end = 0, len(ordered)
    keys = [key(item) for item in ordered]
    if after is not None:
        after_id = _cursor_id(after)
        start = keys.index(after_id) + 1 if after_id in keys else len(ordered)
    if before is not None:
        before_id = _cursor_id(before)
        end = keys.index(before_id) if before_id in keys else end
    window = ordered[start:end]
    if first is not None:
        has_next, window = len(window) > first or end < len(ordered), window[:first]
        has_previous = start > 0
    else:
        assert last is not None
        has_previous = len(window) > last or start > 0
        window = window[len(window) - last:] if last else []
        has_next = end < len(ordered)
    nodes = [view(item) for item in window]
    edges = [{"cursor": _cursor(key(item)), "node": node} for item, node in zip(window, nodes,
                                                                               strict=True)]
    return {"nodes": nodes, "edges": edges, "pageInfo": {
        "hasNextPage": has_next, "hasPreviousPage": has_previous,
        "startCursor": edges[0]["cursor"] if edges else None,
        "endCursor": edges[-1]["cursor"] if edges else None}}


def _paged(items: Sequence[T], view: Callable[[T], View],
           key: Callable[[T], int]) -> Callable[..., View]:
    def resolve(_info: GraphQLResolveInfo[Any], **args: Any) -> View:
        return connection(items, view, key, **args)
    return resolve


# ---------------------------------------------------------------------------- views
class Views:
    def __init__(self, context: RequestContext) -> None:
        self.context = context
        self.state = context.state

    def money(self, amount: Any, currency: str) -> View:
        money = {"amount": str(amount), "currencyCode": currency}
        return {"shopMoney": money, "presentmentMoney": money}

    def shop(self) -> View:
        shop = self.state.shops[self.context.shop]
        return {"id": gid("Shop", shop.id), "name": shop.name, "email": shop.email,
                "myshopifyDomain": shop.domain, "currencyCode": shop.currency,
                "ianaTimezone": "UTC",
                "plan": {"partnerDevelopment": False, "shopifyPlus": shop.plan == "plus",
                         "publicDisplayName": PLAN_DISPLAY_NAME[shop.plan]},
                "fulfillmentServices": [
                    self.service(service) for service in sorted(
                        self.state.fulfillment_services.values(), key=lambda s: s.id)
                    if service.shop == shop.domain]}

    def order(self, order: Order) -> View:
        fos = [self.state.fulfillment_orders[i] for i in order.fulfillment_order_ids]
        fulfillments = [self.state.fulfillments[i] for i in order.fulfillment_ids]
        address = order.shipping_address
        return {
            "id": gid("Order", order.id), "legacyResourceId": str(order.id), "name": order.name,
            "email": order.email, "phone": None, "createdAt": iso(order.created_at),
            "updatedAt": iso(order.updated_at), "processedAt": iso(order.created_at),
            "cancelledAt": iso(order.cancelled_at), "cancelReason": order.cancel_reason,
            "closed": order.closed_at is not None, "closedAt": iso(order.closed_at),
            "confirmed": True, "test": order.test, "note": order.note,
            "tags": sorted(order.tags),  # Shopify answers tags sorted, whatever order was given
            "displayFinancialStatus": order.financial_status,
            "displayFulfillmentStatus": self.state.display_fulfillment_status(order),
            "statusPageUrl": self.status_page_url(order), "currencyCode": order.currency,
            "totalPriceSet": self.money(order.total_price, order.currency),
            "shippingAddress": None if address is None else {
                "id": gid("MailingAddress", order.id), "firstName": address.get("first_name"),
                "lastName": address.get("last_name"),
                "name": " ".join(p for p in (address.get("first_name"),
                                             address.get("last_name")) if p),
                "company": address.get("company"), "address1": address.get("address1"),
                "address2": address.get("address2"), "city": address.get("city"),
                "province": address.get("province"),
                "provinceCode": address.get("province_code"), "zip": address.get("zip"),
                "country": address.get("country"),
                "countryCodeV2": address.get("country_code"), "phone": address.get("phone")},
            "customer": None if order.customer is None else {
                "id": gid("Customer", order.customer["id"]),
                "firstName": order.customer.get("first_name"),
                "lastName": order.customer.get("last_name"),
                "displayName": " ".join(p for p in (order.customer.get("first_name"),
                                                    order.customer.get("last_name")) if p)
                or order.customer.get("email") or ""},
            "lineItems": _paged(order.line_items, lambda li: self.line_item(order, li),
                                lambda li: li.id),
            "fulfillmentOrders": _paged(fos, self.fulfillment_order, lambda fo: fo.id),
            "fulfillments": lambda _info, first=None, **_: [
                self.fulfillment(f) for f in fulfillments[:first]],
        }

    def status_page_url(self, order: Order) -> str:
        return f"{self.state.public_url}/shops/{order.shop}/orders/{order.status_token}"

    def line_item(self, order: Order, item: LineItem) -> View:
        fulfilled = sum(fli.quantity for f_id in order.fulfillment_ids
                        for fli in self.state.fulfillments[f_id].line_items
                        if fli.line_item_id == item.id)
        return {"id": gid("LineItem", item.id), "name": item.title, "title": item.title,
                "quantity": item.quantity, "currentQuantity": item.quantity, "sku": item.sku,
                "variantTitle": item.variant_title, "vendor": item.vendor,
                "requiresShipping": item.requires_shipping,
                "unfulfilledQuantity": item.quantity - fulfilled,
                "originalUnitPriceSet": self.money(item.price, order.currency),
                "product": None if item.product_id is None else {
                    "id": gid("Product", item.product_id)},
                "variant": None if item.variant_id is None else {
                    "id": gid("ProductVariant", item.variant_id)}}

    def fulfillment_order(self, fo: FulfillmentOrder) -> View:
        order = self.state.orders[fo.order_id]
        location = self.state.locations[fo.location_id]
        return {
            "id": gid("FulfillmentOrder", fo.id), "status": fo.status,
            "requestStatus": fo.request_status, "createdAt": iso(fo.created_at),
            "updatedAt": iso(fo.updated_at), "fulfillAt": iso(fo.created_at),
            "orderId": gid("Order", order.id), "orderName": order.name,
            "order": lambda _info, **_: self.order(order),
            "assignedLocation": {"name": location.name, "city": None, "countryCode": "US",
                                 "location": self.location(location.id)},
            "lineItems": _paged(fo.line_items, lambda li: {
                "id": gid("FulfillmentOrderLineItem", li.id), "totalQuantity": li.total_quantity,
                "remainingQuantity": li.remaining_quantity,
                "sku": self.state.line_item(order, li.line_item_id).sku,
                "lineItem": self.line_item(order, self.state.line_item(order, li.line_item_id))},
                lambda li: li.id),
            "fulfillments": _paged([self.state.fulfillments[i] for i in fo.fulfillment_ids],
                                   self.fulfillment, lambda f: f.id),
        }

    def location(self, location_id: int) -> View:
        location = self.state.locations[location_id]
        return {"id": gid("Location", location.id), "name": location.name,
                "isFulfillmentService": location.is_fulfillment_service}

    def fulfillment(self, fulfillment: Fulfillment) -> View:
        order = self.state.orders[fulfillment.order_id]
        latest = fulfillment.latest_event
        return {
            "id": gid("Fulfillment", fulfillment.id), "legacyResourceId": str(fulfillment.id),
            "name": fulfillment.name, "status": fulfillment.status,
            "displayStatus": self.display_status(fulfillment),
            "createdAt": iso(fulfillment.created_at), "updatedAt": iso(fulfillment.updated_at),
            "deliveredAt": iso(next((e.happened_at for e in fulfillment.events
                                     if e.status == "DELIVERED"), None)),
            "inTransitAt": iso(next((e.happened_at for e in fulfillment.events
                                     if e.status == "IN_TRANSIT"), None)),
            "estimatedDeliveryAt": iso(latest.estimated_delivery_at) if latest else None,
            "trackingInfo": lambda _info, first=None, **_: [
                {"company": t.company, "number": t.number, "url": t.url}
                for t in fulfillment.tracking[:first]],
            "events": _paged(sorted(fulfillment.events, key=lambda e: (e.happened_at, e.id)),
                             self.event, lambda e: e.id),
            "order": lambda _info, **_: self.order(order),
            "fulfillmentLineItems": _paged(fulfillment.line_items, lambda fli: {
                "id": gid("FulfillmentLineItem", fli.id), "quantity": fli.quantity,
                "lineItem": self.line_item(order, self.state.line_item(order, fli.line_item_id))},
                lambda fli: fli.id),
            "fulfillmentOrders": _paged(
                [self.state.fulfillment_orders[i] for i in fulfillment.fulfillment_order_ids],
                self.fulfillment_order, lambda fo: fo.id),
            **self.fulfilled_from(fulfillment),
        }

    def fulfilled_from(self, fulfillment: Fulfillment) -> View:
        """Where a fulfillment ships from: its fulfillment order's location and the service
        behind it (the shop's own location: Shopify's `manual` service, as recorded live;
        the sandbox keeps no origin address, which Shopify leaves null unless one is set)."""
        fo_ids = fulfillment.fulfillment_order_ids
        location_id = self.state.fulfillment_orders[fo_ids[0]].location_id if fo_ids else None
        service = next((s for s in self.state.fulfillment_services.values()
                        if location_id is not None and s.location_id == location_id), None)
        location = self.location(location_id) if location_id is not None else None
        if service is not None:
            service_view = self.service(service)
        else:
            service_view = {"id": "gid://shopify/FulfillmentService/manual", "handle": "manual",
                            "serviceName": "Manual", "callbackUrl": None,
                            "inventoryManagement": False, "trackingSupport": False,
                            "requiresShippingMethod": False, "type": "MANUAL",
                            "location": location}
        return {"location": location, "originAddress": None, "service": service_view}

    @staticmethod
    def display_status(fulfillment: Fulfillment) -> str:
        latest = fulfillment.latest_event
        if fulfillment.status == "CANCELLED":
            return "CANCELED"
        mapping = {"IN_TRANSIT": "IN_TRANSIT", "OUT_FOR_DELIVERY": "OUT_FOR_DELIVERY",
                   "DELIVERED": "DELIVERED", "ATTEMPTED_DELIVERY": "ATTEMPTED_DELIVERY",
                   "FAILURE": "FAILURE", "READY_FOR_PICKUP": "READY_FOR_PICKUP",
                   "LABEL_PRINTED": "LABEL_PRINTED", "LABEL_PURCHASED": "LABEL_PURCHASED",
                   "CONFIRMED": "CONFIRMED", "CARRIER_PICKED_UP": "CARRIER_PICKED_UP",
                   "DELAYED": "DELAYED"}
        return mapping.get(latest.status, "FULFILLED") if latest else "FULFILLED"

    def event(self, event: FulfillmentEvent) -> View:
        return {"id": gid("FulfillmentEvent", event.id), "status": event.status,
                "happenedAt": iso(event.happened_at), "createdAt": iso(event.created_at),
                "estimatedDeliveryAt": iso(event.estimated_delivery_at), "message": event.message,
                "address1": event.address1, "city": event.city, "province": event.province,
                "country": event.country, "zip": event.zip, "latitude": event.latitude,
                "longitude": event.longitude}

    def subscription(self, sub: WebhookSubscription) -> View:
        return {"id": gid("WebhookSubscription", sub.id), "topic": sub.topic, "uri": sub.uri,
                "format": sub.format, "includeFields": sub.include_fields, "filter": sub.filter,
                "name": sub.name, "createdAt": iso(sub.created_at),
                "updatedAt": iso(sub.updated_at),
                "apiVersion": {"handle": sub.api_version, "displayName": sub.api_version,
                               "supported": True}}

    def service(self, service: FulfillmentService) -> View:
        # Shopify's fulfillment service ids carry `?id=true` (recorded live, every version)
        return {"id": gid("FulfillmentService", service.id) + "?id=true",
                "serviceName": service.service_name,
                "handle": service.handle, "callbackUrl": service.callback_url,
                "inventoryManagement": service.inventory_management,
                "trackingSupport": service.tracking_support,
                "requiresShippingMethod": service.requires_shipping_method,
                "type": "THIRD_PARTY", "location": self.location(service.location_id)}


# ---------------------------------------------------------------------------- order search
SEARCH_TERM = re.compile(r"(-?)(\w+):(>=|<=|>|<)?('[^']*'|\"[^\"]*\"|\S+)")
SORT_KEYS: dict[str, Callable[[Order], Any]] = {
    "CREATED_AT": lambda o: (o.created_at, o.id), "UPDATED_AT": lambda o: (o.updated_at, o.id),
    "PROCESSED_AT": lambda o: (o.created_at, o.id), "ID": lambda o: o.id,
    "ORDER_NUMBER": lambda o: o.number, "TOTAL_PRICE": lambda o: (o.total_price, o.id),
}


def _compare(actual: Any, operator: str, expected: Any) -> bool:
    if operator == ">":
        return bool(actual > expected)
    if operator == ">=":
        return bool(actual >= expected)
    if operator == "<":
        return bool(actual < expected)
    if operator == "<=":
        return bool(actual <= expected)
    return bool(actual == expected)


def order_matches(order: Order, query: str | None) -> bool:
    """Shopify search syntax, the part DropTrack uses: updated_at/created_at comparisons,
    financial_status, status, id, name; terms joined by spaces or AND; `-` negates."""
    if not query:
        return True
    for negate, name, operator, raw in SEARCH_TERM.findall(query.replace(" AND ", " ")):
        value = raw.strip("'\"")
        if name in ("updated_at", "created_at", "processed_at"):
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=order.created_at.tzinfo)
            actual = order.updated_at if name == "updated_at" else order.created_at
            matched = _compare(actual, operator, moment)
        elif name == "financial_status":
            matched = order.financial_status.lower() == value.lower()
        elif name == "status":
            status = "cancelled" if order.cancelled_at else \
                "closed" if order.closed_at else "open"
            matched = value == "any" or status == value.lower()
        elif name == "id":
            matched = _compare(order.id, operator, int(value))
        elif name == "name":
            matched = order.name.lstrip("#") == value.lstrip("#")
        else:
            matched = True
        if matched == bool(negate):
            return False
    return True


# ---------------------------------------------------------------------------- root fields
def _payload(result: Result, key: str, view: Callable[[Any], View] | None) -> View:
    value = result.value
    return {key: view(value) if value is not None and view is not None else value,
            "userErrors": result.user_errors}


def _not_found(error: ResourceNotFound) -> GraphQLError:
    return GraphQLError(str(error), extensions={"code": "RESOURCE_NOT_FOUND"})


def resolve_root(context: RequestContext, field: str, args: dict[str, Any]) -> Any:
    views = Views(context)
    state, shop = context.state, context.shop
    if field in ROOT_FIELD_SCOPES:
        require_scopes(context, field, ROOT_FIELD_SCOPES[field])
    operations = context.operations
    try:
        return _resolve(field, args, views, state, shop, context, operations)
    except ResourceNotFound as error:
        raise _not_found(error) from None


def _resolve(field: str, args: dict[str, Any], views: Views, state: SandboxState, shop: str,
             context: RequestContext, operations: AdminOperations) -> Any:
    if field == "shop":
        return views.shop()
    if field == "order":
        order = state.order_for_shop(shop, parse_gid(args["id"], "Order"))
        return views.order(order) if order else None
    if field == "orders":
        sort = SORT_KEYS.get(args.pop("sortKey", None) or "ID", SORT_KEYS["ID"])
        query = args.pop("query", None)
        args.pop("savedSearchId", None)
        orders = sorted((o for o in state.orders_of(shop) if order_matches(o, query)), key=sort)
        return connection(orders, views.order, lambda o: o.id, **args)
    if field == "fulfillmentOrder":
        fo = state.fulfillment_order_for_shop(shop, parse_gid(args["id"], "FulfillmentOrder"))
        return views.fulfillment_order(fo) if fo else None
    if field == "fulfillment":
        found = state.fulfillment_for_shop(shop, parse_gid(args["id"], "Fulfillment"))
        return views.fulfillment(found) if found else None
    if field == "assignedFulfillmentOrders":
        wanted = ASSIGNMENT_REQUEST_STATUSES.get(args.pop("assignmentStatus", None) or "")
        args.pop("sortKey", None)
        location_ids = {parse_gid(i, "Location") for i in args.pop("locationIds", None) or []}
        fos = sorted((fo for fo in state.fulfillment_orders.values()
                      if fo.fulfillment_service_client_id == context.token.client_id
                      and state.orders[fo.order_id].shop == shop
                      and (wanted is None or fo.request_status in wanted)
                      and (not location_ids or fo.location_id in location_ids)),
                     key=lambda fo: fo.id)
        return connection(fos, views.fulfillment_order, lambda fo: fo.id, **args)
    if field == "webhookSubscriptions":
        topics = set(args.pop("topics", None) or [])
        uri = args.pop("uri", None) or args.pop("callbackUrl", None)
        for ignored in ("sortKey", "query", "format", "callbackUrl"):
            args.pop(ignored, None)
        subs = sorted((s for s in state.subscriptions.values()
                       if s.shop == shop and s.client_id == context.token.client_id
                       and (not topics or s.topic in topics) and (uri is None or s.uri == uri)),
                      key=lambda s: s.id)
        return connection(subs, views.subscription, lambda s: s.id, **args)
    if field == "webhookSubscription":
        number = parse_gid(args["id"], "WebhookSubscription")
        sub = state.subscriptions.get(number) if number is not None else None
        ok = sub is not None and sub.shop == shop and sub.client_id == context.token.client_id
        return views.subscription(sub) if ok and sub is not None else None
    if field == "fulfillmentCreate":
        return _payload(operations.fulfillment_create(args["fulfillment"]), "fulfillment",
                        views.fulfillment)
    if field == "fulfillmentTrackingInfoUpdate":
        return _payload(operations.fulfillment_tracking_info_update(
            args["fulfillmentId"], args["trackingInfoInput"]), "fulfillment", views.fulfillment)
    if field == "fulfillmentEventCreate":
        return _payload(operations.fulfillment_event_create(args["fulfillmentEvent"]),
                        "fulfillmentEvent", views.event)
    if field == "webhookSubscriptionCreate":
        topic = args["topic"]
        for prefix, scope in TOPIC_SCOPES.items():
            if topic.startswith(prefix):
                require_scopes(context, field, (scope,))
        return _payload(operations.webhook_subscription_create(
            topic, args["webhookSubscription"], context.api_version), "webhookSubscription",
            views.subscription)
    if field == "webhookSubscriptionDelete":
        return _payload(operations.webhook_subscription_delete(args["id"]),
                        "deletedWebhookSubscriptionId", None)
    if field == "fulfillmentServiceCreate":
        name = args.pop("name")
        callback_url = args.pop("callbackUrl", None)
        return _payload(operations.fulfillment_service_create(name, callback_url, args),
                        "fulfillmentService", views.service)
    if field == "fulfillmentOrderAcceptFulfillmentRequest":
        return _payload(operations.accept_fulfillment_request(args["id"], args.get("message")),
                        "fulfillmentOrder", views.fulfillment_order)
    if field == "fulfillmentOrderRejectFulfillmentRequest":
        return _payload(operations.reject_fulfillment_request(
            args["id"], args.get("reason"), args.get("message")), "fulfillmentOrder",
            views.fulfillment_order)
    raise GraphQLError(f"Field '{field}' is not served by the sandbox")
