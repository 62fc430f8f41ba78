"""AliExpress's vocabulary -> DropTrack: the signing test vector, a row for every order status
and create error code (FACTS §5), the contract's verbatim samples through the mapper."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.suppliers.aliexpress import mapper, units
from connectors.suppliers.aliexpress.units import PlatformProblem, Refusal
from core.domain import Address

VECTOR_PARAMS = {"app_key": "123456", "access_token": "test", "timestamp": "1517820392000",
                 "sign_method": "sha256", "order_id": "1234"}
VECTOR_SIGN = "4190D32361CFB9581350222F345CB77F3B19F0E31D162316848A2C1FFD5FAB4A"


def _sample(contracts_dir: Path, name: str) -> object:
    return json.loads((contracts_dir / "suppliers" / "aliexpress" / "samples" / name)
                      .read_text())


def test_signature_matches_the_official_worked_example() -> None:
    assert mapper.sign_base(VECTOR_PARAMS, "/order/get") == (
        "/order/getaccess_tokentestapp_key123456order_id1234sign_methodsha256"
        "timestamp1517820392000")
    assert mapper.sign(VECTOR_PARAMS, "helloworld", "/order/get") == VECTOR_SIGN
    assert mapper.signature_matches(VECTOR_PARAMS | {"sign": VECTOR_SIGN.lower()},
                                    "helloworld", "/order/get")


@pytest.mark.parametrize("change", [
    {"order_id": "1235"}, {"timestamp": "1517820392001"}, {"extra": "x"}])
def test_any_changed_parameter_breaks_the_signature(change: dict[str, str]) -> None:
    params = VECTOR_PARAMS | change | {"sign": VECTOR_SIGN}
    assert not mapper.signature_matches(params, "helloworld", "/order/get")
    assert not mapper.signature_matches(VECTOR_PARAMS | {"sign": VECTOR_SIGN}, "hello",
                                        "/order/get")


def test_business_calls_are_signed_without_a_path_and_sign_is_never_signed() -> None:
    params = {"method": "aliexpress.ds.product.get", "b": "2", "a": "1"}
    assert mapper.sign_base(params | {"sign": "X"}) == "a1b2methodaliexpress.ds.product.get"


# (raw order_status, DropTrack supplier-order status)
ORDER_ROWS = [
    ("PLACE_ORDER_SUCCESS", units.AWAITING_PAYMENT),
    ("PAYMENT_PROCESSING", units.RECEIVED),
    ("WAIT_SELLER_EXAMINE_MONEY", units.RECEIVED),
    ("WAIT_GROUP", units.RECEIVED),
    ("RISK_CONTROL", units.ON_HOLD),
    ("RISK_CONTROL_HOLD", units.ON_HOLD),
    ("WAIT_COMPLETE_ADDRESS", units.ON_HOLD),
    ("WAIT_SELLER_SEND_GOODS", units.PROCESSING),
    ("SELLER_PART_SEND_GOODS", units.PROCESSING),
    ("WAIT_BUYER_ACCEPT_GOODS", units.SHIPPED),
    ("FINISH", units.SHIPPED),
    ("IN_CANCEL", units.ON_HOLD),
    ("in_issue", units.ON_HOLD),
    ("in_frozen", units.ON_HOLD),
    ("ARCHIVE", units.UNKNOWN),
    ("SOMETHING_NEW", units.UNKNOWN),
    ("", units.UNKNOWN),
]


@pytest.mark.parametrize(("raw", "status"), ORDER_ROWS)
def test_every_order_status(raw: str, status: str) -> None:
    assert units.order_unit(raw).status == status


def test_every_documented_status_has_a_row() -> None:
    documented = {"PLACE_ORDER_SUCCESS", "PAYMENT_PROCESSING", "WAIT_SELLER_EXAMINE_MONEY",
                  "RISK_CONTROL", "RISK_CONTROL_HOLD", "WAIT_SELLER_SEND_GOODS",
                  "SELLER_PART_SEND_GOODS", "WAIT_BUYER_ACCEPT_GOODS", "FINISH", "IN_CANCEL",
                  "WAIT_GROUP", "WAIT_COMPLETE_ADDRESS"}
    assert documented <= set(units.ORDER_STATUSES)
    assert {raw for raw, _ in ORDER_ROWS} >= set(units.ORDER_STATUSES)


CREATE_ROWS = [
    ("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "Please enter a city",
     Refusal.INCOMPLETE_ADDRESS),
    ("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "Please select a State/Province/County",
     Refusal.INCOMPLETE_ADDRESS),
    ("B_DROPSHIPPER_DELIVERY_ADDRESS_VALIDATE_FAIL", "Address not recognised",
     Refusal.INVALID_ADDRESS),
    ("B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_CN_INVALID", "", Refusal.INVALID_ADDRESS),
    ("B_DROPSHIPPER_DELIVERY_ADDRESS_CPF_NOT_MATCH", "", Refusal.INVALID_ADDRESS),
    ("BLACKLIST_BUYER_IN_LIST", "", Refusal.ACCOUNT),
    ("USER_ACCOUNT_DISABLED", "", Refusal.ACCOUNT),
    ("PRICE_PAY_CURRENCY_ERROR", "", Refusal.ACCOUNT),
    ("DELIVERY_METHOD_NOT_EXIST", "", Refusal.NO_SHIPPING),
    ("INVENTORY_HOLD_ERROR", "", Refusal.OUT_OF_STOCK),
    ("REPEATED_ORDER_ERROR", "", Refusal.ALREADY_PLACED),
    ("ERROR_WHEN_BUILD_FOR_PLACE_ORDER", "", Refusal.REFUSED),
    ("A001_ORDER_CANNOT_BE_PLACED", "", Refusal.REFUSED),
    ("A002_INVALID_ZONE", "", Refusal.NO_SHIPPING),
    ("A003_SUSPICIOUS_BUYER", "", Refusal.ACCOUNT),
    ("A004_CANNOT_USER_COUPON", "", Refusal.REFUSED),
    ("A005_INVALID_COUNTRIES", "", Refusal.NO_SHIPPING),
    ("A006_INVALID_ACCOUNT_INFO", "", Refusal.ACCOUNT),
    ("NEVER_SEEN_BEFORE", "", Refusal.REFUSED),
]


@pytest.mark.parametrize(("code", "message", "refusal"), CREATE_ROWS)
def test_every_create_error_code(code: str, message: str, refusal: Refusal) -> None:
    assert units.create_refusal(code, message) is refusal


@pytest.mark.parametrize(("code", "sub_code", "message", "problem"), [
    ("15", "isv.insufficient-permission", "Remote service error Insufficient permission.",
     PlatformProblem.PERMISSION),
    ("15", "", "Remote service error", PlatformProblem.TEMPORARY),
    ("ApiCallLimit", "", "Api access frequency exceeds the limit. this ban will last 1 seconds",
     PlatformProblem.THROTTLED),
    ("whatever", "", "Api access frequency exceeds the limit. this ban will last 1 seconds",
     PlatformProblem.THROTTLED),
    ("IllegalAccessToken", "", "The specified access token is invalid or expired",
     PlatformProblem.TOKEN),
    ("27", "isv.invalid-session", "Invalid session", PlatformProblem.TOKEN),
    ("IncompleteSignature", "", "The request signature does not conform",
     PlatformProblem.SIGNATURE),
    ("MissingParameter", "", "product_id", PlatformProblem.REQUEST),
])
def test_platform_errors(code: str, sub_code: str, message: str,
                         problem: PlatformProblem) -> None:
    assert units.platform_problem(code, sub_code, message) is problem


def test_error_response_sample(contracts_dir: Path) -> None:
    error = mapper.parse_platform_error(
        _sample(contracts_dir, "error_response_insufficient_permission.doc.json"))
    assert error is not None and error.problem is PlatformProblem.PERMISSION
    assert error.request_id == "210126da17406391015547789"


def test_product_sample(contracts_dir: Path) -> None:
    body = _sample(contracts_dir, "ds_product_get_response.doc.json")
    result, problems = mapper.parse_envelope("aliexpress.ds.product.get", body)
    assert result is not None and not problems and result["_code"] == "0"
    product, problems = mapper.parse_product(result)
    assert product is not None and not problems and product.on_sale
    sku = product.sku("71:193#Polarized;73:175#Black Green")  # order and names do not matter
    assert sku is not None and sku.stock == 57 and sku.price == Decimal("3.94")
    assert product.sku("73:176") is None


def test_freight_samples(contracts_dir: Path) -> None:
    failed = _sample(contracts_dir, "ds_freight_query_not_available_response.doc.json")
    result, _ = mapper.parse_envelope("aliexpress.ds.freight.query", failed)
    assert result is not None
    assert mapper.parse_freight(result) == ([], "505 DELIVERY_NOT_AVAILABLE_TO_YOUR_ADDRESS")
    options, why = mapper.parse_freight({"success": True, "code": 200, "delivery_options": {
        "delivery_option_d_t_o": [
            {"code": "CAINIAO_STANDARD", "shipping_fee_cent": "1.71", "tracking": True,
             "free_shipping": False, "max_delivery_days": 34},
            {"code": "UNTRACKED", "shipping_fee_cent": "0.10", "tracking": False},
            {"code": "FREE_TRACKED", "shipping_fee_cent": "9.00", "free_shipping": True,
             "tracking": "true", "max_delivery_days": 40}]}})
    assert not why and len(options) == 3
    chosen = mapper.cheapest_tracked(options)
    assert chosen is not None and chosen.code == "FREE_TRACKED"


def test_create_samples(contracts_dir: Path) -> None:
    ok, _ = mapper.parse_envelope("aliexpress.ds.order.create", _sample(
        contracts_dir, "ds_order_create_success_response.doc.json"))
    assert ok is not None
    assert mapper.parse_create(ok) == (mapper.Placed(order_ids=("8198352049851315",)), [])
    failed, _ = mapper.parse_envelope("aliexpress.ds.order.create", _sample(
        contracts_dir, "ds_order_create_failed_response_address.doc.json"))
    assert failed is not None
    placed, _ = mapper.parse_create(failed)
    assert placed is not None and placed.refusal is Refusal.INCOMPLETE_ADDRESS
    assert mapper.parse_create({})[0] is None


def test_place_order_has_the_documented_shape(contracts_dir: Path) -> None:
    documented = _sample(contracts_dir, "ds_order_create_param_place_order_multi_product.doc.json")
    assert isinstance(documented, dict)
    built = json.loads(mapper.build_place_order(
        "1001-abc", Address(name="Malik Jack", address1="1 Main St", city="Vineland",
                            province="New Jersey", postcode="08360", country="US",
                            phone="5593600000"),
        [mapper.OrderItem("1005004638293060", "14:365458#Brown", 1, "CAINIAO_STANDARD")],
    )["param_place_order_request4_open_api_d_t_o"])
    assert built["out_order_id"] == "1001-abc"
    assert set(built["logistics_address"]) >= {"address", "city", "province", "country", "zip",
                                                "contact_person"}
    assert set(built["product_items"][0]) == set(documented["product_items"][0]) - {"order_memo"}
    assert built["product_items"][0]["product_id"] == 1005004638293060


def test_order_detail_sample(contracts_dir: Path) -> None:
    result, _ = mapper.parse_envelope("aliexpress.trade.ds.order.get", _sample(
        contracts_dir, "ds_trade_order_get_success_response.doc.json"))
    assert result is not None
    detail = mapper.parse_order_detail("1", result)
    assert detail.unit.status == units.SHIPPED and not detail.cancelled
    assert detail.logistics == (("LP00675700340000", "CAINIAO_FULFILLMENT_STD"),)
    closed = mapper.parse_order_detail("2", {"order_status": "FINISH", "child_order_list": {
        "aeop_child_order_info": [{"end_reason": "CANCELED"}]}})
    assert closed.cancelled
    assert mapper.order_view("2", [closed], []).status == units.CANCELLED


def test_tracking_samples(contracts_dir: Path) -> None:
    result, _ = mapper.parse_envelope("aliexpress.ds.order.tracking.get", _sample(
        contracts_dir, "ds_order_tracking_get_success_response.doc.json"))
    assert result is not None
    parcels, problems = mapper.parse_tracking(result)
    assert not problems and len(parcels) == 1
    parcel = parcels[0]
    assert parcel.tracking_number == "4209795192144903600008220012159992"
    assert parcel.carrier == "AliExpress standard shipping"
    assert parcel.estimated_delivery_at == datetime.fromtimestamp(1740273780, UTC)
    missing, _ = mapper.parse_envelope("aliexpress.ds.order.tracking.get", _sample(
        contracts_dir, "ds_order_tracking_get_failed_response.doc.json"))
    assert missing is not None and mapper.parse_tracking(missing) == ([], [])
    assert mapper.parse_tracking({"ret": False, "code": "UnsupportedParamMapping"})[1]


def test_split_order_becomes_several_parcels() -> None:
    parcels, _ = mapper.parse_tracking({"ret": True, "data": {"tracking_detail_line_list": {
        "tracking_detail": [{"mail_no": "LP001", "carrier_name": "Cainiao"},
                            {"mail_no": "LP002", "carrier_name": "Cainiao"},
                            {"mail_no": "LP001"}]}}})
    assert [p.tracking_number for p in parcels] == ["LP001", "LP002"]
    part = mapper.parse_order_detail("1", {"order_status": "SELLER_PART_SEND_GOODS"})
    assert mapper.order_view("1", [part], parcels).status == units.PROCESSING


def test_token_answer() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    tokens, problems = mapper.parse_tokens({"access_token": "tok-A", "refresh_token": "tok-R",
                                            "expires_in": 3600, "refresh_expires_in": 7200,
                                            "account": "owner@example.com", "code": "0"}, now)
    assert tokens is not None and not problems
    assert (tokens.access_expires_at - now).total_seconds() == 3600
    assert "tok-" not in repr(tokens)
    assert mapper.parse_tokens({"code": "InvalidCode", "message": "bad"}, now)[0] is None


@pytest.mark.parametrize(("parts", "status"), [
    (["PLACE_ORDER_SUCCESS", "WAIT_SELLER_SEND_GOODS"], units.AWAITING_PAYMENT),
    (["WAIT_BUYER_ACCEPT_GOODS", "WAIT_SELLER_SEND_GOODS"], units.PROCESSING),
    (["WAIT_BUYER_ACCEPT_GOODS", "FINISH"], units.SHIPPED),
    (["WAIT_BUYER_ACCEPT_GOODS", "RISK_CONTROL"], units.ON_HOLD),
    (["WAIT_BUYER_ACCEPT_GOODS", "NEW_THING"], units.UNKNOWN),
])
def test_an_order_split_by_seller_has_one_status(parts: list[str], status: str) -> None:
    details = [mapper.parse_order_detail(str(i), {"order_status": raw})
               for i, raw in enumerate(parts)]
    assert mapper.order_view("0,1", details, []).status == status
