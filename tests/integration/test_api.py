"""The JSON API: bearer tokens scoped to one store, cursor pages, alerts, OpenAPI."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from core.domain import Payment
from core.status import Status
from integration.accounts import owners as accounts
from integration.accounts import stores
from integration.kernel.runtime import Runtime
from integration.storage.accounts import ApiToken
from integration.storage.models import Alert
from tests.integration.test_admin_data import Shop, build_shop


@pytest.fixture
def shop(runtime: Runtime) -> Shop:
    return build_shop(runtime)


def issue(shop: Shop, store_id: int) -> str:
    with shop.runtime.db.write() as session:
        return accounts.create_token(session, store_id, "test", shop.clock.now()).token


def get(client: FlaskClient, path: str, token: str) -> Any:
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def two_stores(shop: Shop) -> tuple[str, str, int, int]:
    other = stores.add_shopify_store(shop.runtime, "other.myshopify.com", "tok", "secret")
    with shop.runtime.db.write() as session:
        from integration.storage.models import SkuMapping

        session.add(SkuMapping(store_id=other, sku="LAMP", supplier_id=shop.supplier_id,
                               created_at=shop.clock.now()))
    mine = shop.place("#1001")
    theirs = shop.place("#7001", store_id=other)
    return issue(shop, shop.store_id), issue(shop, other), mine, theirs


def test_no_token_or_a_bad_one_gets_401_json(client: FlaskClient, shop: Shop) -> None:
    missing = client.get("/api/v1/orders")
    assert missing.status_code == 401 and missing.get_json()["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(client, "/orders", "dt_not-a-real-token").status_code == 401


def test_a_token_reads_its_own_store_only(client: FlaskClient,
                                          two_stores: tuple[str, str, int, int]) -> None:
    token_a, token_b, order_a, order_b = two_stores
    assert [o["number"] for o in get(client, "/orders", token_a).get_json()["data"]] == ["#1001"]
    assert [o["number"] for o in get(client, "/orders", token_b).get_json()["data"]] == ["#7001"]
    assert get(client, f"/orders/{order_a}", token_a).status_code == 200
    assert get(client, f"/orders/{order_b}", token_a).status_code == 404
    assert get(client, f"/orders/{order_a}", token_b).status_code == 404
    assert get(client, "/store", token_b).get_json()["domain"] == "other.myshopify.com"


def test_tokens_are_stored_hashed_and_can_be_revoked(client: FlaskClient, shop: Shop) -> None:
    token = issue(shop, shop.store_id)
    with shop.runtime.db.write() as session:
        row = session.scalars(select(ApiToken)).one()
        assert token not in (row.token_hash, row.prefix) and len(row.token_hash) == 64
        accounts.revoke_token(session, row.id, shop.clock.now())
    assert get(client, "/orders", token).status_code == 401


def test_orders_page_with_a_cursor(client: FlaskClient, shop: Shop) -> None:
    for number in range(1001, 1006):
        shop.place(f"#{number}")
    token = issue(shop, shop.store_id)
    first = get(client, "/orders?limit=2", token).get_json()
    second = get(client, f"/orders?limit=2&cursor={first['next_cursor']}", token).get_json()
    assert [o["number"] for o in first["data"]] == ["#1005", "#1004"]
    assert [o["number"] for o in second["data"]] == ["#1003", "#1002"]
    assert get(client, "/orders?cursor=abc", token).status_code == 400
    assert get(client, "/orders?limit=1000", token).status_code == 400


def test_order_detail_has_shipments_and_timeline(client: FlaskClient, shop: Shop) -> None:
    order_id = shop.place("#1001")
    shop.ship(order_id, "LX123456785CN", ("a", Status.IN_TRANSIT, 1, None, "Hub"))
    body = get(client, f"/orders/{order_id}", issue(shop, shop.store_id)).get_json()
    assert body["shipments"][0]["tracking_number"] == "LX123456785CN"
    assert any(item["kind"] == "tracking" for item in body["timeline"])


def test_alerts_list_and_resolve(client: FlaskClient, two_stores: tuple[str, str, int, int],
                                 shop: Shop) -> None:
    token_a, token_b, _, _ = two_stores
    shop.place("#1002", payment=Payment.AWAITING)
    [alert] = get(client, "/alerts", token_a).get_json()["data"]
    assert alert["kind"] == "payment_issue" and alert["order_number"] == "#1002"
    assert get(client, "/alerts", token_b).get_json()["data"] == []
    forbidden = client.post(f"/api/v1/alerts/{alert['id']}/resolve", json={},
                            headers={"Authorization": f"Bearer {token_b}"})
    assert forbidden.status_code == 404
    done = client.post(f"/api/v1/alerts/{alert['id']}/resolve", json={"note": "paid"},
                       headers={"Authorization": f"Bearer {token_a}"})
    assert done.status_code == 200
    with shop.runtime.db.read() as session:
        assert session.get_one(Alert, alert["id"]).resolved_at is not None
    again = client.post(f"/api/v1/alerts/{alert['id']}/resolve", json={},
                        headers={"Authorization": f"Bearer {token_a}"})
    assert again.status_code == 409


def test_responses_match_the_openapi_document(client: FlaskClient, shop: Shop) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"].startswith("3.1")
    order_id = shop.place("#1001")
    shop.ship(order_id, "LX123456785CN", ("a", Status.IN_TRANSIT, 1, None, "Hub"))
    shop.place("#1002", payment=Payment.AWAITING)
    token = issue(shop, shop.store_id)
    for path, template in (("/orders", "/orders"), (f"/orders/{order_id}", "/orders/{order_id}"),
                           ("/shipments", "/shipments"), ("/alerts", "/alerts"),
                           ("/store", "/store")):
        schema = document["paths"][template]["get"]["responses"]["200"]["content"][
            "application/json"]["schema"]
        resolver_schema = {**schema, "components": document["components"]}
        jsonschema.validate(get(client, path, token).get_json(), resolver_schema)
