"""AliExpress behind `connectors.suppliers.base.SupplierConnector`: client + mapper together.

Placing an order: every line's product is read (the SKU must exist and have the stock), its
cheapest tracked shipping method to the country chosen, then `ds.order.create` is sent once
with the order's stable `out_order_id`. A retry after a timeout sends the same reference:
AliExpress either answers with the order it already placed (a replay) or refuses with
REPEATED_ORDER_ERROR, which becomes the `already_placed` rejection (the owner links the
order: AliExpress offers no lookup by reference, FACTS §5.3). Orders cannot be cancelled by
API (FACTS §5.3 FAQ), so a withdrawal is the owner's to do on AliExpress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.request_limits import RequestLimiter
from connectors.suppliers.aliexpress import mapper, units
from connectors.suppliers.aliexpress.client import AliExpressClient, AliExpressError
from connectors.suppliers.aliexpress.mapper import OrderItem, Product, ShippingOption, Tokens
from connectors.suppliers.aliexpress.settings import (
    AUTHORIZE_PATH,
    TOKEN_CREATE,
    TOKEN_REFRESH,
    AliExpressSettings,
)
from connectors.suppliers.aliexpress.units import Refusal
from connectors.suppliers.base import (
    CreateResult,
    Parcel,
    Rejection,
    SupplierOrderRequest,
    SupplierOrderView,
)
from core.errors import RetryableError

PRODUCT_GET = "aliexpress.ds.product.get"
FREIGHT_QUERY = "aliexpress.ds.freight.query"
ORDER_CREATE = "aliexpress.ds.order.create"
ORDER_GET = "aliexpress.trade.ds.order.get"
TRACKING_GET = "aliexpress.ds.order.tracking.get"


@dataclass(frozen=True)
class LineCheck:
    """What AliExpress says about one line before it is ordered."""

    supplier_sku: str
    quantity: int
    item: OrderItem | None = None
    stock: int = 0
    price: str = ""
    shipping: ShippingOption | None = None
    problem: Refusal | None = None
    detail: str = ""


class AliExpress:
    def __init__(self, settings: AliExpressSettings, limiter: RequestLimiter,
                 client: AliExpressClient | None = None) -> None:
        self.settings = settings
        self.client = client or AliExpressClient(settings, limiter)

    @property
    def calls(self) -> int:
        return self.client.calls

    def close(self) -> None:
        self.client.close()

    # --- the account --------------------------------------------------------------------

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        from urllib.parse import urlencode

        query = urlencode({"response_type": "code", "force_auth": "true",
                           "redirect_uri": redirect_uri, "client_id": self.settings.app_key,
                           "state": state})
        return f"{self.settings.base_url.rstrip('/')}{AUTHORIZE_PATH}?{query}"

    def _tokens(self, path: str, params: dict[str, str], now_ms: int) -> Tokens:
        from datetime import UTC, datetime

        body = self.client.token(path, params)
        tokens, problems = mapper.parse_tokens(body, datetime.fromtimestamp(now_ms / 1000, UTC))
        if tokens is None:
            raise AliExpressError(f"AliExpress {path}: {'; '.join(problems)}",
                                  units.PlatformProblem.TOKEN)
        return tokens

    def exchange_code(self, code: str) -> Tokens:
        return self._tokens(TOKEN_CREATE, {"code": code}, self.client.clock_ms())

    def refresh(self, refresh_token: str) -> Tokens:
        return self._tokens(TOKEN_REFRESH, {"refresh_token": refresh_token},
                            self.client.clock_ms())

    # --- products, stock, price, shipping -----------------------------------------------

    def product(self, product_id: str, country: str) -> tuple[Product | None, str]:
        """The product as the owner's account sees it in `country`; else why not."""
        result = self.client.call(PRODUCT_GET, mapper.build_product_query(
            product_id, country, self.settings.currency, self.settings.language))
        code = result.get("_code", "0")
        if code not in ("", "0"):
            return None, {units.PRODUCT_NOT_FOUND: "no such AliExpress product",
                          units.PRODUCT_NOT_IN_COUNTRY: f"not sold to {country}"}.get(
                code, f"product lookup failed ({code})")
        product, problems = mapper.parse_product(result)
        return product, "; ".join(problems)

    def shipping_options(self, product_id: str, sku_id: str, quantity: int,
                         country: str) -> tuple[list[ShippingOption], str]:
        result = self.client.call(FREIGHT_QUERY, mapper.build_freight_query(
            product_id, sku_id, quantity, country, self.settings.currency,
            self.settings.language))
        return mapper.parse_freight(result)

    def check_line(self, supplier_sku: str, quantity: int, country: str) -> LineCheck:
        """Stock, price and a tracked shipping method for one line, before ordering."""
        product_id, sku_attr = mapper.parse_supplier_sku(supplier_sku)
        base = LineCheck(supplier_sku, quantity)
        if not product_id.isdigit():
            return _problem(base, Refusal.REFUSED,
                            f"{supplier_sku}: not an AliExpress product id")
        product, why = self.product(product_id, country)
        if product is None:
            kind = Refusal.NO_SHIPPING if "not sold" in why else Refusal.REFUSED
            return _problem(base, kind, f"{product_id}: {why}")
        sku = product.sku(sku_attr) if sku_attr or len(product.skus) != 1 else product.skus[0]
        if sku is None:
            return _problem(base, Refusal.REFUSED,
                            f"{product_id}: no variant {sku_attr or '(none given)'}")
        item = OrderItem(product.product_id, sku.sku_attr, quantity)
        price = f"{sku.price} {sku.currency}".strip() if sku.price is not None else ""
        if not product.on_sale or sku.stock < quantity:
            return LineCheck(supplier_sku, quantity, item, sku.stock, price,
                             problem=Refusal.OUT_OF_STOCK,
                             detail=f"{supplier_sku}: {sku.stock} available, "
                                    f"{quantity} requested")
        options, why = self.shipping_options(product.product_id, sku.sku_id, quantity, country)
        shipping = mapper.cheapest_tracked(options)
        if shipping is None:
            return LineCheck(supplier_sku, quantity, item, sku.stock, price,
                             problem=Refusal.NO_SHIPPING,
                             detail=f"{supplier_sku}: no tracked shipping to {country}"
                                    + (f" ({why})" if why else ""))
        item = OrderItem(product.product_id, sku.sku_attr, quantity, shipping.code)
        return LineCheck(supplier_sku, quantity, item, sku.stock, price, shipping)

    # --- orders -------------------------------------------------------------------------

    def create_order(self, request: SupplierOrderRequest,
                     idempotency_key: str) -> CreateResult:
        checks = [self.check_line(line.supplier_sku, line.quantity, request.recipient.country)
                  for line in request.lines]
        refused = [check for check in checks if check.problem is not None]
        if refused:
            return CreateResult(rejection=_rejection(refused[0].problem, [
                check.detail for check in refused if check.problem == refused[0].problem]))
        items = [check.item for check in checks if check.item is not None]
        return self.place(mapper.out_order_id(request.order_number, idempotency_key),
                          request, items)

    def place(self, reference: str, request: SupplierOrderRequest,
              items: Sequence[OrderItem]) -> CreateResult:
        result = self.client.call(ORDER_CREATE, mapper.build_place_order(
            reference, request.recipient, items))
        placed, problems = mapper.parse_create(result)
        if placed is None:
            raise RetryableError(f"AliExpress {ORDER_CREATE}: {'; '.join(problems)}")
        if placed.refusal is not None:
            detail = f"{placed.code}: {placed.message}" if placed.message else placed.code
            if placed.refusal is Refusal.ALREADY_PLACED:
                detail = (f"AliExpress already has an order with reference {reference}; find "
                          "it under My Orders and link its order number")
            return CreateResult(rejection=_rejection(placed.refusal, [detail]))
        return CreateResult(external_id=mapper.join_ids(placed.order_ids))

    def order_details(self, external_id: str) -> list[mapper.OrderDetail]:
        return [mapper.parse_order_detail(order_id, self.client.call(ORDER_GET, {
            "single_order_query": mapper.compact_json({"order_id": int(order_id)})}))
            for order_id in mapper.split_ids(external_id)]

    def get_order(self, external_id: str) -> SupplierOrderView:
        details = self.order_details(external_id)
        parcels: list[Parcel] = []
        for detail in details:
            result = self.client.call(TRACKING_GET, {"ae_order_id": detail.order_id,
                                                     "language": self.settings.language})
            found, problems = mapper.parse_tracking(result)
            if problems:
                raise RetryableError(f"AliExpress {TRACKING_GET}: {'; '.join(problems)}")
            parcels.extend(p for p in found
                           if all(p.tracking_number != q.tracking_number for q in parcels))
        return mapper.order_view(external_id, details, parcels)

    def cancel_order(self, external_id: str) -> bool:
        """AliExpress offers no cancellation by API: the owner cancels on the website."""
        return False


def _problem(base: LineCheck, kind: Refusal, detail: str) -> LineCheck:
    return LineCheck(base.supplier_sku, base.quantity, problem=kind, detail=detail)


MESSAGES = {
    Refusal.OUT_OF_STOCK: "AliExpress does not have the stock",
    Refusal.INVALID_ADDRESS: "AliExpress refused the shipping address",
    Refusal.INCOMPLETE_ADDRESS: "AliExpress needs a complete shipping address",
    Refusal.NO_SHIPPING: "AliExpress has no shipping method to this country",
    Refusal.ALREADY_PLACED: "the order was already placed at AliExpress",
    Refusal.ACCOUNT: "the AliExpress account cannot place orders",
    Refusal.REFUSED: "AliExpress refused the order",
}


def _rejection(kind: Refusal | None, details: list[str]) -> Rejection:
    assert kind is not None
    return Rejection(kind.value, MESSAGES[kind], tuple(details))
