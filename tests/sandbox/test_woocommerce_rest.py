"""The WooCommerce sandbox's REST v3 over real HTTP, driven by the official `woocommerce` client:
both auth modes work, and what WooCommerce rejects is rejected the same way."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from woocommerce import API

from tests.helpers.sandbox_woocommerce import WooCommerceSandbox


def _signed_url(sandbox: WooCommerceSandbox, path: str, key: str, secret: str, *,
                method: str = "GET", algorithm: str = "HMAC-SHA1",
                params: dict[str, str] | None = None, nonce: str = "abc123") -> str:
    """An OAuth 1.0a one-legged URL built from RFC 5849 by hand (not the woocommerce client)."""
    url = f"{sandbox.url}{path}"
    oauth = {**(params or {}), "oauth_consumer_key": key, "oauth_nonce": nonce,
             "oauth_signature_method": algorithm, "oauth_timestamp": str(int(time.time()))}

    def enc(text: str) -> str:
        return quote(text, safe="-_.~")

    pairs = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(oauth.items()))
    base = "&".join([method, enc(url), enc(pairs)])
    digest = hashlib.sha1 if algorithm == "HMAC-SHA1" else hashlib.sha256
    signature = base64.b64encode(hmac.new(f"{secret}&".encode(), base.encode(),
                                          digest).digest()).decode()
    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in
                     [*oauth.items(), ("oauth_signature", signature)])
    return f"{url}?{query}"


def test_official_client_lists_orders_over_http_with_oauth_and_paging_headers(
        wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key("read")
    orders = [wc_sandbox.store.place_order() for _ in range(3)]

    response = wc_sandbox.api(key).get("orders", params={"per_page": 2, "orderby": "id",
                                                         "order": "asc"})

    assert response.status_code == 200, response.text
    assert [o["id"] for o in response.json()] == [orders[0].id, orders[1].id]
    assert response.headers["X-WP-Total"] == "3"
    assert response.headers["X-WP-TotalPages"] == "2"
    assert 'rel="next"' in response.headers["Link"]
    assert "page=2" in response.headers["Link"]
    assert wc_sandbox.store.api_calls[key.consumer_key] == 1
    first = response.json()[0]
    assert first["number"] == str(orders[0].id)
    assert first["billing"]["email"] == "jane.doe@example.com"
    assert first["line_items"][0]["sku"].startswith("TS-")


def test_hand_made_hmac_sha1_and_sha256_signatures_are_accepted(
        wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    order = wc_sandbox.store.place_order()
    for algorithm, nonce in (("HMAC-SHA1", "n1"), ("HMAC-SHA256", "n2")):
        url = _signed_url(wc_sandbox, f"/wp-json/wc/v3/orders/{order.id}", key.consumer_key,
                          key.consumer_secret, algorithm=algorithm, nonce=nonce,
                          params={"_fields": "id,status"})
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json() == {"id": order.id, "status": "processing"}


def test_unsupported_signature_method_is_rejected(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    url = _signed_url(wc_sandbox, "/wp-json/wc/v3/orders", key.consumer_key,
                      key.consumer_secret, algorithm="PLAINTEXT")
    response = requests.get(url, timeout=10)
    assert response.status_code == 401
    assert response.json()["message"] == "Invalid signature - signature method is invalid."


def _assert_auth_error(response: requests.Response, code: str, message: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == {"code": code, "message": message, "data": {"status": 401}}


def test_unknown_consumer_key_is_rejected(wc_sandbox: WooCommerceSandbox) -> None:
    response = API(url=wc_sandbox.url, consumer_key="ck_nope", consumer_secret="cs_nope",
                   timeout=10).get("orders")
    _assert_auth_error(response, "woocommerce_rest_authentication_error",
                       "Consumer key is invalid.")


def test_wrong_secret_fails_the_oauth_signature(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    response = API(url=wc_sandbox.url, consumer_key=key.consumer_key,
                   consumer_secret="cs_wrong", timeout=10).get("orders")
    _assert_auth_error(response, "woocommerce_rest_authentication_error",
                       "Invalid signature - provided signature does not match.")
    assert wc_sandbox.store.api_calls[key.consumer_key] == 0


def test_timestamp_older_than_15_minutes_is_rejected(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    wc_sandbox.clock.advance(timedelta(minutes=16))
    _assert_auth_error(wc_sandbox.api(key).get("orders"),
                       "woocommerce_rest_authentication_error", "Invalid timestamp.")
    wc_sandbox.clock.advance(timedelta(minutes=-2))
    assert wc_sandbox.api(key).get("orders").status_code == 200


def test_a_nonce_works_once(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    url = _signed_url(wc_sandbox, "/wp-json/wc/v3/orders", key.consumer_key,
                      key.consumer_secret, nonce="only-once")
    assert requests.get(url, timeout=10).status_code == 200
    _assert_auth_error(requests.get(url, timeout=10), "woocommerce_rest_authentication_error",
                       "Invalid nonce - nonce has already been used.")


def test_missing_oauth_parameter_is_named(wc_sandbox: WooCommerceSandbox) -> None:
    response = requests.get(f"{wc_sandbox.url}/wp-json/wc/v3/orders?oauth_consumer_key=ck_x",
                            timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "woocommerce_rest_authentication_missing_parameter"
    assert "oauth_timestamp" in response.json()["message"]


def test_basic_auth_over_plain_http_authenticates_nobody(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    response = requests.get(f"{wc_sandbox.url}/wp-json/wc/v3/orders", timeout=10,
                            auth=(key.consumer_key, key.consumer_secret))
    _assert_auth_error(response, "woocommerce_rest_cannot_view",
                       "Sorry, you cannot list resources.")
    query = requests.get(f"{wc_sandbox.url}/wp-json/wc/v3/orders", timeout=10,
                         params={"consumer_key": key.consumer_key,
                                 "consumer_secret": key.consumer_secret})
    assert query.status_code == 401


def test_https_accepts_basic_auth_and_query_string_keys(
        wc_sandbox_https: WooCommerceSandbox) -> None:
    key = wc_sandbox_https.store.create_key()
    order = wc_sandbox_https.store.place_order()
    basic = wc_sandbox_https.api(key).get(f"orders/{order.id}")
    assert basic.status_code == 200, basic.text
    assert basic.json()["id"] == order.id
    query = wc_sandbox_https.api(key, query_string_auth=True).get("orders")
    assert query.status_code == 200, query.text
    assert wc_sandbox_https.store.api_calls[key.consumer_key] == 2


def test_https_wrong_secret_and_unknown_key(wc_sandbox_https: WooCommerceSandbox) -> None:
    key = wc_sandbox_https.store.create_key()
    url = f"{wc_sandbox_https.url}/wp-json/wc/v3/orders"
    wrong = requests.get(url, auth=(key.consumer_key, "cs_wrong"),
                         verify=wc_sandbox_https.verify, timeout=10)
    _assert_auth_error(wrong, "woocommerce_rest_authentication_error",
                       "Consumer secret is invalid.")
    unknown = requests.get(url, auth=("ck_unknown", "cs_unknown"),
                           verify=wc_sandbox_https.verify, timeout=10)
    _assert_auth_error(unknown, "woocommerce_rest_cannot_view",
                       "Sorry, you cannot list resources.")


def test_per_page_above_100_is_a_400(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    response = wc_sandbox.api(key).get("orders", params={"per_page": 101})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rest_invalid_param"
    assert body["message"] == "Invalid parameter(s): per_page"
    assert body["data"]["params"]["per_page"] == (
        "per_page must be between 1 (inclusive) and 100 (inclusive).")


def test_unknown_order_is_404_with_woocommerce_code(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    response = wc_sandbox.api(key).get("orders/999999")
    assert response.status_code == 404
    assert response.json()["code"] == "woocommerce_rest_shop_order_invalid_id"


def test_read_only_key_cannot_write(wc_sandbox_https: WooCommerceSandbox) -> None:
    key = wc_sandbox_https.store.create_key("read")
    order = wc_sandbox_https.store.place_order()
    response = wc_sandbox_https.api(key).put(f"orders/{order.id}", {"status": "completed"})
    _assert_auth_error(response, "woocommerce_rest_authentication_error",
                       "The API key provided does not have write permissions.")
    assert wc_sandbox_https.store.order(order.id).status == "processing"
    write_only = wc_sandbox_https.store.create_key("write")
    assert wc_sandbox_https.api(write_only).get("orders").status_code == 401


def test_update_changes_status_and_bumps_date_modified(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    order = wc_sandbox.store.place_order(status="pending")
    created = order.date_modified
    wc_sandbox.clock.advance(timedelta(minutes=3))
    response = wc_sandbox.api(key).put(f"orders/{order.id}", {"status": "completed"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "completed"
    assert body["date_modified_gmt"] == (created + timedelta(minutes=3)).strftime(
        "%Y-%m-%dT%H:%M:%S")
    assert body["date_paid_gmt"] is not None
    invalid = wc_sandbox.api(key).put(f"orders/{order.id}", {"status": "shipped"})
    assert invalid.status_code == 400
    assert invalid.json()["code"] == "rest_invalid_param"
    assert wc_sandbox.api(key).put("orders/999999", {"status": "completed"}).status_code == 400


def test_modified_after_status_orderby_and_fields(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    old = wc_sandbox.store.place_order()
    wc_sandbox.clock.advance(timedelta(minutes=5))
    watermark = wc_sandbox.clock.now()
    wc_sandbox.clock.advance(timedelta(seconds=1))
    recent = wc_sandbox.store.place_order(status="on-hold")
    wc_sandbox.store.place_order(status="checkout-draft")
    wc_sandbox.clock.advance(timedelta(seconds=1))
    wc_sandbox.store.set_order_status(old.id, "completed")

    response = wc_sandbox.api(key).get("orders", params={
        "modified_after": watermark.strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true",
        "orderby": "modified", "order": "asc", "_fields": "id,status"})

    assert response.status_code == 200, response.text
    assert response.json() == [{"id": recent.id, "status": "on-hold"},
                               {"id": old.id, "status": "completed"}]
    on_hold = wc_sandbox.api(key).get("orders", params={"status": "on-hold"})
    assert [o["id"] for o in on_hold.json()] == [recent.id]
    bad_date = wc_sandbox.api(key).get("orders", params={"modified_after": "yesterday"})
    assert bad_date.status_code == 400


def test_sku_reads_null_after_the_product_is_deleted(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    product = wc_sandbox.store.add_product("Mug", sku="MUG-1", price=8.0)
    order = wc_sandbox.store.place_order([(product.id, 2)])
    wc_sandbox.store.delete_product(product.id)
    item = wc_sandbox.api(key).get(f"orders/{order.id}").json()["line_items"][0]
    assert item["sku"] is None
    assert item["product_id"] == product.id
    assert item["quantity"] == 2


def test_batch_over_100_items_is_413(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    orders = [wc_sandbox.store.place_order() for _ in range(2)]
    updates = [{"id": orders[i % 2].id, "status": "completed"} for i in range(101)]
    response = wc_sandbox.api(key).post("orders/batch", {"update": updates})
    assert response.status_code == 413
    assert response.json() == {
        "code": "woocommerce_rest_request_entity_too_large",
        "message": "Unable to accept more than 100 items for this request.",
        "data": {"status": 413}}
    assert wc_sandbox.store.order(orders[0].id).status == "processing"


def test_batch_reports_item_errors_inside_a_200(wc_sandbox: WooCommerceSandbox) -> None:
    key = wc_sandbox.store.create_key()
    order = wc_sandbox.store.place_order()
    doomed = wc_sandbox.store.place_order()
    response = wc_sandbox.api(key).post("orders/batch", {
        "update": [{"id": order.id, "status": "completed"}, {"id": 424242, "status": "completed"}],
        "delete": [doomed.id]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["update"][0]["status"] == "completed"
    assert body["update"][1]["id"] == 424242
    assert body["update"][1]["error"]["code"] == "woocommerce_rest_shop_order_invalid_id"
    assert body["delete"][0]["id"] == doomed.id
    assert wc_sandbox.store.find_order(doomed.id) is None


def test_customer_notes_are_flagged_and_listed(wc_sandbox_https: WooCommerceSandbox) -> None:
    key = wc_sandbox_https.store.create_key()
    order = wc_sandbox_https.store.place_order()
    api = wc_sandbox_https.api(key)
    created = api.post(f"orders/{order.id}/notes",
                       {"note": "Your parcel left the warehouse.", "customer_note": True})
    assert created.status_code == 201, created.text
    assert created.json()["customer_note"] is True
    customer = api.get(f"orders/{order.id}/notes", params={"type": "customer"}).json()
    assert [n["note"] for n in customer] == ["Your parcel left the warehouse."]
    missing = api.post(f"orders/{order.id}/notes", {"customer_note": True})
    assert missing.status_code == 400
    assert missing.json()["code"] == "rest_missing_callback_param"
    unknown = api.post("orders/999999/notes", {"note": "x"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "woocommerce_rest_order_invalid_id"


def test_order_json_matches_the_documented_v3_shape(wc_sandbox: WooCommerceSandbox,
                                                    contracts_dir: Path) -> None:
    documented = json.loads((contracts_dir / "woocommerce" / "rest_v3_docs_examples" /
                             "orders__retrieve-an-order.json").read_text())
    key = wc_sandbox.store.create_key()
    order = wc_sandbox.store.place_order()
    ours = wc_sandbox.api(key).get(f"orders/{order.id}").json()
    missing = set(documented) - set(ours)
    assert not missing, f"fields the docs show but the sandbox lacks: {sorted(missing)}"
    for name in ("billing", "shipping"):
        assert set(documented[name]) <= set(ours[name])
    assert set(documented["line_items"][0]) <= set(ours["line_items"][0])
    assert isinstance(ours["number"], str)


@pytest.mark.parametrize("path", ["/wp-json/wc/v3/nothing-here", "/wp-json/wc/v3/orders/abc"])
def test_unknown_routes_answer_rest_no_route(wc_sandbox: WooCommerceSandbox, path: str) -> None:
    key = wc_sandbox.store.create_key()
    url = _signed_url(wc_sandbox, path, key.consumer_key, key.consumer_secret, nonce=path)
    response = requests.get(url, timeout=10)
    assert response.status_code == 404
    assert response.json()["code"] == "rest_no_route"
