"""`/wp-json/wc/v3/orders...`: list, read, create, update, delete, batch and order notes."""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response

from sandboxes.woocommerce.payloads import filter_fields, note_json, order_json
from sandboxes.woocommerce.rest_support import (
    RestError,
    invalid_params,
    json_body,
    json_response,
    missing_params,
    query_params,
    require,
)
from sandboxes.woocommerce.state import Order, WooCommerceStore

BATCH_LIMIT = 100
MAX_PER_PAGE = 100
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?$")
_DATE_FILTERS = {"after": "date_created", "before": "date_created",
                 "modified_after": "date_modified", "modified_before": "date_modified"}


def wp_list(values: list[str]) -> str:
    """WordPress's `%l`: "a, b, and c"."""
    if len(values) <= 2:
        return " and ".join(values)
    return ", ".join(values[:-1]) + ", and " + values[-1]


def invalid_id(status: int) -> RestError:
    return RestError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", status)


def _order_not_found() -> RestError:
    return RestError("woocommerce_rest_order_invalid_id", "Invalid order ID.", 404)


def parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", ""):
        return text != ""
    if text in ("0", "false", "no"):
        return False
    raise invalid_params(**{name: ("rest_invalid_type", f"{name} is not of type boolean.")})


def _int_param(params: dict[str, str], name: str, default: int, low: int,
               high: int | None) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    if not re.fullmatch(r"-?\d+", raw.strip()):
        raise invalid_params(**{name: ("rest_invalid_type", f"{name} is not of type integer.")})
    value = int(raw)
    if high is not None and not low <= value <= high:
        raise invalid_params(**{name: (
            "rest_out_of_bounds",
            f"{name} must be between {low} (inclusive) and {high} (inclusive).")})
    if value < low:
        raise invalid_params(**{name: (
            "rest_out_of_bounds", f"{name} must be greater than or equal to {low}")})
    return value


def _date_param(params: dict[str, str], name: str) -> datetime | None:
    raw = params.get(name, "")
    if raw == "":
        return None
    match = _RFC3339.match(raw)
    if match is None:
        raise invalid_params(**{name: ("rest_invalid_date", "Invalid date.")})
    # WP_Date_Query formats the parsed date back in its own offset: the offset is ignored.
    return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")


def _statuses(store: WooCommerceStore, params: dict[str, str]) -> list[str]:
    values = [params[k] for k in params if k == "status" or k.startswith("status[")]
    wanted = [s.strip() for value in values for s in value.split(",") if s.strip()] or ["any"]
    allowed = ["any", "trash", *store.known_statuses()]
    for index, status in enumerate(wanted):
        if status not in allowed:
            raise invalid_params(status=("rest_not_in_enum",
                                         f"status[{index}] is not one of {wp_list(allowed)}."))
    return wanted


def _id_list(params: dict[str, str], name: str) -> set[int]:
    """An array-of-integers parameter: `include=1,2` or `include[]=1&include[]=2`."""
    values = [params[k] for k in params if k == name or k.startswith(name + "[")]
    ids = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit():
                raise invalid_params(**{name: ("rest_invalid_type",
                                               f"{name}[0] is not of type integer.")})
            ids.add(int(part))
    return ids


def _matches_status(order: Order, statuses: list[str]) -> bool:
    if order.trashed:
        return "trash" in statuses
    if "any" in statuses and order.status != "checkout-draft":
        return True
    return order.status in statuses


def _sort_key(order: Order, orderby: str, request_salt: str = "") -> tuple[Any, Any]:
    if orderby == "modified":
        # As HPOS on MySQL: `date_modified` has one-second resolution and the ORDER BY has no
        # tie-break, so orders of one second come in a different order on each request.
        tie = hashlib.sha256(f"{request_salt}:{order.id}".encode()).hexdigest()
        return (order.date_modified.replace(microsecond=0), tie)
    if orderby in ("id", "include"):
        return (order.id, order.id)
    return (order.date_created, order.id)


def _link_header(store: WooCommerceStore, route: str, params: dict[str, str], page: int,
                 max_pages: int) -> str:
    links = []
    base = f"{store.home_url}wp-json/{route}"

    def page_url(number: int) -> str:
        return base + "?" + urlencode({**params, "page": str(number)})

    if page > 1:
        links.append(f'<{page_url(min(page - 1, max_pages))}>; rel="prev"')
    if max_pages > page:
        links.append(f'<{page_url(page + 1)}>; rel="next"')
    return ", ".join(links)


def _validated_status(store: WooCommerceStore, data: dict[str, Any]) -> None:
    if "status" in data and data["status"] not in store.known_statuses():
        raise invalid_params(status=(
            "rest_not_in_enum",
            f"status is not one of {wp_list(list(store.known_statuses()))}."))


