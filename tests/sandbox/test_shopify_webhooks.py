"""Webhook subscriptions and deliveries: Shopify's headers and signature, retries, switches."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import httpx
from shopify_app.verify.webhook import verify_webhook_req

from core.clock import FrozenClock
from sandboxes.shopify.webhooks import RETRY_DELAYS
from tests.helpers.sandbox_shopify import SeededStore, ShopifyWebhookReceiver, graphql

SUBSCRIBE = """mutation S($topic: WebhookSubscriptionTopic!, $uri: String!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: {uri: $uri, format: JSON}) {
    webhookSubscription { id topic uri } userErrors { field message } } }"""


def subscribe(http: httpx.Client, store: SeededStore, topic: str, uri: str) -> dict[str, object]:
    body = graphql(http, store, SUBSCRIBE, {"topic": topic, "uri": uri}).json()
    payload: dict[str, object] = body["data"]["webhookSubscriptionCreate"]
    return payload


def test_order_create_delivery_is_signed_like_shopify(
        shopify_store: SeededStore, shopify_http: httpx.Client,
        shopify_webhook_receiver: ShopifyWebhookReceiver) -> None:
    created = subscribe(shopify_http, shopify_store, "ORDERS_CREATE",
                        shopify_webhook_receiver.at("/wh"))
    assert created["userErrors"] == []
    order = shopify_store.sandbox.state.place_order(shopify_store.domain)
    shopify_store.sandbox.webhooks.deliver_due()
    [received] = shopify_webhook_receiver.received
    secret = shopify_store.app.client_secret
    verdict = verify_webhook_req({"method": "POST", "headers": received.headers,
                                  "url": shopify_webhook_receiver.at("/wh"),
                                  "body": received.body.decode()},
                                 {"client_id": shopify_store.app.client_id,
                                  "client_secret": secret, "old_client_secret": None})
    assert verdict.ok, verdict.log
    expected = base64.b64encode(hmac.new(secret.encode(), received.body,
                                         hashlib.sha256).digest()).decode()
    assert received.headers["X-Shopify-Hmac-Sha256"] == expected
    assert received.headers["X-Shopify-Topic"] == "orders/create"
    assert received.headers["X-Shopify-Shop-Domain"] == shopify_store.domain
    assert received.headers["X-Shopify-Api-Version"] == "2026-07"
    assert received.headers["X-Shopify-Webhook-Id"] and received.headers["X-Shopify-Event-Id"]
    payload = json.loads(received.body)
    assert payload["id"] == order.id
    assert payload["admin_graphql_api_id"] == f"gid://shopify/Order/{order.id}"
    assert payload["financial_status"] == "paid"


def test_subscription_validation_errors(shopify_store: SeededStore,
                                        shopify_http: httpx.Client) -> None:
    uri = "https://droptrack.example/webhooks"
    assert subscribe(shopify_http, shopify_store, "ORDERS_PAID", uri)["userErrors"] == []
    assert subscribe(shopify_http, shopify_store, "ORDERS_PAID", uri)["userErrors"] == [{
        "field": ["webhookSubscription", "callbackUrl"],
        "message": "Address for this topic has already been taken"}]
    assert subscribe(shopify_http, shopify_store, "ORDERS_PAID", "ftp://x.example/")[
        "userErrors"] == [{"field": ["webhookSubscription", "callbackUrl"],
                           "message": "Address protocol ftp:// is not supported"}]
    listed = graphql(shopify_http, shopify_store, """{ webhookSubscriptions(first: 10) {
      nodes { topic uri } } }""").json()
    assert listed["data"]["webhookSubscriptions"]["nodes"] == [
        {"topic": "ORDERS_PAID", "uri": uri}]


def test_failures_are_retried_then_the_subscription_is_removed(
        shopify_store: SeededStore, shopify_http: httpx.Client,
        shopify_webhook_receiver: ShopifyWebhookReceiver, shopify_clock: FrozenClock) -> None:
    subscribe(shopify_http, shopify_store, "ORDERS_CREATE", shopify_webhook_receiver.at("/wh"))
    shopify_webhook_receiver.status = 302  # a redirect is a failure too
    shopify_store.sandbox.state.place_order(shopify_store.domain)
    dispatcher = shopify_store.sandbox.webhooks
    dispatcher.deliver_due()
    for delay in RETRY_DELAYS:
        dispatcher.deliver_due()  # not due yet: nothing is sent
        shopify_clock.advance(delay)
        dispatcher.deliver_due()
    assert len(shopify_webhook_receiver.received) == 1 + 8
    ids = {r.headers["X-Shopify-Webhook-Id"] for r in shopify_webhook_receiver.received}
    assert len(ids) == 1  # a retry is the same delivery
    assert shopify_store.sandbox.state.subscriptions == {}
    assert sum(RETRY_DELAYS, timedelta()) == timedelta(hours=4)


def test_duplicates_and_out_of_order_switches(
        shopify_store: SeededStore, shopify_http: httpx.Client,
        shopify_webhook_receiver: ShopifyWebhookReceiver) -> None:
    subscribe(shopify_http, shopify_store, "ORDERS_UPDATED", shopify_webhook_receiver.at("/wh"))
    dispatcher = shopify_store.sandbox.webhooks
    dispatcher.duplicates = True
    dispatcher.out_of_order = True
    order = shopify_store.sandbox.state.place_order(shopify_store.domain)
    shopify_store.sandbox.state.update_order(order.id, note="first")
    shopify_store.sandbox.state.update_order(order.id, note="second")
    dispatcher.deliver_due()
    notes = [json.loads(r.body)["note"] for r in shopify_webhook_receiver.received]
    assert notes == ["second", "second", "first", "first"]


def test_delay_switch_holds_deliveries_until_due(
        shopify_store: SeededStore, shopify_http: httpx.Client,
        shopify_webhook_receiver: ShopifyWebhookReceiver, shopify_clock: FrozenClock) -> None:
    subscribe(shopify_http, shopify_store, "ORDERS_CREATE", shopify_webhook_receiver.at("/wh"))
    shopify_store.sandbox.webhooks.delay = timedelta(hours=20)
    shopify_store.sandbox.state.place_order(shopify_store.domain)
    shopify_store.sandbox.webhooks.deliver_due()
    assert shopify_webhook_receiver.received == []
    shopify_clock.advance(timedelta(hours=20))
    shopify_store.sandbox.webhooks.deliver_due()
    assert len(shopify_webhook_receiver.received) == 1


def test_compliance_topic_goes_to_the_configured_url(
        shopify_store: SeededStore, shopify_webhook_receiver: ShopifyWebhookReceiver) -> None:
    shopify_store.app.compliance_url = shopify_webhook_receiver.at("/compliance")
    sandbox = shopify_store.sandbox
    sandbox.webhooks.trigger_compliance(shopify_store.domain, shopify_store.app.client_id,
                                        "shop/redact")
    sandbox.webhooks.deliver_due()
    [received] = shopify_webhook_receiver.received
    assert received.path == "/compliance"
    assert received.headers["X-Shopify-Topic"] == "shop/redact"
    assert json.loads(received.body)["shop_domain"] == shopify_store.domain
