"""Reference supplier, push: signed callbacks, verified here independently, and retries."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta

import requests

from tests.helpers.sandbox_supplier import SupplierSandbox, WebhookReceiver, sample_order

SECRET = "whsec_0123456789abcdef"


def _verify(body: bytes, headers: dict[str, str]) -> dict[str, object]:
    """A receiver's checks: HMAC of the raw body; the timestamp header is the signed sent_at."""
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Supplier-Signature"], expected)
    payload: dict[str, object] = json.loads(body)
    sent_at = datetime.fromisoformat(str(payload["sent_at"]).replace("Z", "+00:00"))
    assert int(headers["X-Supplier-Timestamp"]) == int(sent_at.timestamp())
    assert payload["id"] == headers["X-Supplier-Event-Id"]
    assert payload["type"] == headers["X-Supplier-Event-Type"]
    return payload


def test_webhook_registration_api(supplier_sandbox: SupplierSandbox,
                                  supplier_push_receiver: WebhookReceiver) -> None:
    url = f"{supplier_sandbox.url}/v1/webhooks"
    created = requests.post(url, json={"url": supplier_push_receiver.url, "secret": SECRET},
                            headers=supplier_sandbox.headers(), timeout=5)
    assert created.status_code == 201
    assert "secret" not in created.json()
    listed = requests.get(url, headers=supplier_sandbox.headers(), timeout=5).json()
    assert listed == {"webhooks": [created.json()]}
    short = requests.post(url, json={"url": "ftp://x", "secret": "short"},
                          headers=supplier_sandbox.headers(), timeout=5)
    assert {f["code"] for f in short.json()["error"]["details"]["fields"]} == {
        "invalid_url", "too_short"}
    deleted = requests.delete(f"{url}/{created.json()['id']}", headers=supplier_sandbox.headers(),
                              timeout=5)
    assert deleted.status_code == 204
    assert requests.delete(f"{url}/{created.json()['id']}", headers=supplier_sandbox.headers(),
                           timeout=5).status_code == 404


def test_order_and_tracking_updates_are_pushed_signed(
        supplier_sandbox: SupplierSandbox, supplier_push_receiver: WebhookReceiver) -> None:
    state = supplier_sandbox.state
    state.register_webhook(supplier_push_receiver.url, SECRET)
    state.seed_scenario("normal")
    order_id = supplier_sandbox.create_order().json()["id"]
    attempts = state.deliver_due()
    assert [a.ok for a in attempts] == [True]
    supplier_sandbox.clock.advance(timedelta(days=30))
    state.deliver_due()
    assert state.deliver_due() == []  # nothing new, nothing resent

    payloads = [_verify(push.body, push.headers) for push in supplier_push_receiver.received]
    last_stamp = int(supplier_push_receiver.received[-1].headers["X-Supplier-Timestamp"])
    assert abs(last_stamp - supplier_sandbox.clock.now().timestamp()) <= 300  # replay window
    types = [p["type"] for p in payloads]
    assert types[0] == "order.updated"
    assert types.count("order.updated") == 2  # received, then shipped (30 days in one jump)
    tracking = [p for p in payloads if p["type"] == "tracking.updated"]
    parcel = supplier_sandbox.get_order(order_id)["parcels"][0]
    assert [p["data"]["event"] for p in tracking] == parcel["events"]  # type: ignore[index]
    assert len({p["id"] for p in payloads}) == len(payloads)


def test_a_failing_receiver_gets_retries_with_backoff_and_the_same_event_id(
        supplier_sandbox: SupplierSandbox, supplier_push_receiver: WebhookReceiver) -> None:
    state = supplier_sandbox.state
    state.register_webhook(supplier_push_receiver.url, SECRET)
    state.seed_scenario("no_tracking")
    supplier_sandbox.create_order()
    supplier_push_receiver.responses.extend([500, 503])

    assert [a.status_code for a in state.deliver_due()] == [500]
    assert state.deliver_due() == []  # not due yet
    supplier_sandbox.clock.advance(timedelta(seconds=29))
    assert state.deliver_due() == []
    supplier_sandbox.clock.advance(timedelta(seconds=1))
    assert [a.status_code for a in state.deliver_due()] == [503]
    supplier_sandbox.clock.advance(timedelta(seconds=59))
    assert state.deliver_due() == []
    supplier_sandbox.clock.advance(timedelta(seconds=1))
    assert [a.status_code for a in state.deliver_due()] == [200]

    bodies = [json.loads(push.body) for push in supplier_push_receiver.received]
    assert len({body["id"] for body in bodies}) == 1
    assert [body["attempt"] for body in bodies] == [1, 2, 3]
    stamps = [int(push.headers["X-Supplier-Timestamp"]) for push in supplier_push_receiver.received]
    assert stamps[1] - stamps[0] == 30 and stamps[2] - stamps[1] == 60
    assert state.push.pending() == []


def test_signature_covers_the_raw_body(supplier_sandbox: SupplierSandbox,
                                       supplier_push_receiver: WebhookReceiver) -> None:
    supplier_sandbox.state.register_webhook(supplier_push_receiver.url, SECRET)
    supplier_sandbox.create_order(sample_order("#77"))
    supplier_sandbox.state.deliver_due()
    push = supplier_push_receiver.received[0]
    tampered = push.body.replace(b"#77", b"#78")
    forged = "sha256=" + hmac.new(SECRET.encode(), tampered, hashlib.sha256).hexdigest()
    assert forged != push.headers["X-Supplier-Signature"]
    assert json.loads(push.body)["sent_at"] == "2026-11-02T09:00:00Z"


def test_an_unreachable_receiver_is_retried_until_it_gives_up(
        supplier_sandbox: SupplierSandbox) -> None:
    state = supplier_sandbox.state
    state.register_webhook("http://127.0.0.1:9/closed", SECRET)
    supplier_sandbox.create_order()
    for _ in range(12):
        state.deliver_due()
        supplier_sandbox.clock.advance(timedelta(hours=1))
    delivery = state.push.deliveries[0]
    assert delivery.state == "failed"
    assert len(delivery.attempts) == state.push.max_attempts
    assert all(a.error for a in delivery.attempts)
