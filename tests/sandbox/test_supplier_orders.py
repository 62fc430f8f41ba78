"""Reference supplier, orders: auth, idempotency, validation, stock and address rules."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests

from tests.helpers.sandbox_supplier import SupplierSandbox, sample_order


def test_requests_without_a_valid_key_are_refused(supplier_sandbox: SupplierSandbox) -> None:
    url = f"{supplier_sandbox.url}/v1/orders"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        response = requests.post(url, json=sample_order(),
                                 headers={**headers, "Idempotency-Key": "k1"}, timeout=5)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert supplier_sandbox.state.orders == {}


def test_first_create_is_201_and_a_retry_with_the_same_key_returns_the_same_order(
        supplier_sandbox: SupplierSandbox) -> None:
    first = supplier_sandbox.create_order(idempotency_key="droptrack-order-1")
    again = supplier_sandbox.create_order(idempotency_key="droptrack-order-1")
    assert first.status_code == 201
    assert first.headers["Idempotent-Replayed"] == "false"
    assert again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert first.headers["Location"].endswith(f"/v1/orders/{first.json()['id']}")
    assert len(supplier_sandbox.state.orders) == 1
    order = first.json()
    assert order["status"] == "received"
    assert order["external_reference"] == {"store": "demo-store.myshopify.com",
                                           "order_number": "#1001"}
    assert order["parcels"] == []


def test_same_key_with_a_different_body_is_a_409(supplier_sandbox: SupplierSandbox) -> None:
    first = supplier_sandbox.create_order(idempotency_key="k-409")
    changed = sample_order()
    changed["lines"][0]["quantity"] = 3
    response = supplier_sandbox.create_order(changed, idempotency_key="k-409")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert error["details"]["order_id"] == first.json()["id"]
    assert len(supplier_sandbox.state.orders) == 1


def test_idempotency_key_is_required(supplier_sandbox: SupplierSandbox) -> None:
    response = requests.post(f"{supplier_sandbox.url}/v1/orders", json=sample_order(),
                             headers=supplier_sandbox.headers(), timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"


def test_ten_concurrent_creates_with_one_key_make_one_order(
        supplier_sandbox: SupplierSandbox) -> None:
    barrier = threading.Barrier(10)
    responses: list[requests.Response] = []
    lock = threading.Lock()

    def create() -> None:
        barrier.wait()
        response = supplier_sandbox.create_order(idempotency_key="same-key-for-all")
        with lock:
            responses.append(response)

    threads = [threading.Thread(target=create) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(r.status_code for r in responses) == [200] * 9 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(supplier_sandbox.state.orders) == 1
    assert supplier_sandbox.state.stock["MUG-CERAMIC-11OZ"] == 500 - 2


def test_validation_errors_list_every_field(supplier_sandbox: SupplierSandbox) -> None:
    body = sample_order()
    del body["recipient"]["city"]
    body["external_reference"]["order_number"] = ""
    body["lines"] = [{"supplier_sku": "MUG-CERAMIC-11OZ", "quantity": 0},
                     {"quantity": True}]
    response = supplier_sandbox.create_order(body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    fields = {(f["field"], f["code"]) for f in error["details"]["fields"]}
    assert fields == {
        ("external_reference.order_number", "required"),
        ("recipient.city", "required"),
        ("lines[0].quantity", "invalid_quantity"),
        ("lines[1].supplier_sku", "required"),
        ("lines[1].quantity", "invalid_quantity"),
    }


def test_non_json_body_is_a_400(supplier_sandbox: SupplierSandbox) -> None:
    response = requests.post(f"{supplier_sandbox.url}/v1/orders", data="not json",
                             headers=supplier_sandbox.headers("k"), timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_unknown_sku_is_a_field_error(supplier_sandbox: SupplierSandbox) -> None:
    body = sample_order()
    body["lines"].append({"supplier_sku": "NOPE-1", "quantity": 1})
    response = supplier_sandbox.create_order(body)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"] == [
        {"field": "lines[2].supplier_sku", "code": "unknown_sku",
         "message": "no product 'NOPE-1' in the catalog"}]


def test_out_of_stock_rejects_the_whole_order_and_a_retry_after_restock_succeeds(
        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.seed_stock({"TEE-BLACK-M": 0})
    response = supplier_sandbox.create_order(idempotency_key="oos-1")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "out_of_stock"
    assert error["details"]["lines"] == [
        {"supplier_sku": "TEE-BLACK-M", "requested": 1, "available": 0}]
    assert supplier_sandbox.state.orders == {}
    assert supplier_sandbox.state.stock["MUG-CERAMIC-11OZ"] == 500  # nothing reserved

    supplier_sandbox.state.seed_stock(**{"TEE-BLACK-M": 5})
    retry = supplier_sandbox.create_order(idempotency_key="oos-1")
    assert retry.status_code == 201
    assert supplier_sandbox.state.stock["TEE-BLACK-M"] == 4


def test_quantities_of_repeated_skus_add_up_against_stock(
        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.seed_stock(**{"LAMP-SUNSET-02": 3})
    body = sample_order()
    body["lines"] = [{"supplier_sku": "LAMP-SUNSET-02", "quantity": 2}] * 2
    response = supplier_sandbox.create_order(body)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["lines"][0]["requested"] == 4


@pytest.mark.parametrize(("country", "postcode", "province"), [
    ("US", "6270", "IL"), ("US", "62704-12", "IL"), ("GB", "SW1A 1A", ""),
    ("DE", "1011", ""), ("FR", "750011", ""), ("CA", "K1A-0B1", "ON"), ("NL", "1012", ""),
])
def test_postcodes_of_the_wrong_shape_are_rejected(
        supplier_sandbox: SupplierSandbox, country: str, postcode: str, province: str) -> None:
    body = sample_order(country=country, postcode=postcode, province=province)
    response = supplier_sandbox.create_order(body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_address"
    assert {"field": "recipient.postcode", "code": "invalid_postcode"}.items() <= \
        error["details"]["fields"][0].items()


@pytest.mark.parametrize(("country", "postcode", "province"), [
    ("US", "62704", "IL"), ("US", "62704-1234", "IL"), ("GB", "SW1A 1AA", ""),
    ("GB", "m1 1ae", ""), ("DE", "10115", ""), ("FR", "75001", ""), ("CA", "K1A 0B1", "ON"),
    ("NL", "1012 AB", ""), ("IE", "", ""),
])
def test_well_formed_postcodes_are_accepted(
        supplier_sandbox: SupplierSandbox, country: str, postcode: str, province: str) -> None:
    body = sample_order(country=country, postcode=postcode, province=province)
    assert supplier_sandbox.create_order(body).status_code == 201


def test_missing_house_number_and_state_are_reported_per_field(
        supplier_sandbox: SupplierSandbox) -> None:
    body = sample_order(address1="Evergreen Terrace", address2="", province="")
    response = supplier_sandbox.create_order(body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_address"
    assert {(f["field"], f["code"]) for f in error["details"]["fields"]} == {
        ("recipient.address1", "missing_house_number"), ("recipient.province", "missing_province")}


def test_po_box_counts_as_a_deliverable_street_line(supplier_sandbox: SupplierSandbox) -> None:
    body = sample_order(address1="PO Box 12", address2="")
    assert supplier_sandbox.create_order(body).status_code == 201


def test_a_second_order_for_the_same_reference_is_a_409(
        supplier_sandbox: SupplierSandbox) -> None:
    first = supplier_sandbox.create_order(idempotency_key="a")
    second = supplier_sandbox.create_order(idempotency_key="b")
    assert second.status_code == 409
    assert second.json()["error"] == {
        "code": "duplicate_order",
        "message": "an order with this external reference exists already",
        "details": {"order_id": first.json()["id"]}}


def test_unknown_order_is_404_and_orders_are_private_to_their_key(
        supplier_sandbox: SupplierSandbox) -> None:
    order_id = supplier_sandbox.create_order().json()["id"]
    missing = requests.get(f"{supplier_sandbox.url}/v1/orders/SO999999",
                           headers=supplier_sandbox.headers(), timeout=5)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "order_not_found"
    supplier_sandbox.state.add_api_key("sk_test_other_store")
    other = requests.get(f"{supplier_sandbox.url}/v1/orders/{order_id}",
                         headers={"Authorization": "Bearer sk_test_other_store"}, timeout=5)
    assert other.status_code == 404


def test_order_moves_from_received_to_processing_by_the_clock(
        supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.seed_scenario("no_tracking")
    order_id = supplier_sandbox.create_order().json()["id"]
    assert supplier_sandbox.get_order(order_id)["status"] == "received"
    supplier_sandbox.clock.advance(timedelta(hours=2))
    order = supplier_sandbox.get_order(order_id)
    assert order["status"] == "processing"
    assert [e["status"] for e in order["events"]] == ["received", "processing"]


def test_cancel_before_shipping_restocks_and_after_shipping_is_refused(
        supplier_sandbox: SupplierSandbox) -> None:
    state = supplier_sandbox.state
    state.seed_scenario("normal", count=2)
    first = supplier_sandbox.create_order(sample_order("#1")).json()["id"]
    second = supplier_sandbox.create_order(sample_order("#2")).json()["id"]
    cancel = requests.post(f"{supplier_sandbox.url}/v1/orders/{first}/cancel",
                           headers=supplier_sandbox.headers(), timeout=5)
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "cancelled"
    assert state.stock["MUG-CERAMIC-11OZ"] == 500 - 2

    supplier_sandbox.clock.advance(timedelta(days=5))
    assert supplier_sandbox.get_order(first)["parcels"] == []
    refused = requests.post(f"{supplier_sandbox.url}/v1/orders/{second}/cancel",
                            headers=supplier_sandbox.headers(), timeout=5)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "order_not_cancellable"


def test_hold_and_release_replan_the_shipment(supplier_sandbox: SupplierSandbox) -> None:
    state = supplier_sandbox.state
    state.seed_scenario("normal")
    order_id = supplier_sandbox.create_order().json()["id"]
    state.hold_order(order_id, "payment_review")
    supplier_sandbox.clock.advance(timedelta(days=5))
    held = supplier_sandbox.get_order(order_id)
    assert (held["status"], held["status_reason"], held["parcels"]) == (
        "on_hold", "payment_review", [])
    state.release_order(order_id)
    assert supplier_sandbox.get_order(order_id)["status"] == "received"
    supplier_sandbox.clock.advance(timedelta(days=4))
    assert supplier_sandbox.get_order(order_id)["status"] == "shipped"
