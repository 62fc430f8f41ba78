"""AliExpress behind `connectors.suppliers.base.SupplierConnector`: client + mapper together.

Before an order goes, `quote` reads every line's product as the owner's account sees it in the
destination country (the SKU's stock and price) and the tracked shipping methods each line
can go by; a method every line shares is offered to the engine, which picks one. `create`
sends `ds.order.create` once, with the order's reference as `out_order_id` (AliExpress
refuses or replays a repeated reference for 24 h, FACTS §5.3). AliExpress offers no lookup
by reference, so `find_order` cannot help: a retry after a timeout sends the same reference,
and AliExpress either answers with the order it placed or refuses with REPEATED_ORDER_ERROR,
the `already_placed` rejection (never a second order). Orders cannot be cancelled by API
(FACTS §5.3 FAQ): a withdrawal is the owner's to do on AliExpress.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

from connectors.request_limits import RequestLimiter
from connectors.suppliers.aliexpress import mapper, units
from connectors.suppliers.aliexpress.client import AliExpressClient, AliExpressError
from connectors.suppliers.aliexpress.mapper import OrderItem, Product, Tokens
from connectors.suppliers.aliexpress.settings import (
    AUTHORIZE_PATH,
    TOKEN_CREATE,
    TOKEN_REFRESH,
    AliExpressSettings,
)
from connectors.suppliers.aliexpress.units import Refusal
from connectors.suppliers.base import (
    CreateResult,
    LineOffer,
    Parcel,
    Quote,
    Rejection,
    ShippingOption,
    SupplierLine,
    SupplierOrderRequest,
    SupplierOrderView,
)
from core.errors import RetryableError

PRODUCT_GET = "aliexpress.ds.product.get"
FREIGHT_QUERY = "aliexpress.ds.freight.query"
ORDER_CREATE = "aliexpress.ds.order.create"
ORDER_GET = "aliexpress.trade.ds.order.get"
TRACKING_GET = "aliexpress.ds.order.tracking.get"
PAY_AT = "in My Orders on aliexpress.com"


def line_ids(line: SupplierLine) -> tuple[str, str]:
    """AliExpress's `product_id` and `sku_attr` for a line: the mapping's supplier ids, else
    its supplier SKU written `product_id|sku_attr` (or a bare product id)."""
    if line.supplier_product_id:
        return line.supplier_product_id, line.supplier_variant_id
    return mapper.parse_supplier_sku(line.supplier_sku)


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
        query = urlencode({"response_type": "code", "force_auth": "true",
                           "redirect_uri": redirect_uri, "client_id": self.settings.app_key,
                           "state": state})
        return f"{self.settings.base_url.rstrip('/')}{AUTHORIZE_PATH}?{query}"

    def _tokens(self, path: str, params: dict[str, str]) -> Tokens:
        now = datetime.fromtimestamp(self.client.clock_ms() / 1000, UTC)
        tokens, problems = mapper.parse_tokens(self.client.token(path, params), now)
        if tokens is None:
            raise AliExpressError(f"AliExpress {path}: {'; '.join(problems)}",
                                  units.PlatformProblem.TOKEN)
        return tokens

    def exchange_code(self, code: str) -> Tokens:
        return self._tokens(TOKEN_CREATE, {"code": code})

    def refresh(self, refresh_token: str) -> Tokens:
        return self._tokens(TOKEN_REFRESH, {"refresh_token": refresh_token})

    # --- products, stock, price, shipping -----------------------------------------------

    def product(self, product_id: str, country: str) -> tuple[Product | None, str]:
        """The product as the owner's account sees it in `country`; else AliExpress's code
        (605: no such product, 602: not sold to that country)."""
        result = self.client.call(PRODUCT_GET, mapper.build_product_query(
            product_id, country, self.settings.currency, self.settings.language))
        code = result.get("_code", "0")
        if code not in ("", "0"):
            return None, code
        product, problems = mapper.parse_product(result)
        return product, "; ".join(problems)

    def shipping_options(self, product_id: str, sku_id: str, quantity: int,
                         country: str) -> list[mapper.ShippingOption]:
        """The tracked methods (a parcel the customer can follow), cheapest first."""
        options, _why = mapper.parse_freight(self.client.call(
            FREIGHT_QUERY, mapper.build_freight_query(
                product_id, sku_id, quantity, country, self.settings.currency,
                self.settings.language)))
        return sorted((o for o in options if o.tracked),
                      key=lambda o: (o.fee is None, o.fee or Decimal(0), o.max_days))

    def quote(self, request: SupplierOrderRequest) -> Quote:
        country = request.recipient.country
        offers: list[LineOffer] = []
        per_line: list[list[mapper.ShippingOption]] = []
        for line in request.lines:
            product_id, sku_attr = line_ids(line)
            product, code = self.product(product_id, country) if product_id.isdigit() \
                else (None, units.PRODUCT_NOT_FOUND)
            if product is None:
                if code == units.PRODUCT_NOT_IN_COUNTRY:  # known, not shipped there
                    offers.append(LineOffer(line.supplier_sku, None))
                    per_line.append([])
                else:
                    offers.append(LineOffer(line.supplier_sku, None, found=False))
                continue
            sku = product.sku(sku_attr) if sku_attr or len(product.skus) != 1 \
                else product.skus[0]
            if sku is None:
                offers.append(LineOffer(line.supplier_sku, None, found=False))
                continue
            offers.append(LineOffer(line.supplier_sku, sku.stock if product.on_sale else 0,
                                    sku.price, sku.currency or self.settings.currency))
            if sku.stock >= line.quantity:
                per_line.append(self.shipping_options(product.product_id, sku.sku_id,
                                                      line.quantity, country))
        return Quote(offers, _shared_methods(per_line))

    # --- orders -------------------------------------------------------------------------

    def create_order(self, request: SupplierOrderRequest,
                     idempotency_key: str) -> CreateResult:
        reference = request.reference or idempotency_key
        items = []
        for line in request.lines:
            product_id, sku_attr = line_ids(line)
            items.append(OrderItem(product_id, sku_attr, line.quantity,
                                   request.shipping_method))
        result = self.client.call(ORDER_CREATE, mapper.build_place_order(
            reference, request.recipient, items,
            self.settings.currency if self.settings.auto_pay else ""))
        placed, problems = mapper.parse_create(result)
        if placed is None:
            raise RetryableError(f"AliExpress {ORDER_CREATE}: {'; '.join(problems)}")
        if placed.refusal is not None:
            detail = f"{placed.code}: {placed.message}" if placed.message else placed.code
            if placed.refusal is Refusal.ALREADY_PLACED:
                detail = (f"AliExpress already holds an order with reference {reference} "
                          "(the answer to an earlier attempt was lost). Do not forward it "
                          "again: find it in My Orders on aliexpress.com")
            return CreateResult(rejection=Rejection(placed.refusal.value,
                                                    MESSAGES[placed.refusal], (detail,)))
        return CreateResult(external_id=mapper.join_ids(placed.order_ids),
                            awaiting_payment=None if self.settings.auto_pay else PAY_AT)

    def find_order(self, reference: str) -> str | None:
        """AliExpress has no lookup by `out_order_id` (FACTS §5.3): its own 24-hour
        deduplication of the reference stands in for it."""
        return None

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


def _shared_methods(per_line: Sequence[Sequence[mapper.ShippingOption]]
                    ) -> list[ShippingOption]:
    """The methods every line can go by (AliExpress ships each product by its own method,
    named in the create per item; DropTrack sends one for the whole order), priced as the
    sum of the lines' fees."""
    if not per_line:
        return []
    common = set.intersection(*({o.code for o in options} for options in per_line))
    shared = []
    for code in sorted(common):
        chosen = [next(o for o in options if o.code == code) for options in per_line]
        fees = [o.fee for o in chosen]
        shared.append(ShippingOption(
            code, sum((fee for fee in fees if fee is not None), Decimal(0))
            if None not in fees else None, chosen[0].currency or "USD",
            f"{max(o.min_days for o in chosen)}-{max(o.max_days for o in chosen)}"))
    return shared


MESSAGES = {
    Refusal.OUT_OF_STOCK: "AliExpress does not have the stock",
    Refusal.INVALID_ADDRESS: "AliExpress refused the shipping address",
    Refusal.INCOMPLETE_ADDRESS: "AliExpress needs a complete shipping address",
    Refusal.NO_SHIPPING: "AliExpress has no shipping method to this country",
    Refusal.ALREADY_PLACED: "the order is already placed at AliExpress",
    Refusal.ACCOUNT: "the AliExpress account cannot place orders",
    Refusal.REFUSED: "AliExpress refused the order",
}
