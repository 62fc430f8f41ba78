"""The JSON API (/api/v1), token-authenticated and scoped per store.

`Authorization: Bearer dt_...` (made with `droptrack admin create-token --store ID`). A token
reads and acts on its own store only: another store's order answers 404, as if it did not
exist. Lists page with an opaque `cursor` (keyset on the id, newest first).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from integration.accounts import owners as accounts
from integration.engine import actions
from integration.storage.accounts import ApiToken
from integration.storage.models import Alert, Order, Shipment, Store
from integration.web.admin import queries
from integration.web.security import runtime

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
TOUCH_EVERY = timedelta(minutes=5)


@blueprint.errorhandler(HTTPException)
def _error(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    name = (error.name or "error").lower().replace(" ", "_")
    response = jsonify(error=name, message=error.description or name)
    if code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="droptrack"'
    return response, code


@blueprint.after_request
def _headers(response: Any) -> Any:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@blueprint.before_request
def _authenticate() -> None:
    if request.endpoint == "api.openapi":
        return
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        abort(401, description="send Authorization: Bearer <token>")
    rt = runtime()
    now = rt.clock.now()
    with rt.db.read() as session:
        token = accounts.resolve_token(session, presented.strip())
        if token is None:
            abort(401, description="the token is unknown or revoked")
        g.store_id, g.token_id = token.store_id, token.id
        stale = token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY
    if stale:
        with rt.db.write() as session:
            row = session.get(ApiToken, g.token_id)
            if row is not None:
                row.last_used_at = now


def _cursor() -> int | None:
    raw = request.args.get("cursor", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 12:
        abort(400, description="cursor must be the next_cursor of an earlier page")
    return int(raw)


def _limit() -> int:
    raw = request.args.get("limit", "")
    default = runtime().settings.admin.page_size
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        abort(400, description="limit must be between 1 and 200")
    return int(raw)


def _order_json(row: queries.OrderRow) -> dict[str, Any]:
    return {"id": row.id, "number": row.number, "email": row.email,
            "customer_name": row.customer_name, "status": row.status, "reason": row.reason,
            "created_at": row.created_at.isoformat(),
            "placed_at": row.placed_at.isoformat() if row.placed_at else None,
            "tracking_numbers": list(row.tracking_numbers), "suppliers": list(row.suppliers)}


def _shipment_json(shipment: Shipment) -> dict[str, Any]:
    return {"id": shipment.id, "order_id": shipment.order_id, "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number, "tracking_url": shipment.tracking_url,
            "status": shipment.status, "reason": shipment.reason,
            "estimated_delivery_at": _iso(shipment.estimated_delivery_at),
            "delivered_at": _iso(shipment.delivered_at)}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@blueprint.get("/store")
def store() -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as session:
        row = session.get_one(Store, g.store_id)
        return jsonify(id=row.id, platform=row.platform, domain=row.domain, name=row.name,
                       state=row.state)


@blueprint.get("/orders")
def orders() -> ResponseReturnValue:
    rt = runtime()
    filters = queries.OrderFilters(store_id=g.store_id,
                                   status=request.args.get("status") or None,
                                   reason=request.args.get("reason") or None,
                                   q=request.args.get("q", "")[:320])
    with rt.db.read() as session:
        page = queries.list_orders(session, filters, _cursor(), _limit())
    return jsonify(data=[_order_json(row) for row in page.rows],
                   next_cursor=str(page.next_cursor) if page.next_cursor else None)


def _own_order(order_id: int) -> queries.OrderDetail:
    rt = runtime()
    with rt.db.read() as session:
        order = session.get(Order, order_id)
        if order is None or order.store_id != g.store_id:
            abort(404, description="no such order in this store")
        detail = queries.order_detail(session, order_id)
    assert detail is not None
    return detail


@blueprint.get("/orders/<int:order_id>")
def order(order_id: int) -> ResponseReturnValue:
    detail = _own_order(order_id)
    o = detail.order
    return jsonify(
        id=o.id, number=o.number, email=o.email, customer_name=o.customer_name,
        status=o.status, reason=o.reason, created_at=o.created_at.isoformat(),
        placed_at=_iso(o.placed_at),
        lines=[{"sku": line.sku, "name": line.name, "quantity": line.quantity}
               for line in detail.lines],
        supplier_orders=[{"supplier": name, "status": so.status, "reason": so.reason,
                          "last_error": so.last_error, "forwarded_at": _iso(so.forwarded_at)}
                         for so, name in detail.supplier_orders],
        shipments=[_shipment_json(s) for s in detail.shipments],
        timeline=[{"at": item.at.isoformat(), "kind": item.kind, "title": item.title,
                   "detail": item.detail, "failed": item.failed} for item in detail.timeline])


@blueprint.get("/shipments")
def shipments() -> ResponseReturnValue:
    rt = runtime()
    after, limit = _cursor(), _limit()
    query = (select(Shipment).join(Order, Order.id == Shipment.order_id)
             .where(Order.store_id == g.store_id).order_by(Shipment.id.desc()).limit(limit + 1))
    if after is not None:
        query = query.where(Shipment.id < after)
    with rt.db.read() as session:
        rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify(data=[_shipment_json(s) for s in rows],
                   next_cursor=str(rows[-1].id) if more else None)


@blueprint.get("/alerts")
def alerts() -> ResponseReturnValue:
    rt = runtime()
    with rt.db.read() as session:
        items = [item for item in queries.attention_items(session, g.store_id)
                 if item.alert_id is not None]
    return jsonify(data=[{"id": item.alert_id, "kind": item.kind, "title": item.title,
                          "message": item.message, "hint": item.hint,
                          "order_id": item.order_id, "order_number": item.order_number,
                          "created_at": item.created_at.isoformat(),
                          "actions": list(item.actions)} for item in items])


@blueprint.post("/alerts/<int:alert_id>/resolve")
def resolve(alert_id: int) -> ResponseReturnValue:
    rt = runtime()
    body = request.get_json(silent=True) or {}
    note = str(body.get("note", "")) if isinstance(body, dict) else ""
    with rt.db.write() as session:
        alert = session.get(Alert, alert_id)
        if alert is None or alert.store_id != g.store_id:
            abort(404, description="no such alert in this store")
        try:
            actions.dismiss_alert(session, alert_id, note, rt.clock.now(),
                                  f"api-token:{g.token_id}")
        except actions.ActionError as exc:
            abort(409, description=str(exc))
    return jsonify(id=alert_id, resolved=True)


def _schema(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}


def _page(item: str) -> dict[str, Any]:
    return {"type": "object", "required": ["data", "next_cursor"], "properties": {
        "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
        "next_cursor": _NSTR}}


def _get(summary: str, schema: dict[str, Any], params: list[dict[str, Any]] | None = None
         ) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params or [], "responses": {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        "401": {"$ref": "#/components/responses/Unauthorized"}}}}


def openapi_document() -> dict[str, Any]:
    paging = [{"name": "cursor", "in": "query", "schema": _STR},
              {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                          "maximum": 200}}]
    order_id = [{"name": "order_id", "in": "path", "required": True,
                 "schema": {"type": "integer"}}]
    return {
        "openapi": "3.1.0",
        "info": {"title": "DropTrack API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/store": _get("The token's store", {"$ref": "#/components/schemas/Store"}),
            "/orders": _get("Orders, newest first", _page("Order"), [*paging,
                {"name": "status", "in": "query", "schema": _STR},
                {"name": "reason", "in": "query", "schema": _STR},
                {"name": "q", "in": "query", "schema": _STR,
                 "description": "order number, e-mail or tracking number"}]),
            "/orders/{order_id}": _get("One order with its timeline",
                                       {"$ref": "#/components/schemas/OrderDetail"}, order_id),
            "/shipments": _get("Parcels, newest first", _page("Shipment"), paging),
            "/alerts": _get("Open alerts", {"type": "object", "properties": {"data": {
                "type": "array", "items": {"$ref": "#/components/schemas/Alert"}}}}),
            "/alerts/{alert_id}/resolve": {"post": {
                "summary": "Mark an alert resolved",
                "parameters": [{"name": "alert_id", "in": "path", "required": True,
                                "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "Resolved"},
                              "404": {"description": "Not in this store"},
                              "409": {"description": "Already resolved"}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Unauthorized": {"description": "Missing or bad token"}},
            "schemas": {
                "Store": _schema({"id": {"type": "integer"}, "platform": _STR, "domain": _STR,
                                  "name": _STR, "state": _STR}),
                "Order": {**_schema({
                    "id": {"type": "integer"}, "number": _STR, "email": _STR,
                    "customer_name": _STR, "status": _STR, "reason": _NSTR,
                    "created_at": _STR, "placed_at": _NSTR,
                    "tracking_numbers": {"type": "array", "items": _STR},
                    "suppliers": {"type": "array", "items": _STR}}),
                    "required": ["id", "number", "status"]},
                "OrderDetail": _schema({
                    "id": {"type": "integer"}, "number": _STR, "status": _STR,
                    "shipments": {"type": "array",
                                  "items": {"$ref": "#/components/schemas/Shipment"}},
                    "timeline": {"type": "array", "items": _schema({
                        "at": _STR, "kind": _STR, "title": _STR, "detail": _STR,
                        "failed": {"type": "boolean"}})}}),
                "Shipment": _schema({
                    "id": {"type": "integer"}, "order_id": {"type": "integer"},
                    "carrier": _STR, "tracking_number": _STR, "tracking_url": _STR,
                    "status": _STR, "reason": _NSTR, "estimated_delivery_at": _NSTR,
                    "delivered_at": _NSTR}),
                "Alert": _schema({
                    "id": {"type": "integer"}, "kind": _STR, "title": _STR, "message": _STR,
                    "hint": _STR, "order_id": {"type": ["integer", "null"]},
                    "order_number": _STR, "created_at": _STR,
                    "actions": {"type": "array", "items": _STR}}),
            },
        },
    }


@blueprint.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(openapi_document())

