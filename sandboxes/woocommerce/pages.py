"""Storefront pages: My Account > View order (status, items, tracking, "Order updates")."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from sandboxes.home import Row, home_page
from sandboxes.woocommerce.payloads import order_json
from sandboxes.woocommerce.state import WooCommerceStore
from sandboxes.woocommerce.tracking import formatted_item, shipped_at


def build_pages_blueprint(store: WooCommerceStore) -> Blueprint:
    pages = Blueprint("wc_storefront", __name__)

    @pages.get("/")
    def home() -> str:
        """The store's orders, newest first, each linking to its My Account > View order."""
        base = request.host_url.rstrip("/")
        with store.lock:
            rows = [Row((str(order.id), store.status_label(order.status),
                         order.billing.get("email", ""), store.local(order.date_created)
                         .strftime("%B %d, %Y")),
                        f"{base}/my-account/view-order/{order.id}/?key={order.order_key}")
                    for order in sorted(store.orders.values(), key=lambda o: o.id,
                                        reverse=True)]
        return home_page("WooCommerce sandbox: orders", "Each order links to the page its "
                         "customer sees (My Account > View order).",
                         ("Order", "Status", "Customer", "Date"), rows, "No orders yet.")

    @pages.get("/my-account/view-order/<int:order_id>/")
    def view_order(order_id: int) -> str:
        """Real WooCommerce asks the customer to log in; the sandbox accepts the order key
        (as the order-received page does) and shows the same "Invalid order." otherwise."""
        order = store.find_order(order_id)
        if order is None or request.args.get("key") != order.order_key:
            return render_template("sandbox/woocommerce/invalid_order.html", store=store)
        with store.lock:
            data = order_json(store, order)
            ast = store.tracking_mode == "ast"
            tracking = [{**formatted_item(item, ast=ast), "number": item["tracking_number"],
                         "shipped": shipped_at(item)}
                        for item in store.tracking_items(order_id)]
            updates = [note for note in order.notes if note.customer_note]
            status_label = store.status_label(order.status)
        return render_template("sandbox/woocommerce/view_order.html", store=store, order=data,
                               created=store.local(order.date_created), tracking=tracking,
                               updates=[(store.local(n.date_created), n.note) for n in updates],
                               status_label=status_label)

    return pages
