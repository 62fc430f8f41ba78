"""The checks before an order goes to a supplier, on the supplier's quote (pure).

In order: every line's product is known to the supplier; enough stock for the destination
(else out_of_stock, the owner's variant-or-refund action); the unit price within the owner's
limit for that SKU; a shipping method to the country (the cheapest is chosen). `quote.lines`
answer `request.lines` one for one, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from connectors.suppliers.base import (
    Quote,
    Rejection,
    ShippingOption,
    SupplierOrderRequest,
)
from core import wording
from core.status import Reason

OUT_OF_STOCK = "out_of_stock"


@dataclass(frozen=True)
class Hold:
    """Not sent: the order waits (pending, `reason`) until the owner acts."""

    reason: Reason
    message: str  # the owner's alert
    detail: str  # kept on the supplier order


@dataclass(frozen=True)
class Verdict:
    rejection: Rejection | None = None  # as if the supplier had refused (out of stock)
    hold: Hold | None = None
    shipping: ShippingOption | None = None

    @property
    def blocked(self) -> bool:
        return self.rejection is not None or self.hold is not None


def _cheapest(options: list[ShippingOption]) -> ShippingOption:
    return min(options, key=lambda option: (option.price is None,
                                            option.price or Decimal(0), option.name))


def check(quote: Quote, request: SupplierOrderRequest) -> Verdict:
    number, country = request.order_number, request.recipient.country
    if len(quote.lines) != len(request.lines):
        raise ValueError(f"quote for {len(quote.lines)} lines, order has {len(request.lines)}")
    pairs = list(zip(request.lines, quote.lines, strict=True))
    unknown = [line.supplier_variant_id or line.supplier_sku
               for line, offer in pairs if not offer.found]
    if unknown:
        details = ", ".join(unknown)
        return Verdict(hold=Hold(Reason.UNMAPPED_SKU,
                                 wording.unknown_supplier_product(number, details),
                                 f"unknown at the supplier: {details}"))
    short = [f"{line.supplier_sku}: {offer.available} available to {country}, "
             f"{line.quantity} requested"
             for line, offer in pairs
             if offer.available is not None and offer.available < line.quantity]
    if short:
        return Verdict(rejection=Rejection(OUT_OF_STOCK, "out of stock", short))
    dear = [f"{line.supplier_sku}: {offer.unit_price} {offer.currency}, your limit "
            f"{line.max_unit_price}"
            for line, offer in pairs
            if line.max_unit_price is not None and offer.unit_price is not None
            and offer.unit_price > line.max_unit_price]
    if dear:
        details = "; ".join(dear)
        return Verdict(hold=Hold(Reason.PRICE_ABOVE_LIMIT,
                                 wording.price_above_limit(number, details), details))
    if not quote.shipping_required:
        return Verdict()
    if not quote.shipping:
        return Verdict(hold=Hold(Reason.NO_SHIPPING_METHOD,
                                 wording.no_shipping_method(number, country),
                                 f"no shipping method to {country}"))
    return Verdict(shipping=_cheapest(list(quote.shipping)))
