"""Shipment tracking namespaces: absent, the official extension, or Advanced Shipment Tracking."""

from __future__ import annotations

import requests

from tests.helpers.sandbox_woocommerce import WooCommerceSandbox

TRACKING = "wc-shipment-tracking/v3"


def test_without_a_plugin_tracking_routes_do_not_exist(
        wc_sandbox_https: WooCommerceSandbox) -> None:
    key = wc_sandbox_https.store.create_key()
    order = wc_sandbox_https.store.place_order()
    response = wc_sandbox_https.api(key, version=TRACKING).post(
        f"orders/{order.id}/shipment-trackings", {"tracking_number": "1Z999"})
    assert response.status_code == 404
    assert response.json()["code"] == "rest_no_route"
    index = requests.get(f"{wc_sandbox_https.url}/wp-json/", verify=wc_sandbox_https.verify,
                         timeout=10).json()
    assert index["namespaces"] == ["wc/v3"]


def test_official_extension_stores_items_in_order_meta(wc_sandbox: WooCommerceSandbox) -> None:
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    key = wc_sandbox.store.create_key()
    order = wc_sandbox.store.place_order()
    tracking = wc_sandbox.api(key, version=TRACKING)

    created = tracking.post(f"orders/{order.id}/shipment-trackings", {
        "tracking_number": "9400100000000000000000", "tracking_provider": "usps",
        "date_shipped": "2026-11-20"})

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["tracking_provider"] == "USPS"
    assert "9400100000000000000000" in body["tracking_link"]
    assert body["date_shipped"] == "2026-11-20"
    listed = tracking.get(f"orders/{order.id}/shipment-trackings").json()
    assert [t["tracking_id"] for t in listed] == [body["tracking_id"]]
    meta = {m["key"]: m["value"] for m in
            wc_sandbox.api(key).get(f"orders/{order.id}").json()["meta_data"]}
    [stored] = meta["_wc_shipment_tracking_items"]
    assert stored["tracking_number"] == "9400100000000000000000"
    assert stored["tracking_provider"] == "usps"
    ast = wc_sandbox.api(key, version="wc-ast/v3").get(f"orders/{order.id}/shipment-trackings")
    assert ast.status_code == 404
    missing = tracking.post(f"orders/{order.id}/shipment-trackings", {"tracking_provider": "ups"})
    assert missing.status_code == 400
    assert missing.json()["code"] == "rest_missing_callback_param"
    unknown = tracking.post("orders/999999/shipment-trackings", {"tracking_number": "1"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "woocommerce_rest_order_invalid_id"


def test_custom_provider_keeps_its_link(wc_sandbox: WooCommerceSandbox) -> None:
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    key = wc_sandbox.store.create_key()
    order = wc_sandbox.store.place_order()
    created = wc_sandbox.api(key, version=TRACKING).post(
        f"orders/{order.id}/shipment-trackings", {
            "tracking_number": "YT123", "custom_tracking_provider": "YunExpress",
            "custom_tracking_link": "https://www.yuntrack.com/track/YT123"})
    assert created.json()["tracking_provider"] == "YunExpress"
    assert created.json()["tracking_link"] == "https://www.yuntrack.com/track/YT123"


def test_ast_status_shipped_and_replace_tracking(wc_sandbox_https: WooCommerceSandbox) -> None:
    wc_sandbox_https.store.set_tracking_mode("ast")
    wc_sandbox_https.store.set_ast_partial_shipped(True)  # off on a fresh install
    key = wc_sandbox_https.store.create_key()
    order = wc_sandbox_https.store.place_order()
    ast = wc_sandbox_https.api(key, version="wc-ast/v3")
    path = f"orders/{order.id}/shipment-trackings"

    first = ast.post(path, {"tracking_number": "OLD1", "tracking_provider": "UPS",
                            "status_shipped": 2})
    assert first.status_code == 201, first.text
    assert wc_sandbox_https.store.order(order.id).status == "partial-shipped"
    second = wc_sandbox_https.api(key, version=TRACKING).post(path, {
        "tracking_number": "NEW2", "tracking_provider": "ups", "status_shipped": 1,
        "replace_tracking": 1})
    assert second.status_code == 201, second.text

    assert [t["tracking_number"] for t in ast.get(path).json()] == ["NEW2"]
    assert wc_sandbox_https.store.order(order.id).status == "completed"
    index = requests.get(f"{wc_sandbox_https.url}/wp-json/", verify=wc_sandbox_https.verify,
                         timeout=10).json()
    assert {"wc-shipment-tracking/v3", "wc-ast/v3"} <= set(index["namespaces"])


def test_tracking_routes_still_demand_credentials(wc_sandbox: WooCommerceSandbox) -> None:
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    order = wc_sandbox.store.place_order()
    response = requests.get(
        f"{wc_sandbox.url}/wp-json/{TRACKING}/orders/{order.id}/shipment-trackings", timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "woocommerce_rest_cannot_view"