def build_orders_blueprint(store: WooCommerceStore) -> Blueprint:
    api = Blueprint("wc_v3_orders", __name__, url_prefix="/wp-json/wc/v3")

    @api.get("/orders")
    def list_orders() -> Response:
        params = query_params()
        page = _int_param(params, "page", 1, 1, None)
        per_page = _int_param(params, "per_page", 10, 1, MAX_PER_PAGE)
        order_dir = params.get("order", "desc") or "desc"
        if order_dir not in ("asc", "desc"):
            raise invalid_params(order=("rest_not_in_enum", "order is not one of asc and desc."))
        orderby = params.get("orderby", "date") or "date"
        if orderby not in ORDERBY:
            raise invalid_params(orderby=("rest_not_in_enum",
                                          f"orderby is not one of {wp_list(list(ORDERBY))}."))
        statuses = _statuses(store, params)
        dates = {name: _date_param(params, name) for name in _DATE_FILTERS}
        gmt = parse_bool("dates_are_gmt", params.get("dates_are_gmt", "false"))
        include = _id_list(params, "include")
        exclude = _id_list(params, "exclude")
        offset = _int_param(params, "offset", -1, 0, None) if "offset" in params else -1
        require("list")
        with store.lock:
            orders = [o for o in store.orders.values() if _matches_status(o, statuses)
                      and (not include or o.id in include) and o.id not in exclude]
            for name, bound in dates.items():
                if bound is None:
                    continue
                field = _DATE_FILTERS[name]

                def stamp(order: Order, field: str = field) -> datetime:
                    moment: datetime = getattr(order, field)
                    value = moment if gmt else store.local(moment)
                    return value.replace(tzinfo=None, microsecond=0)  # DATETIME columns

                if name.endswith("after"):
                    orders = [o for o in orders if stamp(o) > bound]
                else:
                    orders = [o for o in orders if stamp(o) < bound]
            salt = f"{page}:{offset}:{store.next_request_salt()}"
            orders.sort(key=lambda o: _sort_key(o, orderby, salt), reverse=order_dir == "desc")
            total = len(orders)
            start = offset if offset >= 0 else (page - 1) * per_page  # offset wins over page
            window = orders[start: start + per_page]
            body = [filter_fields(order_json(store, o), params.get("_fields")) for o in window]
        max_pages = math.ceil(total / per_page) if total else 0
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(max_pages)}
        link = _link_header(store, "wc/v3/orders", params, page, max_pages)
        if link:
            headers["Link"] = link
        return json_response(body, headers=headers)

    @api.post("/orders")
    def create_order() -> Response:
        data = json_body()
        _validated_status(store, data)
        require("create")
        order = _create_order(store, data)
        return json_response(order_json(store, order), 201)

    @api.get("/reports/orders/totals")
    def order_status_totals() -> Response:
        """The registered order statuses (a plugin's only while it is switched on)."""
        require("list")
        with store.lock:
            counts = {status: 0 for status in store.known_statuses()}
            for order in store.orders.values():
                if not order.trashed and order.status in counts:
                    counts[order.status] += 1
            body = [{"slug": slug, "name": store.status_label(slug), "total": total}
                    for slug, total in counts.items()]
        return json_response(body)

    @api.get("/orders/<int:order_id>")
    def get_order(order_id: int) -> Response:
        require("view")
        order = store.orders.get(order_id)  # a trashed order reads, with status "trash"
        if order is None:
            raise invalid_id(404)
        with store.lock:
            body = order_json(store, order)
        return json_response(filter_fields(body, query_params().get("_fields")))

    @api.route("/orders/<int:order_id>", methods=["PUT", "PATCH", "POST"])
    def update_order(order_id: int) -> Response:
        data = json_body()
        _validated_status(store, data)
        require("edit")
        return json_response(_update_order(store, order_id, data))

    @api.delete("/orders/<int:order_id>")
    def delete_order(order_id: int) -> Response:
        force = parse_bool("force", query_params().get("force", "false"))
        require("delete")
        return json_response(_delete_order(store, order_id, force))

    @api.post("/orders/batch")
    def batch_orders() -> Response:
        data = json_body()
        for action in ("create", "update", "delete"):
            if action in data and not isinstance(data[action], list):
                raise invalid_params(**{action: ("rest_invalid_type",
                                                 f"{action} is not of type array.")})
        require("batch")
        total = sum(len(data.get(action) or []) for action in ("create", "update", "delete"))
        if total > BATCH_LIMIT:
            raise RestError("woocommerce_rest_request_entity_too_large",
                            f"Unable to accept more than {BATCH_LIMIT} items for this request.",
                            413)
        return json_response(_run_batch(store, data))

    @api.get("/orders/<int:order_id>/notes")
    def list_notes(order_id: int) -> Response:
        kind = query_params().get("type", "any") or "any"
        if kind not in ("any", "customer", "internal"):
            raise invalid_params(type=("rest_not_in_enum",
                                       "type is not one of any, customer, and internal."))
        require("list")
        order = store.find_order(order_id)
        if order is None:
            raise _order_not_found()
        with store.lock:
            notes = [n for n in reversed(order.notes)
                     if kind == "any" or n.customer_note == (kind == "customer")]
            return json_response([note_json(store, order, n) for n in notes])

    @api.post("/orders/<int:order_id>/notes")
    def create_note(order_id: int) -> Response:
        data = json_body()
        if not data.get("note"):
            raise missing_params("note")
        customer = parse_bool("customer_note", data.get("customer_note", False))
        by_user = parse_bool("added_by_user", data.get("added_by_user", False))
        require("create")
        order = store.find_order(order_id)
        if order is None:
            raise _order_not_found()
        note = store.add_order_note(order_id, str(data["note"]), customer_note=customer,
                                    author="admin" if by_user else "system")
        with store.lock:
            return json_response(note_json(store, order, note), 201)

    @api.get("/orders/<int:order_id>/notes/<int:note_id>")
    def get_note(order_id: int, note_id: int) -> Response:
        require("view")
        order = store.find_order(order_id)
        if order is None:
            raise _order_not_found()
        note = next((n for n in order.notes if n.id == note_id), None)
        if note is None:
            raise RestError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        return json_response(note_json(store, order, note))

    return api


