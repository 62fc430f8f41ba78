"""Pure parts of the Shopify connector: operations valid against Shopify's real schema, line
allocation over fulfillment orders, the GraphQL order mapper, the cost limiter, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.shopify import graphql as ops
from connectors.shopify.fulfillment import ShownEvent, ShownFulfillment, already_shown, line_groups
from connectors.shopify.mapper import parse_graphql_order
from connectors.shopify.ratelimit import InProcessLimiter, ThrottleStatus
from connectors.shopify.settings import missing_scopes
from connectors.shopify.tokens import (
    CLIENT_CREDENTIALS,
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_TOKEN_EXCHANGE,
    GRANTS,
    OAUTH,
    STATIC,
    Credentials,
)
from connectors.store_base import ShippedLine
from core import wording
from core.clock import FrozenClock
from core.domain import Payment
from core.errors import RetryableError
from tests.helpers.sandbox_shopify import validate_against_real_schema

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("operation", ops.ALL, ids=lambda op: op.name)
def test_every_operation_is_valid_against_shopifys_real_schema(operation: ops.Operation) -> None:
    assert validate_against_real_schema(operation.text) == []


def fulfillment_order(fo_id: str, status: str, *items: tuple[str, str, int]) -> dict[str, object]:
    return {"id": fo_id, "status": status, "lineItems": {"nodes": [
        {"id": item_id, "remainingQuantity": remaining,
         "lineItem": {"id": f"gid://shopify/LineItem/{line_id}"}}
        for item_id, line_id, remaining in items]}}


def test_only_the_shipped_lines_and_quantities_are_fulfilled() -> None:
    order = {"fulfillmentOrders": {"nodes": [
        fulfillment_order("FO1", "CLOSED", ("A", "1", 0)),
        fulfillment_order("FO2", "OPEN", ("B", "1", 3), ("C", "2", 1)),
    ]}}
    groups, problems = line_groups(order, [ShippedLine("1", 2)])
    assert problems == []
    assert groups == [{"fulfillmentOrderId": "FO2",
                       "fulfillmentOrderLineItems": [{"id": "B", "quantity": 2}]}]


def test_more_than_is_open_is_a_problem_not_a_partial_guess() -> None:
    order = {"fulfillmentOrders": {"nodes": [fulfillment_order("FO", "OPEN", ("B", "1", 1))]}}
    _, problems = line_groups(order, [ShippedLine("1", 2), ShippedLine("9", 1)])
    assert problems == ["line 1: 1 of 2 not open for fulfillment in Shopify",
                        "line 9: 1 of 1 not open for fulfillment in Shopify"]


def test_an_event_is_shown_once_per_status_and_moment() -> None:
    shown = ShownFulfillment("F", "SUCCESS", ("N",), (
        ShownEvent("IN_TRANSIT", T0 + timedelta(days=2)), ShownEvent("IN_TRANSIT", T0)))
    assert already_shown(shown, "IN_TRANSIT", T0 + timedelta(days=2, microseconds=5))
    assert not already_shown(shown, "IN_TRANSIT", T0 + timedelta(days=3))
    assert not already_shown(shown, "DELIVERED", T0)
    assert already_shown(shown, "IN_TRANSIT", None)


def graphql_order(**changes: object) -> dict[str, object]:
    node: dict[str, object] = {
        "id": "gid://shopify/Order/77", "legacyResourceId": "77", "name": "#1001",
        "email": "ada@example.com", "createdAt": "2026-11-02T09:00:00Z",
        "updatedAt": "2026-11-02T09:05:00Z", "cancelledAt": None,
        "displayFinancialStatus": "PAID", "currencyCode": "USD",
        "totalPriceSet": {"shopMoney": {"amount": "25.0"}},
        "shippingAddress": {"name": "Ada Lovelace", "address1": "12 Row", "city": "London",
                            "zip": "N1", "countryCodeV2": "GB"},
        "lineItems": {"nodes": [{"id": "gid://shopify/LineItem/5", "sku": "CASE-1",
                                 "name": "Case", "quantity": 2, "requiresShipping": True,
                                 "originalUnitPriceSet": {"shopMoney": {"amount": "12.5"}}}]},
    }
    node.update(changes)
    return node


def test_a_graphql_order_maps_to_the_webhooks_ids() -> None:
    order, problems = parse_graphql_order(graphql_order())
    assert problems == [] and order is not None
    assert (order.external_id, order.number, order.payment) == ("77", "#1001", Payment.PAID)
    assert [(line.external_id, line.quantity, line.sku) for line in order.lines] == [
        ("5", 2, "CASE-1")]
    assert order.shipping_address.country == "GB"


@pytest.mark.parametrize(("status", "payment"), [("PENDING", Payment.AWAITING),
                                                 ("VOIDED", Payment.FAILED),
                                                 ("REFUNDED", Payment.REFUNDED)])
def test_unpaid_graphql_orders_are_not_paid(status: str, payment: Payment) -> None:
    order, _ = parse_graphql_order(graphql_order(displayFinancialStatus=status))
    assert order is not None and order.payment is payment


def test_a_broken_graphql_order_is_reported_not_guessed() -> None:
    order, problems = parse_graphql_order(graphql_order(displayFinancialStatus=None,
                                                        lineItems=None, updatedAt="yesterday"))
    assert order is None
    assert any("financial_status" in p for p in problems)
    assert any("updated_at" in p for p in problems)


def test_the_limiter_waits_for_the_bucket_instead_of_spending_past_it() -> None:
    clock = FrozenClock(T0)
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))

    limiter = InProcessLimiter(clock=clock, sleep=sleep)
    limiter.acquire("shop", 500)  # nothing known yet: go
    assert slept == []
    limiter.observe("shop", ThrottleStatus(2000, 150, 100), actual=10, throttled=False)
    limiter.acquire("shop", 100)
    limiter.acquire("shop", 100)  # 50 left: wait for 50 more points = 0.5 s
    assert slept == [pytest.approx(0.5)]
    assert limiter.usage("shop").points == 10


def test_the_limiter_hands_a_long_wait_back_to_the_outbox() -> None:
    limiter = InProcessLimiter(clock=FrozenClock(T0), sleep=lambda _: None,
                               max_wait_seconds=5)
    limiter.observe("shop", ThrottleStatus(2000, 0, 50), actual=None, throttled=True)
    with pytest.raises(RetryableError) as raised:
        limiter.acquire("shop", 1000)
    assert raised.value.retry_after_seconds == pytest.approx(20)


def test_throttle_status_tolerates_missing_data() -> None:
    assert ThrottleStatus.parse(None) is None
    assert ThrottleStatus.parse({"throttleStatus": {"maximumAvailable": 1}}) is None


def test_credentials_know_when_and_how_to_renew() -> None:
    oauth = Credentials("t", OAUTH, expires_at=(T0 + timedelta(minutes=5)).isoformat(),
                        refresh_token="r", client_id="c", client_secret="s")
    assert oauth.needs_refresh(T0) and not oauth.needs_refresh(T0 - timedelta(hours=1))
    assert not Credentials("t", STATIC).refreshable
    assert Credentials("t", CLIENT_CREDENTIALS, client_id="c", client_secret="s").refreshable
    assert Credentials.from_dict(oauth.as_dict()) == oauth
    assert Credentials.from_dict({"access_token": "legacy"}).kind == STATIC


@pytest.mark.parametrize(("grant", "kind", "action"), [
    (GRANT_CLIENT_CREDENTIALS, CLIENT_CREDENTIALS, "Dev Dashboard"),
    (GRANT_TOKEN_EXCHANGE, OAUTH, "Open DropTrack from your Shopify admin"),
    (GRANT_AUTHORIZATION_CODE, OAUTH, "Install DropTrack on the store again"),
])
def test_each_way_starts_from_pending_credentials_and_names_its_own_action(
        grant: str, kind: str, action: str) -> None:
    pending = Credentials.pending(grant, "id", "secret")
    assert (pending.kind, pending.grant, pending.access_token) == (kind, grant, "")
    assert pending.refreshable == (kind == CLIENT_CREDENTIALS)  # OAuth needs its refresh token
    first = pending.renewed("shpat_1", T0 + timedelta(hours=1), scope="read_orders",
                            refresh_token="shprt_1" if kind == OAUTH else "")
    assert first.refreshable and first.grant == grant
    assert Credentials.from_dict(first.as_dict()) == first  # the grant is kept at rest
    alert = wording.reconnect_shopify_store("a.myshopify.com", "invalid_grant", grant)
    assert action in alert and "invalid_grant" in alert and "nothing is lost" in alert
    assert action in wording.reconnect_store_advice(grant) or grant == GRANT_CLIENT_CREDENTIALS
    assert [other for other in GRANTS if other != grant and wording.reconnect_shopify_store(
        "a.myshopify.com", "x", other) == alert] == []


def test_missing_scopes_know_that_write_implies_read() -> None:
    assert missing_scopes("write_orders,write_merchant_managed_fulfillment_orders,"
                          "write_fulfillments") == []
    assert missing_scopes("read_orders") == ["write_merchant_managed_fulfillment_orders",
                                             "write_fulfillments"]


@pytest.mark.parametrize("operation", ops.ALL, ids=lambda op: op.name)
def test_every_budgeted_cost_is_the_documented_cost_of_the_selection(
        operation: ops.Operation) -> None:
    """The costs docs/api-costs.md relies on: Shopify's documented pricing of the selection
    against the real 2026-07 schema (with the live 50 of fulfillmentTrackingInfoUpdate)."""
    from graphql import OperationDefinitionNode, parse

    from sandboxes.shopify.cost import CostCalculator
    from sandboxes.shopify.schema import REAL_SDL_RELATIVE_PATH, load_real_schema
    from tests.helpers.sandbox_shopify import CONTRACTS_DIR

    validate_against_real_schema(operation.text)  # skips when shared/ is absent
    [definition] = [d for d in parse(operation.text).definitions
                    if isinstance(d, OperationDefinitionNode)]
    schema = load_real_schema(CONTRACTS_DIR / REAL_SDL_RELATIVE_PATH)
    assert CostCalculator(schema, definition, {}, {}).requested() == operation.estimated_cost


@pytest.mark.parametrize(("code", "status", "for_good"), [
    ("invalid_client", 400, True),  # the secret rotated in the Dev Dashboard
    ("invalid_client", 401, True),  # the app uninstalled
    ("invalid_grant", 400, True),
    ("exchange_error", 403, True),
    ("invalid_shop", 0, True),  # refused before any request: retrying cannot help
    ("network_error", 0, False),
    ("exchange_error", 429, False),
    ("exchange_error", 502, False),
    ("server_error", 500, False),
])
def test_only_a_refusal_from_the_token_endpoint_is_for_good(code: str, status: int,
                                                            for_good: bool) -> None:
    from connectors.shopify.client import ShopifyAuthError, _exchange_failure, _shopify_status
    from core.errors import CredentialsRefused

    error = _exchange_failure("a.myshopify.com", code, "Client credentials are invalid. "
                              "Respond 500 Internal Server Error using the provided response.",
                              status)
    assert isinstance(error, CredentialsRefused) is for_good
    assert isinstance(error, ShopifyAuthError if for_good else RetryableError)
    assert "Respond 500" not in str(error)  # the library's advice is not the owner's words
    assert _shopify_status([]) == 0
