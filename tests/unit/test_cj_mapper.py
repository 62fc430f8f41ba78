"""CJdropshipping's pure mapper and vocabulary, on the contract's real samples where there
are some (contracts/suppliers/cjdropshipping/samples) and on the safe readings elsewhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.suppliers.cjdropshipping import mapper, units
from tests.conftest import CONTRACTS_DIR

SAMPLES = CONTRACTS_DIR / "suppliers" / "cjdropshipping" / "samples"


def _sample(name: str) -> object:
    path = SAMPLES / name
    if not path.is_file():
        pytest.skip("CJ contract samples not found (shared/ is absent)")
    return json.loads(path.read_text())


def test_the_documented_token_answer() -> None:
    envelope = mapper.read_envelope(_sample("getAccessToken_response.doc_en.json"))
    assert envelope.ok and envelope.request_id == "8b3d9ea1-00c3-4d10-9e2b-d18041d98080"
    tokens = mapper.parse_tokens(envelope.data)
    assert tokens is not None and tokens.access_token == "f59ac98193d64d62a9e887abea830369"
    assert tokens.access_expires_at == datetime(2021, 8, 18, 1, 16, 33, tzinfo=UTC)  # +08:00
    assert mapper.parse_tokens(tokens.as_json()) == tokens  # the stored copy reads back


def test_the_documented_error_and_freight_answers() -> None:
    error = mapper.read_envelope(_sample("error_response_param_error.doc_zh_product.json"))
    assert (error.ok, error.code, error.message) == (False, units.PARAM_ERROR, "Param error")
    freight = mapper.read_envelope(_sample("freightCalculate_response.doc_zh.json"))
    [option] = mapper.parse_freight(freight.data)
    assert (option.name, option.price, option.days) == ("USPS+", Decimal("4.71"), "2-5")


@pytest.mark.parametrize(("body", "ok"), [
    ({"code": 200, "result": True, "message": "Success", "data": 1}, True),
    ({"code": 0, "success": True, "data": []}, True),  # shop/getShops's quirk
    ({"code": 200, "result": False, "message": "?"}, False),
    ({"code": "200", "result": "true"}, False),  # never read a string as success
    ({"code": 1600200, "result": False, "message": "Too Many Requests"}, False),
    ("<html>502</html>", False),
    (None, False),
])
def test_envelopes_are_read_strictly(body: object, ok: bool) -> None:
    assert mapper.read_envelope(body).ok is ok


@pytest.mark.parametrize(("value", "pid"), [
    ("1424608189734850560", "1424608189734850560"),
    (" https://cjdropshipping.com/product/ceramic-mug-p-1424608189734850560.html ",
     "1424608189734850560"),
    ("https://cjdropshipping.com/product/x-p-1424608189734850560.html?from=search",
     "1424608189734850560"),
    ("439FC05B-1311-4349-87FA-1E1EF942C418", "439FC05B-1311-4349-87FA-1E1EF942C418"),
    ("https://evil.example/x", None),
    ("12", None),
    ("", None),
])
def test_product_ids_from_what_the_owner_pastes(value: str, pid: str | None) -> None:
    assert mapper.product_id_from(value) == pid


@pytest.mark.parametrize(("status", "ours"), [
    ("CREATED", "received"), ("IN_CART", "awaiting_payment"), ("UNPAID", "awaiting_payment"),
    ("UNSHIPPED", "processing"), ("SHIPPED", "shipped"), ("delivered", "shipped"),
    ("CANCELLED", "cancelled"), ("OTHER", "on_hold"), ("", "on_hold"),
])
def test_order_statuses(status: str, ours: str) -> None:
    assert units.order_status(status) == ours


@pytest.mark.parametrize(("code", "message", "kind", "duplicate"), [
    (units.OUT_OF_STOCK, "", "out_of_stock", False),
    (1609999, "Insufficient stock for CJMUG001", "out_of_stock", False),
    (units.ADDRESS_REFUSED, "bad", "invalid_address", False),
    (1609999, "The shipping address is invalid", "invalid_address", False),
    (units.ORDER_NUMBER_EXISTS, "", None, True),
    (1609999, "orderNumber already exists", None, True),
    (units.PARAM_ERROR, "Param error", None, False),
])
def test_create_refusals(code: int, message: str, kind: str | None, duplicate: bool) -> None:
    refusal = mapper.order_refusal(code, message)
    assert (refusal.kind if refusal else None) == kind
    assert mapper.is_duplicate(code, message) is duplicate


def test_stock_counts_only_the_warehouse_orders_ship_from() -> None:
    data = [{"countryCode": "CN", "totalInventoryNum": 120}, {"countryCode": "US",
                                                              "totalInventoryNum": "8"},
            {"countryCode": "CN", "storageNum": -3}, "junk"]
    assert mapper.parse_stock(data, "CN") == 120
    assert mapper.parse_stock(data, "us") == 8
    assert mapper.parse_stock({"inventories": data}, "DE") == 0


def test_a_split_order_has_a_parcel_per_tracking_number() -> None:
    tracks = mapper.parse_tracks([{"trackingNumber": "LP1", "lastMileCarrier": "USPS"},
                                  {"trackingNumber": "", "lastMileCarrier": "x"}])
    view = mapper.parse_order({"orderId": "7", "orderStatus": "SHIPPED",
                               "trackNumber": "LP1, LP2", "logisticName": "CJPacket"}, tracks)
    assert view.status == "shipped"
    assert [(p.tracking_number, p.carrier) for p in view.parcels] == [("LP1", "USPS"),
                                                                       ("LP2", "CJPacket")]
    assert mapper.parse_order({"orderStatus": "UNSHIPPED"}, {}).parcels == ()