def _create_order(store: WooCommerceStore, data: dict[str, Any]) -> Order:
    items: list[tuple[int, int]] = []
    for line in data.get("line_items") or []:
        product_id = int(line.get("product_id") or 0)
        if product_id not in store.products:
            raise RestError("woocommerce_rest_invalid_product_id", "Invalid product ID.", 400)
        items.append((product_id, int(line.get("quantity") or 1)))
    status = str(data.get("status") or "pending")
    if parse_bool("set_paid", data.get("set_paid", False)) and status == "pending":
        status = "processing"
    order = store.place_order(
        items or None, status=status, currency=str(data.get("currency") or "USD"),
        billing=data.get("billing") if isinstance(data.get("billing"), dict) else None,
        shipping=data.get("shipping") if isinstance(data.get("shipping"), dict) else None,
        customer_note=str(data.get("customer_note") or ""),
        meta_data=[(str(m["key"]), m.get("value")) for m in data.get("meta_data") or []
                   if isinstance(m, dict) and "key" in m])
    return order


def _update_order(store: WooCommerceStore, order_id: int, data: dict[str, Any]) -> dict[str, Any]:
    if store.find_order(order_id) is None:
        raise invalid_id(400)
    order = store.update_order(order_id, data)
    with store.lock:
        return order_json(store, order)


def _delete_order(store: WooCommerceStore, order_id: int, force: bool) -> dict[str, Any]:
    with store.lock:
        order = store.orders.get(order_id)
        if order is None:
            raise invalid_id(404)
        if not force and order.trashed:
            raise RestError("woocommerce_rest_already_trashed",
                            "The order has already been deleted.", 410)
        body = order_json(store, order)
        if force:
            store.delete_order(order_id)
        else:
            store.trash_order(order_id)
            body["status"] = "trash"
        return body


def _run_batch(store: WooCommerceStore, data: dict[str, Any]) -> dict[str, Any]:
    """Each item runs like its single request; its error goes inside the 200 response.

    Except the status: the batch does not validate it against the registered statuses, and
    `WC_Order::set_status()` turns one it does not know into "pending" (the order then asks
    for payment), answered 200 with no error."""
    response: dict[str, Any] = {}
    for item in data.get("create") or []:
        try:
            _validated_status(store, item)
            with store.lock:
                response.setdefault("create", []).append(
                    order_json(store, _create_order(store, item)))
        except RestError as error:
            response.setdefault("create", []).append({"id": 0, "error": error.as_batch_item()})
    for item in data.get("update") or []:
        item_id = item.get("id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise invalid_id(400)
            if "status" in item and item["status"] not in store.known_statuses():
                item = {**item, "status": "pending"}
            response.setdefault("update", []).append(
                _update_order(store, int(item_id or 0), item))
        except RestError as error:
            response.setdefault("update", []).append({"id": item_id,
                                                      "error": error.as_batch_item()})
    for raw_id in data.get("delete") or []:
        order_id = int(raw_id) if str(raw_id).isdigit() else 0
        if order_id == 0:
            continue
        try:
            response.setdefault("delete", []).append(_delete_order(store, order_id, True))
        except RestError as error:
            response.setdefault("delete", []).append({"id": order_id,
                                                      "error": error.as_batch_item()})
    return response
