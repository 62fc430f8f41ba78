"""Webhook intake over the app: verified, stored once, acknowledged; bad input stores nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select

from integration.accounts import stores
from integration.base import logs
from integration.kernel.runtime import Runtime
from integration.storage.models import InboxDelivery, OutboxJob
from tests.helpers.webhook_fixtures import (
    SHOP,
    ConnectedStore,
    shopify_headers,
    shopify_order_body,
    woo_headers,
    woo_order_body,
)


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.read() as session:
        deliveries = session.scalar(select(func.count()).select_from(InboxDelivery)) or 0
        jobs = session.scalar(select(func.count()).select_from(OutboxJob)) or 0
    return deliveries, jobs


# -- Shopify ---------------------------------------------------------------------------------

def test_valid_shopify_delivery_is_stored_once_with_a_job(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    body = shopify_order_body()
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    assert response.status_code == 200
    assert response.json == {"status": "stored", "id": 1}
    with runtime.db.read() as session:
        delivery = session.scalars(select(InboxDelivery)).one()
        job = session.scalars(select(OutboxJob)).one()
    assert delivery.body == body
    assert delivery.store_id == connected_shopify.id
    assert delivery.topic == "orders/create"
    assert "X-Shopify-Hmac-Sha256" not in delivery.headers
    assert delivery.headers["X-Shopify-Webhook-Id"] == "wh-1"
    assert (job.kind, job.payload, job.state) == ("inbox.process", {"inbox_id": 1}, "pending")


def test_duplicate_shopify_delivery_answers_200_and_stores_nothing_new(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    body = shopify_order_body()
    first = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    again = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json == {"status": "duplicate"}
    assert counts(runtime) == (1, 1)
    other = client.post("/webhooks/shopify", data=body,
                        headers=shopify_headers(body, webhook_id="wh-2"))
    assert other.json is not None and other.json["status"] == "stored"
    assert counts(runtime) == (2, 2)


def test_previous_secret_is_accepted_during_rotation(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    stores.rotate_webhook_secret(runtime, connected_shopify.id, "brand new secret")
    body = shopify_order_body()
    old = client.post("/webhooks/shopify", data=body,
                      headers=shopify_headers(body, secret=connected_shopify.secret))
    new = client.post("/webhooks/shopify", data=body,
                      headers=shopify_headers(body, secret="brand new secret", webhook_id="2"))
    assert (old.status_code, new.status_code) == (200, 200)
    stores.rotate_webhook_secret(runtime, connected_shopify.id, "third secret")
    # Each process caches secrets for up to 10 s; a retired one may be honoured that long
    # (Shopify itself keeps sending with the old secret for up to an hour). Time passes:
    client.application.extensions["droptrack_store_secrets"].forget(("shopify", SHOP))
    retired = client.post("/webhooks/shopify", data=body,
                          headers=shopify_headers(body, secret=connected_shopify.secret,
                                                  webhook_id="3"))
    assert retired.status_code == 401
    assert counts(runtime) == (2, 2)


def test_bad_signature_and_unknown_shop_get_the_same_401(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    body = shopify_order_body()
    forged = client.post("/webhooks/shopify", data=body,
                         headers=shopify_headers(body, secret="not the secret"))
    tampered = client.post("/webhooks/shopify", data=body + b" ",
                           headers=shopify_headers(body))
    garbage = client.post("/webhooks/shopify", data=body,
                          headers={**shopify_headers(body), "X-Shopify-Hmac-Sha256": "%%%"})
    unknown = client.post("/webhooks/shopify", data=body,
                          headers=shopify_headers(body, shop="other.myshopify.com"))
    invalid_domain = client.post("/webhooks/shopify", data=body,
                                 headers=shopify_headers(body, shop="evil.example.com"))
    for response in (forged, tampered, garbage, unknown, invalid_domain):
        assert response.status_code == 401
        assert response.get_data() == forged.get_data()
    assert counts(runtime) == (0, 0)


@pytest.mark.parametrize("header", ["X-Shopify-Hmac-Sha256", "X-Shopify-Topic",
                                    "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"])
def test_missing_shopify_header_is_400(client: FlaskClient, runtime: Runtime,
                                       connected_shopify: ConnectedStore, header: str) -> None:
    body = shopify_order_body()
    headers = {k: v for k, v in shopify_headers(body).items() if k != header}
    response = client.post("/webhooks/shopify", data=body, headers=headers)
    assert response.status_code == 400
    assert header in response.json["error"]  # type: ignore[index]
    assert counts(runtime) == (0, 0)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_malformed_json_behind_a_valid_signature_is_400(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore,
        body: bytes) -> None:
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    assert response.status_code == 400
    assert counts(runtime) == (0, 0)


@pytest.mark.parametrize("body", [
    b'{"id": 123456789012345678901234567890, "total": 1e300}',  # beyond 64 bits
    b'{"note": "\\ud83d alone"}',  # a lone surrogate escape
])
def test_json_the_standard_library_accepts_is_stored_even_where_orjson_refuses(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore,
        body: bytes) -> None:
    # A topic whose body shape DropTrack does not check: only the JSON parsing is under test.
    response = client.post("/webhooks/shopify", data=body,
                           headers=shopify_headers(body, topic="fulfillments/create"))
    assert response.status_code == 200
    assert counts(runtime) == (1, 1)


def test_body_over_two_mebibytes_is_413(client: FlaskClient, runtime: Runtime,
                                        connected_shopify: ConnectedStore) -> None:
    body = json.dumps({"id": 1, "padding": "x" * (2 * 1024 * 1024)}).encode()
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    assert response.status_code == 413
    assert counts(runtime) == (0, 0)


def test_body_of_exactly_the_limit_is_accepted(client: FlaskClient, runtime: Runtime,
                                               connected_shopify: ConnectedStore) -> None:
    prefix, suffix = b'{"id": 1, "padding": "', b'"}'
    body = prefix + b"x" * (2 * 1024 * 1024 - len(prefix) - len(suffix)) + suffix
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    assert response.status_code == 200
    assert counts(runtime) == (1, 1)


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405(client: FlaskClient, runtime: Runtime,
                             connected_shopify: ConnectedStore, connected_woo: ConnectedStore,
                             method: str) -> None:
    for path in ("/webhooks/shopify", f"/webhooks/woocommerce/{connected_woo.id}"):
        assert client.open(path, method=method).status_code == 405
    assert counts(runtime) == (0, 0)


def test_rejections_log_the_reason_without_secrets(
        client: FlaskClient, connected_shopify: ConnectedStore,
        caplog: pytest.LogCaptureFixture) -> None:
    body = shopify_order_body()
    headers = shopify_headers(body, secret="wrong")
    with caplog.at_level(logging.DEBUG):
        client.post("/webhooks/shopify", data=body, headers=headers)
    assert "bad signature" in caplog.text
    assert headers["X-Shopify-Hmac-Sha256"] not in caplog.text
    assert connected_shopify.secret not in caplog.text
    assert "jon@example.com" not in caplog.text


def test_real_shopify_payloads_from_the_contracts_are_accepted(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore,
        contracts_dir: Path) -> None:
    samples = sorted((contracts_dir / "shopify" / "webhooks" / "docs_samples_2026-07")
                     .glob("*.json"))
    samples = [path for path in samples if not path.name.startswith("_")]
    assert samples, "no webhook samples in the contract data"
    for number, path in enumerate(samples):
        body = path.read_bytes().replace(b"{shop}.myshopify.com", SHOP.encode())
        topic = path.stem.replace("__", "/")
        response = client.post("/webhooks/shopify", data=body,
                               headers=shopify_headers(body, webhook_id=f"s{number}",
                                                       topic=topic))
        assert response.status_code == 200, path.name
    assert counts(runtime) == (len(samples), len(samples))


# -- WooCommerce -----------------------------------------------------------------------------

def test_valid_woocommerce_delivery_is_stored_once(
        client: FlaskClient, runtime: Runtime, connected_woo: ConnectedStore) -> None:
    body = woo_order_body()
    url = f"/webhooks/woocommerce/{connected_woo.id}"
    first = client.post(url, data=body, headers=woo_headers(body))
    # WooCommerce's delivery id is not a dedupe key: same state with another id is a duplicate.
    again = client.post(url, data=body, headers=woo_headers(body, delivery_id="2"))
    assert first.status_code == again.status_code == 200
    assert again.json == {"status": "duplicate"}
    assert counts(runtime) == (1, 1)
    changed = woo_order_body(modified="2026-11-26T10:05:00", status="completed")
    third = client.post(url, data=changed, headers=woo_headers(changed))
    assert third.json is not None and third.json["status"] == "stored"
    with runtime.db.read() as session:
        keys = sorted(session.scalars(select(InboxDelivery.dedupe_key)))
    assert keys == [f"{connected_woo.id}:order:727:2026-11-26T10:00:00",
                    f"{connected_woo.id}:order:727:2026-11-26T10:05:00"]


def test_woocommerce_ping_is_answered_200_and_not_stored(
        client: FlaskClient, runtime: Runtime, connected_woo: ConnectedStore) -> None:
    response = client.post(f"/webhooks/woocommerce/{connected_woo.id}", data=b"webhook_id=15",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    unknown = client.post("/webhooks/woocommerce/999", data=b"webhook_id=15",
                          content_type="application/x-www-form-urlencoded")
    assert unknown.status_code == 401
    assert counts(runtime) == (0, 0)


def test_woocommerce_rejections(client: FlaskClient, runtime: Runtime,
                                connected_woo: ConnectedStore,
                                connected_shopify: ConnectedStore) -> None:
    url = f"/webhooks/woocommerce/{connected_woo.id}"
    body = woo_order_body()
    bad_sig = client.post(url, data=body, headers=woo_headers(body, secret="nope"))
    unknown = client.post("/webhooks/woocommerce/999", data=body, headers=woo_headers(body))
    # A Shopify store's id is not a WooCommerce store.
    wrong_platform = client.post(f"/webhooks/woocommerce/{connected_shopify.id}", data=body,
                                 headers=woo_headers(body))
    assert bad_sig.status_code == unknown.status_code == wrong_platform.status_code == 401
    assert bad_sig.get_data() == unknown.get_data() == wrong_platform.get_data()

    no_sig = {k: v for k, v in woo_headers(body).items() if k != "X-WC-Webhook-Signature"}
    assert client.post(url, data=body, headers=no_sig).status_code == 400
    no_topic = {k: v for k, v in woo_headers(body).items() if k != "X-WC-Webhook-Topic"}
    assert client.post(url, data=body, headers=no_topic).status_code == 400

    for malformed in (b"{oops", b'"string"', json.dumps({"number": "1"}).encode(),
                      json.dumps({"id": 5}).encode()):
        response = client.post(url, data=malformed, headers=woo_headers(malformed))
        assert response.status_code == 400, malformed

    huge = json.dumps({"id": 1, "pad": "x" * (2 * 1024 * 1024)}).encode()
    assert client.post(url, data=huge, headers=woo_headers(huge)).status_code == 413
    assert counts(runtime) == (0, 0)


def test_woocommerce_contract_example_order_is_accepted(
        client: FlaskClient, runtime: Runtime, connected_woo: ConnectedStore,
        contracts_dir: Path) -> None:
    # A webhook body is the same JSON as GET /orders/<id>.
    body = (contracts_dir / "woocommerce" / "rest_v3_docs_examples"
            / "orders__retrieve-an-order.json").read_bytes()
    response = client.post(f"/webhooks/woocommerce/{connected_woo.id}", data=body,
                           headers=woo_headers(body, topic="order.created"))
    assert response.status_code == 200
    assert counts(runtime) == (1, 1)


# -- concurrency over real HTTP --------------------------------------------------------------

def test_twenty_concurrent_copies_store_one_row(
        live_url: str, runtime: Runtime, connected_shopify: ConnectedStore,
        connected_woo: ConnectedStore) -> None:
    shopify_body = shopify_order_body()
    woo_body = woo_order_body()

    def send_shopify(_: int) -> requests.Response:
        return requests.post(f"{live_url}/webhooks/shopify", data=shopify_body,
                             headers=shopify_headers(shopify_body), timeout=30)

    def send_woo(number: int) -> requests.Response:
        return requests.post(f"{live_url}/webhooks/woocommerce/{connected_woo.id}", data=woo_body,
                             headers=woo_headers(woo_body, delivery_id=str(number)), timeout=30)

    with ThreadPoolExecutor(max_workers=20) as pool:
        shopify_responses = list(pool.map(send_shopify, range(20)))
        woo_responses = list(pool.map(send_woo, range(20)))
    for responses in (shopify_responses, woo_responses):
        assert [r.status_code for r in responses] == [200] * 20
        statuses = sorted(r.json()["status"] for r in responses)
        assert statuses == ["duplicate"] * 19 + ["stored"]
    assert counts(runtime) == (2, 2)


def test_shop_domain_header_is_case_insensitive(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    body = shopify_order_body()
    headers = {k.lower(): v for k, v in shopify_headers(body, shop=SHOP.upper()).items()}
    assert client.post("/webhooks/shopify", data=body, headers=headers).status_code == 200
    assert counts(runtime) == (1, 1)


# -- the endpoints' own HTTP handling (webhooks/endpoints.py) --------------------------------

def test_wrong_method_names_the_allowed_one(client: FlaskClient,
                                            connected_shopify: ConnectedStore) -> None:
    response = client.get("/webhooks/shopify")
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json == {"error": "method not allowed"}


@pytest.mark.parametrize("path", ["/webhooks/shopify/", "/webhooks/woocommerce/abc",
                                  "/webhooks/woocommerce/" + "9" * 19, "/webhooks/other"])
def test_paths_that_are_no_endpoint_are_404_not_500(client: FlaskClient, runtime: Runtime,
                                                    path: str) -> None:
    body = shopify_order_body()
    assert client.post(path, data=body, headers=shopify_headers(body)).status_code == 404
    assert counts(runtime) == (0, 0)


def test_malformed_content_length_is_400(client: FlaskClient, runtime: Runtime,
                                         connected_shopify: ConnectedStore) -> None:
    body = shopify_order_body()
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(body),
                           environ_overrides={"CONTENT_LENGTH": "12x"})
    assert response.status_code == 400
    assert response.json == {"error": "malformed Content-Length"}
    assert counts(runtime) == (0, 0)


def test_chunked_deliveries_are_read_whole_and_limited(
        live_url: str, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    """No Content-Length (Transfer-Encoding: chunked) over real HTTP: stored when within the
    limit, 413 when over it."""
    body = shopify_order_body()

    def chunks(data: bytes) -> Iterator[bytes]:
        for start in range(0, len(data), 700):
            yield data[start:start + 700]

    stored = requests.post(f"{live_url}/webhooks/shopify", data=chunks(body),
                           headers=shopify_headers(body), timeout=30)
    assert stored.status_code == 200, stored.text
    assert stored.json()["status"] == "stored"
    huge = json.dumps({"id": 2, "padding": "x" * (2 * 1024 * 1024)}).encode()
    refused = requests.post(f"{live_url}/webhooks/shopify", data=chunks(huge),
                            headers=shopify_headers(huge), timeout=30)
    assert refused.status_code == 413
    assert counts(runtime) == (1, 1)


def test_an_unexpected_failure_is_a_logged_500_that_stores_nothing(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore,
        caplog: pytest.LogCaptureFixture) -> None:
    """The database refuses the write (here: the inbox table is gone): Shopify gets a 500 and
    will retry; the log has the cause and the request id."""
    from sqlalchemy import text

    with runtime.db.write() as session:
        session.execute(text("ALTER TABLE inbox RENAME TO inbox_away"))
    body = shopify_order_body()
    caplog.handler.addFilter(logs.ContextFilter())  # as the app's log handler does
    with caplog.at_level(logging.ERROR, logger="droptrack.webhooks"):
        response = client.post("/webhooks/shopify", data=body,
                               headers={**shopify_headers(body), "X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.json == {"error": "internal server error"}
    assert response.headers["X-Request-ID"] == "req-500"
    [record] = [r for r in caplog.records if "webhook failed" in r.getMessage()]
    assert record.exc_info is not None
    assert "inbox" in str(record.exc_info[1])
    assert getattr(record, "request_id", None) == "req-500"
    with runtime.db.write() as session:
        session.execute(text("ALTER TABLE inbox_away RENAME TO inbox"))
    assert counts(runtime) == (0, 0)


def test_webhook_answers_carry_a_request_id(client: FlaskClient,
                                            connected_shopify: ConnectedStore) -> None:
    body = shopify_order_body()
    echoed = client.post("/webhooks/shopify", data=body,
                         headers={**shopify_headers(body), "X-Request-ID": "req-7"})
    assert echoed.headers["X-Request-ID"] == "req-7"
    fresh = client.post("/webhooks/shopify", data=body,
                        headers={**shopify_headers(body), "X-Request-ID": "x" * 65})
    assert fresh.headers["X-Request-ID"] not in ("", "x" * 65)
