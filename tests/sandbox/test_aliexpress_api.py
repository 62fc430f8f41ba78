"""The AliExpress connector against the AliExpress sandbox, over real HTTP: OAuth and
refresh, signatures, the envelopes and error_response, the QPS ban, stock, freight, create
exactly once, statuses, split parcels, cancellation."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
import requests

from connectors.request_limits import InProcessRequestLimiter
from connectors.suppliers.aliexpress import units
from connectors.suppliers.aliexpress.client import AliExpressError, AliExpressTokenError
from connectors.suppliers.aliexpress.units import PlatformProblem
from connectors.suppliers.base import SupplierLine, SupplierOrderRequest
from connectors.tracking.base import TrackRequest
from connectors.tracking.seventeen_track.connector import SeventeenTrack
from connectors.tracking.seventeen_track.settings import SeventeenTrackSettings
from core.domain import Address
from core.errors import RetryableError
from tests.helpers.sandbox_17track import Tracker
from tests.helpers.sandbox_aliexpress import AliExpressSandbox

BOTTLE = "1005004638293060|14:365458#Brown"
BOTTLE_WHITE = "1005004638293060|14:29#White"  # out of stock
GLASSES = "4000903675543|73:175#Black Green;71:193#Polarized"
CASE = "1005006000000001"  # single SKU, ships to US GB DE only
HOME = Address(name="Ada Lovelace", address1="12 Main Street", city="Springfield",
               province="Illinois", postcode="62701", country="US", phone="5550100")


def _request(*skus: str, number: str = "1001", address: Address = HOME, quantity: int = 1,
             shipping_method: str = "") -> SupplierOrderRequest:
    return SupplierOrderRequest(store="shop.example", order_number=number, recipient=address,
                                email="ada@example.com", reference=f"1-{number}",
                                shipping_method=shipping_method,
                                lines=[SupplierLine(sku, quantity) for sku in skus])


def test_oauth_code_flow_tokens_and_refresh(aliexpress: AliExpressSandbox) -> None:
    tokens = aliexpress.tokens()
    assert tokens.account == "owner@example.com" and tokens.refresh_token
    assert tokens.access_expires_at > aliexpress.clock.now()
    connector = aliexpress.connector()
    with pytest.raises(AliExpressTokenError):  # a code is single use
        connector.exchange_code("not-a-code")
    fresh = connector.refresh(tokens.refresh_token)
    assert fresh.access_token != tokens.access_token
    with pytest.raises(AliExpressTokenError):  # the refresh token was used up
        connector.refresh(tokens.refresh_token)
    with pytest.raises(AliExpressTokenError):  # the old access token stopped working
        aliexpress.connector(tokens.access_token).product("4000903675543", "US")
    product, _ = aliexpress.connector(fresh.access_token).product("4000903675543", "US")
    assert product is not None


def test_bad_signature_is_refused_by_the_sandbox(aliexpress: AliExpressSandbox) -> None:
    tokens = aliexpress.tokens()
    wrong = aliexpress.connector(tokens.access_token, app_secret="not-the-secret")
    with pytest.raises(AliExpressError) as refused:
        wrong.product("4000903675543", "US")
    assert refused.value.problem is PlatformProblem.SIGNATURE
    assert not aliexpress.state.orders
    # Tampering on the wire is caught the same way: a parameter changed after signing.
    signed = {"app_key": "500001", "method": "aliexpress.ds.product.get", "sign_method":
              "sha256", "timestamp": str(int(aliexpress.clock.now().timestamp() * 1000)),
              "access_token": tokens.access_token, "product_id": "1", "sign": "00"}
    body = requests.post(f"{aliexpress.url}/sync", data=signed, timeout=5).json()
    assert body["error_response"]["code"] == "IncompleteSignature"


def test_expired_and_revoked_tokens(aliexpress: AliExpressSandbox) -> None:
    tokens = aliexpress.tokens()
    connector = aliexpress.connector(tokens.access_token)
    aliexpress.state.expire_tokens()
    with pytest.raises(AliExpressTokenError):
        connector.product("4000903675543", "US")
    renewed = connector.refresh(tokens.refresh_token)  # an expired access token is renewable
    aliexpress.state.revoke()
    with pytest.raises(AliExpressTokenError):
        aliexpress.connector(renewed.access_token).product("4000903675543", "US")
    with pytest.raises(AliExpressTokenError):  # revoked: refreshing does not help either
        connector.refresh(renewed.refresh_token)


def test_qps_ban_is_waited_out_as_a_budget(aliexpress: AliExpressSandbox) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    aliexpress.state.ban()
    waits = aliexpress.on_sandbox_time(connector)
    product, _ = connector.product("4000903675543", "US")
    assert product is not None and sum(waits) >= 1.0  # one ban, waited out, then answered
    assert connector.client.limiter.remaining_pause(connector.settings.limiter_key) == 0


def test_ban_that_does_not_end_is_a_throttled_retry(aliexpress: AliExpressSandbox) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    aliexpress.state.qps = 0  # every call is over the limit
    waits = aliexpress.on_sandbox_time(connector)
    with pytest.raises(RetryableError) as throttled:
        connector.product("4000903675543", "US")
    assert throttled.value.throttled and throttled.value.retry_after_seconds == 1.0
    assert len(waits) == 2  # each ban waited out once before the call gave up


def test_quote_stock_price_and_shipping(aliexpress: AliExpressSandbox) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    quote = connector.quote(_request(GLASSES, BOTTLE, quantity=2))
    glasses, bottle = quote.lines
    assert (glasses.available, glasses.unit_price, glasses.found) == (57, Decimal("3.94"), True)
    assert bottle.available == 120
    # Only tracked methods, shared by both lines, priced for both.
    assert [(o.name, o.price) for o in quote.shipping] == [("CAINIAO_STANDARD",
                                                            Decimal("3.98"))]
    # The mapping's supplier ids win over the SKU text.
    by_ids = SupplierOrderRequest(
        store="s", order_number="1", recipient=HOME, email="", lines=[SupplierLine(
            "MY-SKU", 1, supplier_product_id="1005004638293060",
            supplier_variant_id="14:29#White")])
    assert connector.quote(by_ids).lines[0].available == 0  # the white one: out of stock
    single = connector.quote(_request(CASE, address=replace(HOME, country="GB")))
    assert single.lines[0].available == 500 and single.shipping
    not_there = connector.quote(_request(CASE, address=replace(HOME, country="FR")))
    assert not_there.lines[0].found and not not_there.shipping  # no shipping to FR
    unknown = connector.quote(_request("999", "1005004638293060|1:2#Nope"))
    assert [line.found for line in unknown.lines] == [False, False]
    aliexpress.state.set_stock("4000903675543", "73:175#Black Green;71:193#Polarized", 1)
    assert connector.quote(_request(GLASSES)).lines[0].available == 1  # stock changes


def test_create_once_then_status_split_parcels_and_tracking(
        aliexpress: AliExpressSandbox) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    created = connector.create_order(_request(BOTTLE, GLASSES,
                                              shipping_method="CAINIAO_STANDARD"), "k")
    assert created.rejection is None and created.external_id
    assert created.awaiting_payment  # the owner pays at AliExpress (auto-pay is off)
    (order,) = aliexpress.state.orders.values()
    assert order.out_order_id == "1-1001"
    assert {item["service"] for item in order.items} == {"CAINIAO_STANDARD"}
    assert connector.get_order(created.external_id).status == units.AWAITING_PAYMENT
    aliexpress.state.pay(order.order_id)
    view = connector.get_order(created.external_id)
    assert view.status == units.PROCESSING and not view.parcels
    first, second = aliexpress.state.ship_split(order.order_id)
    view = connector.get_order(created.external_id)
    assert view.status == units.SHIPPED
    assert [p.tracking_number for p in view.parcels] == [first, second]
    assert first.startswith("LP")  # Cainiao: the 17TRACK sandbox detects and follows it


def test_auto_pay_when_the_owner_allows_it(aliexpress: AliExpressSandbox) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token, auto_pay=True)
    created = connector.create_order(_request(BOTTLE), "k")
    assert created.external_id and created.awaiting_payment is None
    assert connector.get_order(created.external_id).status == units.PROCESSING


def test_partly_shipped(aliexpress: AliExpressSandbox) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    created = connector.create_order(_request(BOTTLE, GLASSES), "k")
    assert created.external_id
    (order,) = aliexpress.state.orders.values()
    aliexpress.state.ship(order.order_id, [0])
    view = connector.get_order(created.external_id)
    assert view.status == units.PROCESSING and len(view.parcels) == 1


@pytest.mark.parametrize("repeat_mode", ["refuse", "replay"])
def test_timeout_after_create_never_makes_a_second_order(aliexpress: AliExpressSandbox,
                                                         repeat_mode: str) -> None:
    aliexpress.fresh(repeat_mode=repeat_mode)
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    aliexpress.state.faults.append("lose_create_response")
    with pytest.raises(RetryableError):  # placed, but the answer was lost
        connector.create_order(_request(BOTTLE), "k")
    again = connector.create_order(_request(BOTTLE), "k")
    assert len(aliexpress.state.orders) == 1
    (order,) = aliexpress.state.orders.values()
    if repeat_mode == "replay":
        assert again.external_id == order.order_id
    else:
        assert again.rejection is not None
        assert again.rejection.kind == units.Refusal.ALREADY_PLACED
        assert order.out_order_id in again.rejection.details[0]


@pytest.mark.parametrize(("address", "kind"), [
    (Address(name="Ada Lovelace", address1="12 Main Street", province="Illinois",
             country="US"), units.Refusal.INCOMPLETE_ADDRESS),
    (Address(name="Ada Lovelace", address1="1 UNDELIVERABLE Road", city="Springfield",
             province="Illinois", country="US"), units.Refusal.INVALID_ADDRESS),
    (Address(name="Ada Lovelace", address1="1 Rua", city="Sao Paulo", province="SP",
             country="BR"), units.Refusal.INCOMPLETE_ADDRESS),
])
def test_address_refused(aliexpress: AliExpressSandbox, address: Address, kind: str) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    result = connector.create_order(_request(BOTTLE, address=address), "k")
    assert result.rejection is not None and result.rejection.kind == kind
    assert result.rejection.details and not aliexpress.state.orders


def test_supplier_cancels(aliexpress: AliExpressSandbox) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    created = connector.create_order(_request(BOTTLE), "k")
    assert created.external_id
    aliexpress.state.supplier_cancels(created.external_id, finish=False)
    assert connector.get_order(created.external_id).status == units.ON_HOLD  # IN_CANCEL
    aliexpress.state.supplier_cancels(created.external_id)
    assert connector.get_order(created.external_id).status == units.CANCELLED
    assert connector.cancel_order(created.external_id) is False  # not offered by the API


def test_platform_fault_is_retryable(aliexpress: AliExpressSandbox) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token)
    aliexpress.state.faults.append("error")
    with pytest.raises(RetryableError):
        connector.product("4000903675543", "US")


def test_the_17track_sandbox_follows_aliexpress_numbers(aliexpress: AliExpressSandbox,
                                                        tracker: Tracker) -> None:
    connector = aliexpress.connector(aliexpress.tokens().access_token, auto_pay=True)
    created = connector.create_order(_request(BOTTLE, GLASSES), "k")
    assert created.external_id
    numbers = aliexpress.state.ship_split(created.external_id)
    service = SeventeenTrack(SeventeenTrackSettings(api_key=tracker.key, base_url=tracker.url,
                                                    requests_per_second=50),
                             InProcessRequestLimiter())
    try:
        parcels = connector.get_order(created.external_id).parcels
        result = service.register([TrackRequest(p.tracking_number) for p in parcels])
    finally:
        service.close()
    assert sorted(a.number for a in result.accepted) == sorted(numbers)
    assert {a.service_carrier for a in result.accepted} == {"190271"}  # Cainiao
    assert not result.problems
