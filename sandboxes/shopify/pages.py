"""Customer-facing surfaces: the order status page and the app proxy."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
from flask import Blueprint, Response, abort, current_app, render_template, request

from sandboxes.home import Row, home_page
from sandboxes.shopify.sandbox import ShopifySandbox
from sandboxes.shopify.signing import app_proxy_signature
from sandboxes.shopify.state import Fulfillment, Order

pages = Blueprint("shopify_pages", __name__)

EVENT_LABELS = {
    "LABEL_PRINTED": "Label printed", "LABEL_PURCHASED": "Label purchased",
    "CONFIRMED": "Confirmed", "CARRIER_PICKED_UP": "Picked up by carrier",
    "IN_TRANSIT": "On its way", "OUT_FOR_DELIVERY": "Out for delivery",
    "READY_FOR_PICKUP": "Ready for pickup", "ATTEMPTED_DELIVERY": "Delivery attempted",
    "DELAYED": "Delayed", "DELIVERED": "Delivered", "FAILURE": "Delivery failed",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-encoding",
              "content-length", "upgrade"}


def _sandbox() -> ShopifySandbox:
    found: ShopifySandbox = current_app.extensions["sandbox"]
    return found


def _shipment(fulfillment: Fulfillment) -> dict[str, object]:
    events = sorted(fulfillment.events, key=lambda e: (e.happened_at, e.id), reverse=True)
    latest = events[0] if events else None
    # The estimated window once per parcel (the newest event's estimate), not on every event.
    estimated = next((e.estimated_delivery_at for e in events if e.estimated_delivery_at), None)
    return {"fulfillment": fulfillment, "estimated": estimated,
            "status_label": EVENT_LABELS.get(latest.status, "Shipped") if latest else "Shipped",
            "events": [{"label": EVENT_LABELS.get(e.status, e.status.title()),
                        "status": e.status, "event": e} for e in events]}


@pages.get("/")
def home() -> str:
    """Every shop's orders, newest first, each linking to its customer order status page."""
    box = _sandbox()
    with box.state.lock:
        orders = sorted(box.state.orders.values(), key=lambda o: o.id, reverse=True)
        rows = [Row((order.name, order.shop, order.email,
                     _heading(order, box.state.display_fulfillment_status(order))),
                    f"{box.public_url}/shops/{order.shop}/orders/{order.status_token}")
                for order in orders]
    return home_page("Shopify sandbox: orders", "Each order links to the page its customer "
                     "sees (Shopify's order status page).", ("Order", "Shop", "Customer",
                                                            "Order status page says"),
                     rows, "No orders yet.")


def _heading(order: Order, fulfillment_status: str) -> str:
    """The order status page's heading: what the customer reads first."""
    if order.cancelled_at:
        return "Your order was cancelled"
    if fulfillment_status == "FULFILLED":
        fulfillments = [_sandbox().state.fulfillments[f] for f in order.fulfillment_ids]
        delivered = bool(fulfillments) and all(
            f.latest_event is not None and f.latest_event.status == "DELIVERED"
            for f in fulfillments)
        return "Your order has been delivered" if delivered else "Your order is on its way"
    return "Thank you!"


@pages.get("/shops/<shop>/orders/<token>")
def order_status(shop: str, token: str) -> str:
    box = _sandbox()
    order: Order | None = box.state.order_by_status_token(shop, token)
    if order is None:
        abort(404)
    shipments = [_shipment(box.state.fulfillments[f]) for f in order.fulfillment_ids]
    return render_template("sandbox/shopify/order_status.html", order=order,
                           shop=box.state.shops[shop], shipments=shipments,
                           heading=_heading(order, box.state.display_fulfillment_status(order)))


@pages.route("/shops/<shop>/<prefix>/<subpath>/", defaults={"rest": ""},
             methods=["GET", "POST"])
@pages.route("/shops/<shop>/<prefix>/<subpath>/<path:rest>", methods=["GET", "POST"])
def app_proxy(shop: str, prefix: str, subpath: str, rest: str) -> Response:
    """Forward to the app's proxy URL with Shopify's signed query; relay the answer."""
    box = _sandbox()
    app = next((a for a in box.state.apps.values()
                if a.proxy_subpath == subpath and a.proxy_subpath_prefix == prefix
                and a.proxy_url and a.client_id in box.state.shops.get(
                    shop, _NO_SHOP).installed_client_ids), None) if shop in box.state.shops \
        else None
    if app is None or app.proxy_url is None:
        abort(404)
    params = [(k, v) for k, v in request.args.items(multi=True)
              if k not in ("signature", "shop", "logged_in_customer_id", "path_prefix",
                           "timestamp")]
    params += [("shop", shop), ("logged_in_customer_id",
                                request.headers.get("X-Sandbox-Customer-Id", "")),
               ("path_prefix", f"/{prefix}/{subpath}"),
               ("timestamp", str(int(box.clock.now().timestamp())))]
    params.append(("signature", app_proxy_signature(params, app.client_secret)))
    target = f"{app.proxy_url.rstrip('/')}/{rest}" if rest else app.proxy_url
    with httpx.Client(transport=box.webhooks.transport, timeout=10.0) as client:
        upstream = client.request(request.method, f"{target}?{urlencode(params)}",
                                  content=request.get_data(),
                                  headers={"Content-Type": request.content_type or "text/plain"})
    content_type = upstream.headers.get("content-type", "text/plain")
    if content_type.startswith("application/liquid"):
        html = render_template("sandbox/shopify/proxy_page.html", body=upstream.text,
                               shop=box.state.shops[shop])
        return Response(html, status=upstream.status_code, content_type="text/html")
    headers = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
    return Response(upstream.content, status=upstream.status_code, headers=headers)


class _NoShop:
    installed_client_ids: frozenset[str] = frozenset()


_NO_SHOP = _NoShop()
