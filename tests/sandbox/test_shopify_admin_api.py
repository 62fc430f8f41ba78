"""The sandbox's GraphQL Admin API over real HTTP: auth, validation, data, userErrors, cost."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from shopify_app.graphql.admin_graphql import admin_graphql_request

from core.clock import FrozenClock
from sandboxes.shopify.state import gid
from tests.helpers.sandbox_shopify import SeededStore, graphql

VERSION = "2026-07"
ORDER_QUERY = """
query Order($id: ID!) {
  order(id: $id) {
    id name displayFinancialStatus displayFulfillmentStatus updatedAt
    fulfillmentOrders(first: 5) {
      nodes { id status requestStatus lineItems(first: 10) { nodes { id remainingQuantity } } }
    }
    fulfillments(first: 5) { id trackingInfo { company number url } }
  }
}"""
FULFILLMENT_CREATE = """
mutation Create($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id status trackingInfo { company number url } }
    userErrors { field message }
  }
}"""


def call(store: SeededStore, http: httpx.Client, query: str,
         variables: dict[str, Any] | None = None) -> dict[str, Any]:
    result = admin_graphql_request(query, shop=store.handle, access_token=store.token.token,
                                   api_version=VERSION, variables=variables, http_client=http)
    body: dict[str, Any] = json.loads(result.response.body)
    return body


def first_fulfillment_order(store: SeededStore, http: httpx.Client, order_id: int) -> Any:
    body = call(store, http, ORDER_QUERY, {"id": gid("Order", order_id)})
    return body["data"]["order"]["fulfillmentOrders"]["nodes"][0]


def test_shop_query_through_the_official_library(store_and_http: tuple[SeededStore,
                                                                        httpx.Client]) -> None:
    store, http = store_and_http
    result = admin_graphql_request("{ shop { name myshopifyDomain plan { shopifyPlus } } }",
                                   shop=store.handle, access_token=store.token.token,
                                   api_version=VERSION, http_client=http)
    assert result.ok, result.log
    assert result.data == {"shop": {"name": "droptrack-test",
                                    "myshopifyDomain": "droptrack-test.myshopify.com",
                                    "plan": {"shopifyPlus": False}}}
    assert result.extensions is not None
    cost = result.extensions["cost"]
    assert cost["requestedQueryCost"] == 2  # shop object + plan object
    assert cost["throttleStatus"] == {"maximumAvailable": 2000, "currentlyAvailable": 1998,
                                      "restoreRate": 100}


@pytest.fixture
def store_and_http(shopify_store: SeededStore,
                   shopify_http: httpx.Client) -> tuple[SeededStore, httpx.Client]:
    return shopify_store, shopify_http


def test_bad_and_missing_tokens_get_shopifys_401(shopify_store: SeededStore,
                                                  shopify_http: httpx.Client) -> None:
    for token in ("shpat_not-a-token", ""):
        response = graphql(shopify_http, shopify_store, "{ shop { name } }", token=token)
        assert response.status_code == 401
        assert response.json() == {"errors": "[API] Invalid API key or access token "
                                              "(unrecognized login or wrong password)"}


def test_expiring_token_is_rejected_after_60_minutes(shopify_store: SeededStore,
                                                     shopify_http: httpx.Client,
                                                     shopify_clock: FrozenClock) -> None:
    assert graphql(shopify_http, shopify_store, "{ shop { name } }").status_code == 200
    shopify_clock.advance(timedelta(minutes=61))
    assert graphql(shopify_http, shopify_store, "{ shop { name } }").status_code == 401


def test_non_expiring_token_keeps_working(shopify_store: SeededStore, shopify_http: httpx.Client,
                                          shopify_clock: FrozenClock) -> None:
    state = shopify_store.sandbox.state
    custom = state.create_app(name="Merchant app", custom=True)
    token = state.install(shopify_store.domain, custom, expiring=False)
    shopify_clock.advance(timedelta(days=30))
    response = graphql(shopify_http, shopify_store, "{ shop { name } }", token=token.token)
    assert response.status_code == 200


def test_token_of_another_shop_is_rejected(shopify_store: SeededStore,
                                           shopify_http: httpx.Client) -> None:
    state = shopify_store.sandbox.state
    other = state.create_shop("other-store")
    other_token = state.install(other.domain, shopify_store.app)
    response = graphql(shopify_http, shopify_store, "{ shop { name } }", token=other_token.token)
    assert response.status_code == 401


def test_unknown_api_version_is_not_found(shopify_store: SeededStore,
                                          shopify_http: httpx.Client) -> None:
    response = graphql(shopify_http, shopify_store, "{ shop { name } }", version="2019-13")
    assert response.status_code == 404


def test_unknown_field_is_rejected_like_shopify(shopify_store: SeededStore,
                                                shopify_http: httpx.Client) -> None:
    body = graphql(shopify_http, shopify_store, "{ shop { name trackingNumber } }").json()
    assert "data" not in body
    assert body["errors"][0]["message"] == "Field 'trackingNumber' doesn't exist on type 'Shop'"
    assert body["errors"][0]["extensions"] == {"code": "undefinedField", "typeName": "Shop",
                                               "fieldName": "trackingNumber"}


def test_invalid_enum_variable_fails_coercion(shopify_store: SeededStore,
                                              shopify_http: httpx.Client) -> None:
    mutation = """mutation E($e: FulfillmentEventInput!) {
      fulfillmentEventCreate(fulfillmentEvent: $e) { userErrors { field message } } }"""
    body = graphql(shopify_http, shopify_store, mutation, {"e": {
        "fulfillmentId": gid("Fulfillment", 1), "status": "TELEPORTED"}}).json()
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert "data" not in body


def test_missing_scope_is_access_denied(shopify_store: SeededStore,
                                        shopify_http: httpx.Client) -> None:
    state = shopify_store.sandbox.state
    narrow_app = state.create_app(name="Narrow", scopes="read_products")
    narrow = state.install(shopify_store.domain, narrow_app)
    body = graphql(shopify_http, shopify_store, "{ orders(first: 1) { nodes { id } } }",
                   token=narrow.token).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "ACCESS_DENIED"
    assert error["extensions"]["requiredAccess"] == "`read_orders` access scope."
    assert error["path"] == ["orders"]
    assert body["data"] is None


def test_orders_filter_by_updated_at_and_paginate(shopify_store: SeededStore,
                                                  shopify_http: httpx.Client,
                                                  shopify_clock: FrozenClock) -> None:
    state = shopify_store.sandbox.state
    old = state.place_order(shopify_store.domain)
    shopify_clock.advance(timedelta(minutes=20))  # the expiring token lives 60 minutes
    watermark = shopify_clock.now()
    shopify_clock.advance(timedelta(minutes=1))
    newer = [state.place_order(shopify_store.domain) for _ in range(3)]
    query = """query Page($q: String, $after: String) {
      orders(first: 2, after: $after, query: $q, sortKey: UPDATED_AT) {
        nodes { id } pageInfo { hasNextPage endCursor } } }"""
    since = f"updated_at:>'{watermark.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    page1 = call(shopify_store, shopify_http, query, {"q": since})["data"]["orders"]
    assert [n["id"] for n in page1["nodes"]] == [gid("Order", o.id) for o in newer[:2]]
    assert page1["pageInfo"]["hasNextPage"] is True
    page2 = call(shopify_store, shopify_http, query,
                 {"q": since, "after": page1["pageInfo"]["endCursor"]})["data"]["orders"]
    assert [n["id"] for n in page2["nodes"]] == [gid("Order", newer[2].id)]
    assert page2["pageInfo"]["hasNextPage"] is False
    state.update_order(old.id, note="gift wrap")
    page = call(shopify_store, shopify_http, query, {"q": since})["data"]["orders"]
    assert gid("Order", old.id) in [n["id"] for n in page["nodes"]] + [
        n["id"] for n in call(shopify_store, shopify_http, query, {
            "q": since, "after": page["pageInfo"]["endCursor"]})["data"]["orders"]["nodes"]]


def test_connection_without_first_or_last_is_an_error(shopify_store: SeededStore,
                                                      shopify_http: httpx.Client) -> None:
    body = graphql(shopify_http, shopify_store, "{ orders { nodes { id } } }").json()
    assert body["errors"][0]["message"] == "you must provide one of first or last"


def test_fulfillment_create_with_tracking_and_events(shopify_store: SeededStore,
                                                     shopify_http: httpx.Client) -> None:
    state = shopify_store.sandbox.state
    order = state.place_order(shopify_store.domain, items=[
        {"title": "Lamp", "quantity": 2, "price": "20.00", "sku": "LAMP"}])
    fo = first_fulfillment_order(shopify_store, shopify_http, order.id)
    line = fo["lineItems"]["nodes"][0]
    body = call(shopify_store, shopify_http, FULFILLMENT_CREATE, {"fulfillment": {
        "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"],
                                         "fulfillmentOrderLineItems": [
                                             {"id": line["id"], "quantity": 2}]}],
        "trackingInfo": {"company": "DHL Express", "number": "JD0001",
                         "url": "https://www.dhl.com/track?JD0001"}}})
    payload = body["data"]["fulfillmentCreate"]
    assert payload["userErrors"] == []
    assert payload["fulfillment"]["trackingInfo"] == [{
        "company": "DHL Express", "number": "JD0001", "url": "https://www.dhl.com/track?JD0001"}]
    fulfillment_id = payload["fulfillment"]["id"]
    updated = call(shopify_store, shopify_http, """
      mutation U($id: ID!, $t: FulfillmentTrackingInput!) {
      fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: $t,
                                    notifyCustomer: false) {
        fulfillment { trackingInfo { number } } userErrors { field message } } }""",
                   {"id": fulfillment_id, "t": {"company": "DHL Express", "number": "JD0002"}})
    assert updated["data"]["fulfillmentTrackingInfoUpdate"]["fulfillment"]["trackingInfo"] == [
        {"number": "JD0002"}]
    event = call(shopify_store, shopify_http, """mutation E($e: FulfillmentEventInput!) {
      fulfillmentEventCreate(fulfillmentEvent: $e) {
        fulfillmentEvent { status city } userErrors { field message } } }""",
                 {"e": {"fulfillmentId": fulfillment_id, "status": "IN_TRANSIT", "city": "Leipzig",
                        "happenedAt": "2026-11-02T08:00:00Z"}})
    assert event["data"]["fulfillmentEventCreate"]["fulfillmentEvent"] == {
        "status": "IN_TRANSIT", "city": "Leipzig"}
    after = call(shopify_store, shopify_http, ORDER_QUERY, {"id": gid("Order", order.id)})
    assert after["data"]["order"]["displayFulfillmentStatus"] == "FULFILLED"
    assert after["data"]["order"]["fulfillmentOrders"]["nodes"][0]["status"] == "CLOSED"


def test_fulfillment_create_user_errors_match_shopify(shopify_store: SeededStore,
                                                      shopify_http: httpx.Client) -> None:
    state = shopify_store.sandbox.state
    order = state.place_order(shopify_store.domain)
    fo = first_fulfillment_order(shopify_store, shopify_http, order.id)
    line_id = fo["lineItems"]["nodes"][0]["id"]

    def create(groups: list[dict[str, Any]]) -> dict[str, Any]:
        return call(shopify_store, shopify_http, FULFILLMENT_CREATE,
                    {"fulfillment": {"lineItemsByFulfillmentOrder": groups}})

    too_many = create([{"fulfillmentOrderId": fo["id"],
                        "fulfillmentOrderLineItems": [{"id": line_id, "quantity": 5}]}])
    assert too_many["data"]["fulfillmentCreate"]["userErrors"] == [{
        "field": ["fulfillment"],
        "message": "Invalid fulfillment order line item quantity requested."}]
    zero = create([{"fulfillmentOrderId": fo["id"],
                    "fulfillmentOrderLineItems": [{"id": line_id, "quantity": 0}]}])
    assert zero["data"]["fulfillmentCreate"]["userErrors"] == [{
        "field": ["fulfillment", "lineItemsByFulfillmentOrder", "0",
                  "fulfillmentOrderLineItems", "0", "quantity"],
        "message": "Quantity must be greater than 0"}]
    # An unknown first fulfillment order: a userError since 2026-04 (this call's 2026-07),
    # a top-level RESOURCE_NOT_FOUND before (both recorded live).
    unknown = create([{"fulfillmentOrderId": gid("FulfillmentOrder", 0)}])
    assert unknown["data"]["fulfillmentCreate"]["userErrors"] == [{
        "field": ["fulfillment"], "message": "Fulfillment order does not exist."}]
    older = graphql(shopify_http, shopify_store, FULFILLMENT_CREATE, {"fulfillment": {
        "lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": gid("FulfillmentOrder", 0)}]}},
        version="2025-10").json()
    assert older["data"] == {"fulfillmentCreate": None}
    assert older["errors"][0]["message"] == "invalid id"
    assert older["errors"][0]["extensions"]["code"] == "RESOURCE_NOT_FOUND"
    state.cancel_order(order.id)
    closed = create([{"fulfillmentOrderId": fo["id"]}])
    number = fo["id"].rsplit("/", 1)[1]
    assert closed["data"]["fulfillmentCreate"]["userErrors"] == [{
        "field": ["fulfillment"],
        "message": f"Fulfillment order {number} has an unfulfillable status= closed."}]


def test_tracking_update_and_event_on_unknown_fulfillment(shopify_store: SeededStore,
                                                          shopify_http: httpx.Client) -> None:
    missing = gid("Fulfillment", 999999999999992)
    update = call(shopify_store, shopify_http, """mutation U($id: ID!) {
      fulfillmentTrackingInfoUpdate(fulfillmentId: $id, trackingInfoInput: {number: "X"}) {
        fulfillment { id } userErrors { field message } } }""", {"id": missing})
    assert update["data"]["fulfillmentTrackingInfoUpdate"] == {
        "fulfillment": None,
        "userErrors": [{"field": ["fulfillmentId"], "message": "Fulfillment does not exist."}]}
    event = call(shopify_store, shopify_http, """mutation E($id: ID!) {
      fulfillmentEventCreate(fulfillmentEvent: {fulfillmentId: $id, status: DELIVERED}) {
        userErrors { field message } } }""", {"id": missing})
    assert event["data"]["fulfillmentEventCreate"]["userErrors"] == [{
        "field": ["fulfillmentEvent", "fulfillmentId"], "message": "Fulfillment does not exist."}]


def test_fulfillment_service_request_accept_flow(shopify_store: SeededStore,
                                                 shopify_http: httpx.Client) -> None:
    state = shopify_store.sandbox.state
    created = call(shopify_store, shopify_http, """mutation S($url: URL) {
      fulfillmentServiceCreate(name: "DropTrack", callbackUrl: $url, trackingSupport: true) {
        fulfillmentService { id serviceName location { id isFulfillmentService } }
        userErrors { field message } } }""", {"url": "https://droptrack.example/fs"})
    service = created["data"]["fulfillmentServiceCreate"]["fulfillmentService"]
    assert service["location"]["isFulfillmentService"] is True
    duplicate = call(shopify_store, shopify_http, """mutation {
      fulfillmentServiceCreate(name: "DropTrack", callbackUrl: "https://evil.example/x") {
        userErrors { field message } } }""")
    assert duplicate["data"]["fulfillmentServiceCreate"]["userErrors"] == [
        {"field": ["callbackUrl"], "message": "Callback url is not allowed"},
        {"field": ["name"], "message": "Name has already been taken"}]
    order = state.place_order(shopify_store.domain)
    state.assign_to_fulfillment_service(order.fulfillment_order_ids[0],
                                        int(service["id"].rsplit("/", 1)[1].split("?")[0]))
    listing = call(shopify_store, shopify_http, """{ assignedFulfillmentOrders(
      first: 10, assignmentStatus: FULFILLMENT_REQUESTED) { nodes { id requestStatus } } }""")
    nodes = listing["data"]["assignedFulfillmentOrders"]["nodes"]
    assert nodes == [{"id": gid("FulfillmentOrder", order.fulfillment_order_ids[0]),
                      "requestStatus": "SUBMITTED"}]
    accepted = call(shopify_store, shopify_http, """mutation A($id: ID!) {
      fulfillmentOrderAcceptFulfillmentRequest(id: $id, message: "ok") {
        fulfillmentOrder { status requestStatus } userErrors { field message } } }""",
                    {"id": nodes[0]["id"]})
    assert accepted["data"]["fulfillmentOrderAcceptFulfillmentRequest"]["fulfillmentOrder"] == {
        "status": "IN_PROGRESS", "requestStatus": "ACCEPTED"}


def test_max_cost_exceeded_before_anything_runs(shopify_store: SeededStore,
                                                shopify_http: httpx.Client) -> None:
    query = """{ orders(first: 250) { nodes { id lineItems(first: 250) { nodes { id } } } } }"""
    body = graphql(shopify_http, shopify_store, query).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["maxCost"] == 1000
    assert error["extensions"]["cost"] == 2 + 250 * (1 + 2 + 250)


def test_throttled_when_bucket_is_empty_and_restored_by_waiting(
        shopify_store: SeededStore, shopify_http: httpx.Client,
        shopify_clock: FrozenClock) -> None:
    query = "{ orders(first: 240) { nodes { id } } }"  # requested cost 242
    for _ in range(8):  # 8 x 242 = 1936 of 2000 (nothing is refunded: no orders... see below)
        body = graphql(shopify_http, shopify_store, query).json()
        assert "errors" not in body
    # with no orders the actual cost is 2, so the requested cost was refunded each time
    assert body["extensions"]["cost"]["actualQueryCost"] == 2
    shopify_store.sandbox.bucket(shopify_store.domain, shopify_store.app.client_id).drain()
    shopify_clock.advance(timedelta(seconds=1))  # +100 points: still below 242
    throttled = graphql(shopify_http, shopify_store, query).json()
    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["actualQueryCost"] is None
    assert throttled["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 100
    shopify_clock.advance(timedelta(seconds=2))
    assert "errors" not in graphql(shopify_http, shopify_store, query).json()
    usage = shopify_store.sandbox.usage(shopify_store.domain, shopify_store.app.client_id)
    assert usage.calls == 10
    assert usage.throttled == 1
    assert usage.points == 9 * 2


def test_plus_plan_has_a_bigger_bucket(shopify_sandbox: Any, shopify_http: httpx.Client) -> None:
    state = shopify_sandbox.state
    app = state.create_app()
    shop = state.create_shop("big-store", plan="plus")
    token = state.install(shop.domain, app)
    response = shopify_http.post(f"https://{shop.domain}/admin/api/{VERSION}/graphql.json",
                                 json={"query": "{ shop { name } }"},
                                 headers={"X-Shopify-Access-Token": token.token})
    status = response.json()["extensions"]["cost"]["throttleStatus"]
    assert status == {"maximumAvailable": 20000, "currentlyAvailable": 19999,
                      "restoreRate": 1000}
