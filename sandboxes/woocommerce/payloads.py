"""The JSON WooCommerce's REST v3 controllers return, built from the store's current state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandboxes.woocommerce.state import (
    PAID_STATUSES,
    MetaItem,
    Order,
    OrderNote,
    Webhook,
    WooCommerceStore,
)

Json = dict[str, Any]

WEBHOOK_HOOKS: dict[str, list[str]] = {
    "order.created": ["woocommerce_new_order"],
    "order.updated": ["woocommerce_update_order", "woocommerce_order_refunded"],
    "order.deleted": ["wp_trash_post"],
    "order.restored": ["untrashed_post"],
}


def wp_date(moment: datetime | None) -> str | None:
    """`wc_rest_prepare_date_response`: ISO 8601 without offset, or null."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S")


def _dates(store: WooCommerceStore, name: str, moment: datetime | None) -> Json:
    local = None if moment is None else store.local(moment)
    return {name: wp_date(local), f"{name}_gmt": wp_date(moment)}


def _money(amount: float) -> str:
    return f"{amount:.2f}"


def _meta(items: list[MetaItem]) -> list[Json]:
    return [{"id": item.id, "key": item.key, "value": item.value} for item in items]


def _links(store: WooCommerceStore, **paths: str) -> Json:
    return {rel: [{"href": f"{store.home_url}wp-json/{path}"}] for rel, path in paths.items()}


def order_json(store: WooCommerceStore, order: Order) -> Json:
    line_items = []
    subtotal = 0.0
    for item in order.line_items:
        total = item.price * item.quantity
        subtotal += total
        line_items.append({
            "id": item.id, "name": item.name, "product_id": item.product_id,
            "variation_id": item.variation_id, "quantity": item.quantity, "tax_class": "",
            "subtotal": _money(total), "subtotal_tax": "0.00", "total": _money(total),
            "total_tax": "0.00", "taxes": [], "meta_data": _meta(item.meta_data),
            "sku": store.live_sku(item), "price": item.price,
        })
    total = subtotal + order.shipping_total
    needs_payment = order.status in ("pending", "failed") and total > 0
    return {
        "id": order.id, "parent_id": 0, "status": "trash" if order.trashed else order.status,
        "currency": order.currency,
        "version": "9.4.0", "prices_include_tax": False,
        **_dates(store, "date_created", order.date_created),
        **_dates(store, "date_modified", order.date_modified),
        "discount_total": "0.00", "discount_tax": "0.00",
        "shipping_total": _money(order.shipping_total), "shipping_tax": "0.00",
        "cart_tax": "0.00", "total": _money(total), "total_tax": "0.00",
        "customer_id": order.customer_id, "order_key": order.order_key,
        "billing": dict(order.billing), "shipping": dict(order.shipping),
        "payment_method": order.payment_method,
        "payment_method_title": order.payment_method_title,
        "transaction_id": order.transaction_id, "customer_ip_address": "",
        "customer_user_agent": "", "created_via": "checkout",
        "customer_note": order.customer_note,
        **_dates(store, "date_completed", order.date_completed),
        **_dates(store, "date_paid", order.date_paid),
        "cart_hash": "", "number": str(order.id), "meta_data": _meta(order.meta_data),
        "line_items": line_items, "tax_lines": [], "shipping_lines": [], "fee_lines": [],
        "coupon_lines": [], "refunds": [],
        "payment_url": (f"{store.home_url}checkout/order-pay/{order.id}/"
                        f"?pay_for_order=true&key={order.order_key}"),
        "is_editable": order.status in ("pending", "on-hold", "checkout-draft"),
        "needs_payment": needs_payment,
        "needs_processing": True,
        "currency_symbol": "$" if order.currency == "USD" else order.currency,
        "_links": _links(store, self=f"wc/v3/orders/{order.id}", collection="wc/v3/orders"),
    }


def is_paid(order: Order) -> bool:
    return order.date_paid is not None or order.status in PAID_STATUSES


def note_json(store: WooCommerceStore, order: Order, note: OrderNote) -> Json:
    return {
        "id": note.id, "author": note.author,
        **_dates(store, "date_created", note.date_created),
        "note": note.note, "customer_note": note.customer_note,
        "_links": _links(store, self=f"wc/v3/orders/{order.id}/notes/{note.id}",
                         collection=f"wc/v3/orders/{order.id}/notes",
                         up=f"wc/v3/orders/{order.id}"),
    }


def webhook_json(store: WooCommerceStore, webhook: Webhook, *, edit: bool = False) -> Json:
    data: Json = {
        "id": webhook.id, "name": webhook.name, "status": webhook.status,
        "topic": webhook.topic, "resource": webhook.resource, "event": webhook.event,
        "hooks": WEBHOOK_HOOKS.get(webhook.topic, []), "delivery_url": webhook.delivery_url,
        **_dates(store, "date_created", webhook.date_created),
        **_dates(store, "date_modified", webhook.date_modified),
        "_links": _links(store, self=f"wc/v3/webhooks/{webhook.id}",
                         collection="wc/v3/webhooks"),
    }
    if edit:
        data["secret"] = webhook.secret
    return data


def filter_fields(data: Json, fields_param: str | None) -> Json:
    """WordPress `_fields`: keep only the named top-level or dotted nested fields."""
    if not fields_param:
        return data
    wanted = [name.strip() for name in fields_param.split(",") if name.strip()]
    result: Json = {}
    for name in wanted:
        _copy_path(data, result, name.split("."))
    return result


def _copy_path(source: Json, target: Json, path: list[str]) -> None:
    head = path[0]
    if head not in source:
        return
    if len(path) == 1:
        target[head] = source[head]
        return
    value = source[head]
    if isinstance(value, dict):
        nested = target.setdefault(head, {})
        if isinstance(nested, dict):
            _copy_path(value, nested, path[1:])
