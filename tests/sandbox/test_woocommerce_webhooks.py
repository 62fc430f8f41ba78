"""Webhooks as WooCommerce sends them: ping on creation, signed deliveries of the order as it
is at delivery time, no retries, disabled after too many consecutive failures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

from tests.helpers.sandbox_woocommerce import WebhookReceiver, WooCommerceSandbox

SECRET = "whsec-sandbox-test"


def _create_webhook(sandbox: WooCommerceSandbox, receiver: WebhookReceiver,
                    topic: str = "order.updated") -> dict[str, Any]:
    key = sandbox.store.create_key()
    response = sandbox.api(key).post("webhooks", {
        "name": "DropTrack", "topic": topic, "delivery_url": f"{receiver.url}/hooks",
        "secret": SECRET, "status": "active"})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _independent_signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def test_creation_pings_the_delivery_url_unsigned(wc_sandbox: WooCommerceSandbox,
                                                  wc_receiver: WebhookReceiver) -> None:
    webhook = _create_webhook(wc_sandbox, wc_receiver)
    assert webhook["topic"] == "order.updated"
    assert webhook["resource"] == "order" and webhook["event"] == "updated"
    [ping] = wc_receiver.posts("/hooks")
    assert ping.body == f"webhook_id={webhook['id']}".encode()
    assert not any(name.lower().startswith("x-wc-webhook") for name in ping.headers)


def test_invalid_topic_and_url_are_rejected(wc_sandbox: WooCommerceSandbox) -> None:
    api = wc_sandbox.api(wc_sandbox.store.create_key())
    topic = api.post("webhooks", {"topic": "order.shipped", "delivery_url": "https://x.test/"})
    assert topic.status_code == 400
    assert topic.json()["code"] == "woocommerce_rest_shop_webhook_invalid_topic"
    url = api.post("webhooks", {"topic": "order.created", "delivery_url": "ftp://x.test/"})
    assert url.json()["code"] == "woocommerce_rest_shop_webhook_invalid_delivery_url"


def test_delivery_is_signed_and_carries_the_order_as_it_is_when_delivered(
        wc_sandbox: WooCommerceSandbox, wc_receiver: WebhookReceiver) -> None:
    webhook = _create_webhook(wc_sandbox, wc_receiver)
    order = wc_sandbox.store.place_order(status="pending")
    wc_sandbox.store.set_order_status(order.id, "processing")
    wc_sandbox.store.set_order_status(order.id, "completed")

    attempts = wc_sandbox.deliver_pending()

    assert [a.status_code for a in attempts] == [200, 200]
    deliveries = wc_receiver.posts("/hooks")[1:]
    assert len(deliveries) == 2
    for delivery in deliveries:
        assert delivery.headers["X-Wc-Webhook-Signature"] == _independent_signature(
            delivery.body)
        assert json.loads(delivery.body)["status"] == "completed"
        assert delivery.headers["X-Wc-Webhook-Source"] == wc_sandbox.url + "/"
        assert delivery.headers["X-Wc-Webhook-Topic"] == "order.updated"
        assert delivery.headers["X-Wc-Webhook-Resource"] == "order"
        assert delivery.headers["X-Wc-Webhook-Event"] == "updated"
        assert delivery.headers["X-Wc-Webhook-Id"] == str(webhook["id"])
        assert len(delivery.headers["X-Wc-Webhook-Delivery-Id"]) == 32
        assert delivery.content_type == "application/json"
    # Same webhook, same second: WooCommerce's delivery id is not unique.
    assert len({d.headers["X-Wc-Webhook-Delivery-Id"] for d in deliveries}) == 1


def test_delivered_order_matches_the_rest_representation(
        wc_sandbox: WooCommerceSandbox, wc_receiver: WebhookReceiver) -> None:
    _create_webhook(wc_sandbox, wc_receiver, topic="order.created")
    key = wc_sandbox.store.create_key()
    order = wc_sandbox.store.place_order()
    wc_sandbox.deliver_pending()
    delivered = json.loads(wc_receiver.posts("/hooks")[-1].body)
    assert delivered == wc_sandbox.api(key).get(f"orders/{order.id}").json()


def test_failures_are_not_retried_and_the_seventh_disables_the_webhook(
        wc_sandbox: WooCommerceSandbox, wc_receiver: WebhookReceiver) -> None:
    webhook = _create_webhook(wc_sandbox, wc_receiver)
    order = wc_sandbox.store.place_order()
    wc_receiver.status = 500
    statuses = []
    for round_number in range(1, 8):
        wc_sandbox.store.set_order_meta(order.id, "round", round_number)
        wc_sandbox.deliver_pending()
        statuses.append(wc_sandbox.store.webhooks[webhook["id"]].status)
        assert len(wc_receiver.posts("/hooks")) == 1 + round_number, "no retries"
    assert statuses == ["active"] * 6 + ["disabled"]

    wc_sandbox.store.set_order_meta(order.id, "round", 8)
    assert wc_sandbox.deliver_pending() == []
    assert len(wc_receiver.posts("/hooks")) == 8

    api = wc_sandbox.api(wc_sandbox.store.create_key())
    assert api.get(f"webhooks/{webhook['id']}").json()["status"] == "disabled"
    assert api.put(f"webhooks/{webhook['id']}", {"status": "active"}).status_code == 200
    wc_receiver.status = 200
    wc_sandbox.store.set_order_meta(order.id, "round", 9)
    assert [a.status_code for a in wc_sandbox.deliver_pending()] == [200]


def test_a_success_resets_the_failure_count(wc_sandbox: WooCommerceSandbox,
                                            wc_receiver: WebhookReceiver) -> None:
    webhook = _create_webhook(wc_sandbox, wc_receiver)
    order = wc_sandbox.store.place_order()
    for status in [500] * 6 + [200] + [500] * 6:
        wc_receiver.status = status
        wc_sandbox.store.set_order_meta(order.id, "status", status)
        wc_sandbox.deliver_pending()
    assert wc_sandbox.store.webhooks[webhook["id"]].status == "active"


def test_duplicate_order_updated_deliveries_can_be_injected(
        wc_sandbox: WooCommerceSandbox, wc_receiver: WebhookReceiver) -> None:
    _create_webhook(wc_sandbox, wc_receiver)
    order = wc_sandbox.store.place_order()
    wc_sandbox.store.duplicate_order_updated = True
    wc_sandbox.store.set_order_status(order.id, "completed")
    wc_sandbox.deliver_pending()
    bodies = [d.body for d in wc_receiver.posts("/hooks")[1:]]
    assert len(bodies) == 2 and bodies[0] == bodies[1]


def test_paused_webhooks_deliver_nothing_and_delete_needs_force(
        wc_sandbox: WooCommerceSandbox, wc_receiver: WebhookReceiver) -> None:
    webhook = _create_webhook(wc_sandbox, wc_receiver)
    api = wc_sandbox.api(wc_sandbox.store.create_key())
    assert api.put(f"webhooks/{webhook['id']}", {"status": "paused"}).status_code == 200
    wc_sandbox.store.set_order_status(wc_sandbox.store.place_order().id, "completed")
    assert wc_sandbox.deliver_pending() == []
    assert api.delete(f"webhooks/{webhook['id']}").status_code == 501
    assert api.delete(f"webhooks/{webhook['id']}", params={"force": "true"}).status_code == 200
    assert api.get(f"webhooks/{webhook['id']}").status_code == 404


def test_contract_headers_are_all_sent(wc_sandbox: WooCommerceSandbox,
                                       wc_receiver: WebhookReceiver, contracts_dir: Path) -> None:
    contract = json.loads((contracts_dir / "woocommerce" / "webhook_delivery" /
                           "delivery_contract.json").read_text())
    _create_webhook(wc_sandbox, wc_receiver)
    wc_sandbox.store.set_order_status(wc_sandbox.store.place_order().id, "completed")
    wc_sandbox.deliver_pending()
    sent = {name.lower() for name in wc_receiver.posts("/hooks")[-1].headers}
    expected = {name.lower() for name in contract["delivery_request"]["headers"]}
    assert expected <= sent
