"""CJdropshipping Open API 2.0 served locally (FACTS.md): `/api2.0/v1/...` with CJ's envelope
(business errors inside HTTP 200), token lifecycle and call limits, the QPS by account level
and the daily limit per interface, catalogue, stock, freight and orders.

ASSUMED where the contract is silent (kept in one place, units below): the rate-limit code
1600200; createOrderV2's refusal codes (1603001 order number exists, 1603002 out of stock,
1603003 address refused, 1603004 logistics not available); the stock answer's shape; a split
order listing its tracking numbers comma-separated in `trackNumber`.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from flask import Flask, Response, request

from sandboxes.cj.state import (
    GET_TOKEN_EVERY,
    REFRESHES_PER_MINUTE,
    REFUSED_STREET_WORDS,
    REFUSED_ZIPS,
    Account,
    CJState,
    Order,
    Variant,
)
from sandboxes.home import Row, home_page

PREFIX = "/api2.0/v1"
PARAM_ERROR = 1600100
INVALID_TOKEN = 1600001
EMPTY_TOKEN = 1600002
INVALID_REFRESH = 1600003
AUTH_FAILED = 1600004
API_KEY_WRONG = 1600005
TOO_MANY = 1600200  # ASSUMED
ORDER_EXISTS, OUT_OF_STOCK, ADDRESS_REFUSED, NO_LOGISTICS = 1603001, 1603002, 1603003, 1603004
REQUIRED = ("orderNumber", "shippingCountryCode", "shippingCountry", "shippingProvince",
            "shippingCity", "shippingAddress", "shippingCustomerName", "logisticName",
            "fromCountryCode", "products")


class CJError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def envelope(data: Any = None, code: int = 200, message: str = "Success") -> Response:
    body = {"code": code, "result": code == 200, "message": message, "data": data,
            "requestId": CJState.request_id()}
    return Response(json.dumps(body, default=str), 200, mimetype="application/json")


def _variant_view(variant: Variant) -> dict[str, Any]:
    return {"vid": variant.vid, "pid": variant.pid, "variantSku": variant.sku,
            "variantNameEn": variant.name, "variantKey": variant.name,
            "variantSellPrice": float(variant.price), "variantWeight": 350}


def _order_view(order: Order) -> dict[str, Any]:
    body = order.body
    return {"orderId": order.order_id, "orderNum": order.order_num,
            "cjOrderId": order.order_id, "orderStatus": order.status,
            "createDate": order.created.isoformat(),
            "paymentDate": order.paid_at.isoformat() if order.paid_at else None,
            "orderAmount": float(order.amount), "logisticName": body.get("logisticName"),
            "trackNumber": ",".join(order.track_numbers) or None,
            "shippingCountryCode": body.get("shippingCountryCode"),
            "shippingCustomerName": body.get("shippingCustomerName"),
            "productList": [{"vid": p.get("vid"), "quantity": p.get("quantity")}
                            for p in body.get("products", [])]}


def create_cj_app(state: CJState) -> Flask:
    app = Flask("sandbox-cj")
    app.extensions["sandbox"] = state

    @app.get("/")
    def home() -> str:
        """The orders DropTrack placed (a page for the person running the demo; CJ's API has
        no such page, and every API route still needs an access token)."""
        with state.lock:
            rows = [Row((order.order_id, order.order_num, order.status.lower().replace("_", " "),
                         ", ".join(order.track_numbers)))
                    for order in state.orders.values()]
        return home_page("CJdropshipping sandbox: orders", "The orders DropTrack placed at "
                         "this CJ account; the API (/api2.0/v1/...) needs an access token.",
                         ("CJ order", "Store order", "Status", "Tracking"), rows,
                         "No orders yet.")

    def body_json() -> dict[str, Any]:
        try:
            data = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            raise CJError(PARAM_ERROR, "The request parameter is not in a correct JSON "
                                       "format") from None
        if not isinstance(data, dict):
            raise CJError(PARAM_ERROR, "Param error")
        return data

    def account() -> Account:
        state.advance()
        access = request.headers.get("CJ-Access-Token", "").strip()
        if not access:
            raise CJError(EMPTY_TOKEN, "access token cannot be empty")
        token = state.token_for(access)
        if token is None:
            raise CJError(INVALID_TOKEN, "Invalid API key or access token")
        refusal = state.count_limits(token.account, request.path)
        if refusal is not None:
            raise CJError(TOO_MANY, refusal)
        return token.account

    @app.errorhandler(CJError)
    def cj_error(error: CJError) -> Response:
        return envelope(None, error.code, error.message)

    @app.post(f"{PREFIX}/authentication/getAccessToken")
    def get_access_token() -> Response:
        key = str(body_json().get("apiKey") or "")
        with state.lock:
            found = state.accounts.get(key)
            if found is None:
                raise CJError(API_KEY_WRONG, "APIkey is wrong")
            if found.revoked:
                raise CJError(AUTH_FAILED, "Authorization failed, please check CJ account")
            now = state.clock.now()
            if found.last_get_token and now - found.last_get_token < GET_TOKEN_EVERY:
                raise CJError(TOO_MANY, "Too Many Requests: getAccessToken once every 5 "
                                        "minutes")
            found.last_get_token = now
            state.token_calls.append("get")
            return envelope(_token_view(state.issue(found), now))

    @app.post(f"{PREFIX}/authentication/refreshAccessToken")
    def refresh_access_token() -> Response:
        refresh = str(body_json().get("refreshToken") or "")
        with state.lock:
            token = state.refresh_tokens.get(refresh)
            now = state.clock.now()
            if token is None or token.refresh_expires <= now or token.account.revoked:
                raise CJError(INVALID_REFRESH, "Invalid Refresh token")
            recent = token.account.refreshes
            while recent and (now - recent[0]).total_seconds() >= 60:
                recent.popleft()
            if len(recent) >= REFRESHES_PER_MINUTE:
                raise CJError(TOO_MANY, "Too Many Requests: refreshAccessToken 5 times per "
                                        "minute")
            recent.append(now)
            state.refresh_tokens.pop(refresh, None)
            token.revoked = True
            state.token_calls.append("refresh")
            return envelope(_token_view(state.issue(token.account), now))

    @app.get(f"{PREFIX}/product/variant/queryByVid")
    def variant_by_vid() -> Response:
        account()
        variant = state.variants.get(request.args.get("vid", ""))
        if variant is None:
            raise CJError(PARAM_ERROR, "Param error")
        return envelope(_variant_view(variant))

    @app.get(f"{PREFIX}/product/variant/query")
    def variant_query() -> Response:
        account()
        sku, pid = request.args.get("variantSku", ""), request.args.get("pid", "")
        if not sku and not pid:
            raise CJError(PARAM_ERROR, "Param error")
        return envelope([_variant_view(v) for v in state.variants.values()
                         if (sku and v.sku == sku) or (pid and v.pid == pid)])

    @app.get(f"{PREFIX}/product/query")
    def product_query() -> Response:
        account()
        pid = request.args.get("pid", "")
        variants = [v for v in state.variants.values() if v.pid == pid]
        if not variants:
            raise CJError(PARAM_ERROR, "Param error")
        return envelope({"pid": pid, "productNameEn": variants[0].name.split(" ")[0],
                         "productSku": variants[0].sku.split("-")[0],
                         "variants": [_variant_view(v) for v in variants]})

    @app.get(f"{PREFIX}/product/stock/queryByVid")
    def stock_by_vid() -> Response:
        account()
        variant = state.variants.get(request.args.get("vid", ""))
        if variant is None:
            raise CJError(PARAM_ERROR, "Param error")
        return envelope([{"vid": variant.vid, "countryCode": country, "areaEn": country,
                          "totalInventoryNum": units}
                         for country, units in sorted(variant.stock.items())])

    @app.post(f"{PREFIX}/logistic/freightCalculate")
    def freight() -> Response:
        account()
        body = body_json()
        end = str(body.get("endCountryCode") or "")
        products = body.get("products")
        if not end or not isinstance(products, list) or not products:
            raise CJError(PARAM_ERROR, "Param error")
        for product in products:
            if not isinstance(product, dict) or product.get("vid") not in state.variants:
                raise CJError(PARAM_ERROR, "Param error")
        return envelope([{"logisticAging": aging, "logisticPrice": float(price),
                          "logisticPriceCn": float(price * 7), "logisticName": name}
                         for name, price, aging in state.freight.get(end, [])])

    @app.post(f"{PREFIX}/shopping/order/createOrderV2")
    def create_order() -> Response:
        who = account()
        body = body_json()
        missing = [name for name in REQUIRED if body.get(name) in (None, "", [])]
        if missing:
            raise CJError(PARAM_ERROR, f"Param error: {', '.join(missing)}")
        with state.lock:
            state.create_calls += 1
            if state.by_number(who, str(body["orderNumber"])) is not None:
                raise CJError(ORDER_EXISTS, "orderNumber already exists")
            country = str(body["shippingCountryCode"]).upper()
            street = str(body["shippingAddress"]).lower()
            if str(body.get("shippingZip") or "") in REFUSED_ZIPS or any(
                    word in street for word in REFUSED_STREET_WORDS):
                raise CJError(ADDRESS_REFUSED, "The shipping address is invalid: shippingZip")
            if body["logisticName"] not in [n for n, _, _ in state.freight.get(country, [])]:
                raise CJError(NO_LOGISTICS, f"logisticName is not available to {country}")
            amount = Decimal(0)
            for product in body["products"]:
                variant = state.variants.get(str(product.get("vid"))) if isinstance(
                    product, dict) else None
                quantity = product.get("quantity") if isinstance(product, dict) else None
                if variant is None or not isinstance(quantity, int) or quantity <= 0:
                    raise CJError(PARAM_ERROR, "Param error: products")
                origin = str(body["fromCountryCode"]).upper()
                if variant.stock.get(origin, 0) < quantity:
                    raise CJError(OUT_OF_STOCK, f"{variant.sku} is out of stock")
                amount += variant.price * quantity
            for product in body["products"]:
                state.variants[product["vid"]].stock[str(body["fromCountryCode"]).upper()] -= \
                    product["quantity"]
            order = state.new_order(who, body, amount)
            pay_type = body.get("payType")
            if pay_type == 2 and who.balance >= amount:
                who.balance -= amount
                state.pay(order.order_id)
            elif pay_type in (2, 1, None, ""):
                order.status = "UNPAID"
            fail = state.create_fail_after_commit > 0
            if fail:
                state.create_fail_after_commit -= 1
            delay = state.create_delay_seconds
        if delay:
            time.sleep(delay)  # the client has given up by now: an ambiguous timeout
        if fail:
            return Response("Bad Gateway", 502)
        return envelope({"orderId": order.order_id, "orderNumber": order.order_num})

    @app.get(f"{PREFIX}/shopping/order/list")
    def order_list() -> Response:
        who = account()
        try:
            page = int(request.args.get("pageNum", "1"))
            size = int(request.args.get("pageSize", "10"))
        except ValueError:
            raise CJError(PARAM_ERROR, "Param error") from None
        if page < 1 or not 1 <= size <= 50:
            raise CJError(PARAM_ERROR, "Param error")
        with state.lock:
            mine = sorted((o for o in state.orders.values() if o.account is who),
                          key=lambda o: (o.created, o.order_id), reverse=True)
        rows = mine[(page - 1) * size: page * size]
        return envelope({"list": [_order_view(o) for o in rows], "total": len(mine),
                         "pageNum": page, "pageSize": size})

    @app.get(f"{PREFIX}/shopping/order/getOrderDetail")
    def order_detail() -> Response:
        who = account()
        order = state.orders.get(request.args.get("orderId", ""))
        if order is None or order.account is not who:
            raise CJError(PARAM_ERROR, "Param error: orderId")
        return envelope(_order_view(order))

    @app.delete(f"{PREFIX}/shopping/order/deleteOrder")
    def delete_order() -> Response:
        who = account()
        with state.lock:
            order = state.orders.get(request.args.get("orderId", ""))
            if order is None or order.account is not who:
                raise CJError(PARAM_ERROR, "Param error: orderId")
            if order.status not in ("CREATED", "IN_CART", "UNPAID"):
                raise CJError(PARAM_ERROR, f"the order is {order.status} and cannot be "
                                           "deleted")
            order.status = "CANCELLED"
        return envelope(order.order_id)

    @app.get(f"{PREFIX}/logistic/trackInfo")
    def track_info() -> Response:
        account()
        numbers = request.args.getlist("trackNumber")
        if not numbers:
            raise CJError(PARAM_ERROR, "Param error")
        rows = []
        for order in list(state.orders.values()):
            for number in order.track_numbers:
                if number in numbers:
                    rows.append({"trackingNumber": number,
                                 "logisticName": order.body.get("logisticName"),
                                 "trackingFrom": order.body.get("fromCountryCode"),
                                 "trackingTo": order.body.get("shippingCountryCode"),
                                 "trackingStatus": "In transit",
                                 "lastMileCarrier": order.carrier,
                                 "lastTrackNumber": number})
        return envelope(rows)

    @app.get(f"{PREFIX}/shopping/pay/getBalance")
    def balance() -> Response:
        who = account()
        return envelope({"amount": float(who.balance), "noWithdrawalAmount": 0,
                         "freezeAmount": 0})

    @app.post(f"{PREFIX}/webhook/set")
    def webhook_set() -> Response:
        account()
        body = body_json()
        for topic, setting in body.items():
            urls = setting.get("callbackUrls") if isinstance(setting, dict) else None
            if topic not in ("product", "stock", "order", "logistics") or not isinstance(
                    urls, list) or len(urls) > 1:
                raise CJError(PARAM_ERROR, "Param error")
            if setting.get("type") == "ENABLE" and not all(
                    str(u).startswith("https://") for u in urls):
                raise CJError(PARAM_ERROR, "callbackUrls must be public https addresses")
            state.webhooks[topic] = dict(setting)
        return envelope(True)

    return app


def _token_view(token: Any, now: Any) -> dict[str, Any]:
    return {"openId": token.account.open_id, "accessToken": token.access,
            "accessTokenExpiryDate": token.access_expires.isoformat(),
            "refreshToken": token.refresh,
            "refreshTokenExpiryDate": token.refresh_expires.isoformat(),
            "createDate": now.isoformat()}
