"""The checks before forwarding, on a supplier's quote (integration/engine/preflight.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.suppliers.base import (
    LineOffer,
    Quote,
    ShippingOption,
    SupplierLine,
    SupplierOrderRequest,
)
from core.domain import Address, OrderLine
from core.status import Reason
from integration.engine import preflight
from integration.engine.routing import Mapping, route

US = Address(name="Jane Doe", address1="1 Main St", city="Springfield", province="IL",
             postcode="62704", country="US")
USPS = ShippingOption("USPS+", Decimal("4.71"), days="2-5")
POST = ShippingOption("CJPacket", Decimal("3.10"))


def _request(*lines: SupplierLine) -> SupplierOrderRequest:
    return SupplierOrderRequest(store="s", order_number="#1001", recipient=US, email="",
                                lines=lines, reference="1-1001")


LINE = SupplierLine("MUG", 2, supplier_variant_id="V1", max_unit_price=Decimal("10.00"))


@pytest.mark.parametrize(("offer", "shipping", "required", "expect"), [
    (LineOffer("MUG", 5, Decimal("9.99")), (USPS, POST), True, "ok:CJPacket"),
    (LineOffer("MUG", 2, Decimal("10.00")), (USPS,), True, "ok:USPS+"),
    (LineOffer("MUG", None, None), (USPS,), True, "ok:USPS+"),
    (LineOffer("MUG", 1, Decimal("9.99")), (USPS,), True, "out_of_stock"),
    (LineOffer("MUG", 0, Decimal("9.99")), (), True, "out_of_stock"),
    (LineOffer("MUG", 5, Decimal("10.01")), (USPS,), True, Reason.PRICE_ABOVE_LIMIT),
    (LineOffer("MUG", 5, Decimal("9.99")), (), True, Reason.NO_SHIPPING_METHOD),
    (LineOffer("MUG", 5, Decimal("9.99")), (), False, "ok:"),
    (LineOffer("MUG", None, found=False), (USPS,), True, Reason.UNMAPPED_SKU),
])
def test_verdicts(offer: LineOffer, shipping: tuple[ShippingOption, ...], required: bool,
                  expect: object) -> None:
    verdict = preflight.check(Quote([offer], shipping, shipping_required=required),
                              _request(LINE))
    if isinstance(expect, Reason):
        assert verdict.hold is not None and verdict.hold.reason is expect
        assert "#1001" in verdict.hold.message and verdict.rejection is None
    elif expect == "out_of_stock":
        assert verdict.rejection is not None and verdict.rejection.kind == "out_of_stock"
        assert "requested" in verdict.rejection.details[0] and verdict.hold is None
    else:
        assert not verdict.blocked
        name = str(expect).split(":", 1)[1]
        assert (verdict.shipping.name if verdict.shipping else "") == name


def test_a_quote_must_answer_every_line() -> None:
    with pytest.raises(ValueError):
        preflight.check(Quote([], (USPS,)), _request(LINE))


def test_the_supplier_ids_stay_with_the_primary_a_backup_goes_by_sku() -> None:
    mapping = Mapping(supplier_id=1, sku="MUG", supplier_sku="CJ-MUG", backup_supplier_id=2,
                      supplier_product_id="P1", supplier_variant_id="V1",
                      max_unit_price=Decimal("10"))
    line = OrderLine(external_id="l1", sku="MUG", name="Mug", quantity=1)
    primary = route([line], [mapping], "US").by_supplier[1][0]
    assert (primary.supplier_variant_id, primary.max_unit_price) == ("V1", Decimal("10"))
    assert primary.payload()["max_unit_price"] == "10"
    backup = route([line], [mapping], "US", unavailable={1}).by_supplier[2][0]
    assert (backup.supplier_sku, backup.supplier_variant_id, backup.max_unit_price) == (
        "CJ-MUG", "", None)
