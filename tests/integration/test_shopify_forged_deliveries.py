"""Shopify signs only the body, with a secret every shop of the app shares: a captured
delivery re-sent under another topic or for another shop must not act."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from integration.accounts import stores
from integration.kernel.runtime import Runtime
from integration.storage.models import AuditLog, InboxDelivery, Order, Store
from sandboxes.shopify.webhooks import shop_payload
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    loopback_settings,
    shopify_limiter_fixture,
    shopify_link_fixture,
)
from tests.helpers.webhook_fixtures import (
    SHOP,
    SHOPIFY_SECRET,
    ConnectedStore,
    shopify_headers,
    shopify_order_body,
)

OTHER_SHOP = "second-shop.myshopify.com"


def deliver(client: FlaskClient, body: bytes, topic: str, shop: str = SHOP,
            webhook_id: str = "wh-1", secret: str = SHOPIFY_SECRET) -> int:
    answer = client.post("/webhooks/shopify", data=body, headers=shopify_headers(
        body, secret=secret, webhook_id=webhook_id, topic=topic, shop=shop))
    return answer.status_code


def compliance_body(topic: str, shop: str = SHOP) -> bytes:
    body: dict[str, object] = {"shop_id": 1, "shop_domain": shop}
    if topic == "customers/redact":
        body |= {"customer": {"id": 7, "email": "jon@example.com"}, "orders_to_redact": [1]}
    if topic == "customers/data_request":
        body |= {"customer": {"id": 7, "email": "jon@example.com"}, "orders_requested": [1],
                 "data_request": {"id": 9}}
    return json.dumps(body).encode()


UNINSTALL_BODY = json.dumps({"id": 1, "name": "Drop shop", "domain": SHOP,
                             "myshopify_domain": SHOP}).encode()
REPLAYS = [
    ("an order as shop/redact", shopify_order_body(), "shop/redact"),
    ("an order as customers/redact", shopify_order_body(), "customers/redact"),
    ("an order as app/uninstalled", shopify_order_body(), "app/uninstalled"),
    ("a shop as an order", UNINSTALL_BODY, "orders/create"),
    ("shop/redact as customers/redact", compliance_body("shop/redact"), "customers/redact"),
    ("customers/redact as shop/redact", compliance_body("customers/redact"), "shop/redact"),
    ("customers/redact as a data request", compliance_body("customers/redact"),
     "customers/data_request"),
    ("a data request as customers/redact", compliance_body("customers/data_request"),
     "customers/redact"),
    ("another shop's shop/redact", compliance_body("shop/redact", OTHER_SHOP), "shop/redact"),
    ("another shop's uninstall", UNINSTALL_BODY.replace(SHOP.encode(), OTHER_SHOP.encode()),
     "app/uninstalled"),
]


@pytest.mark.parametrize(("case", "body", "topic"), REPLAYS, ids=[r[0] for r in REPLAYS])
def test_a_body_under_a_topic_or_shop_it_does_not_fit_is_refused(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore,
        case: str, body: bytes, topic: str) -> None:
    assert deliver(client, body, topic) == 400, case
    with runtime.db.read() as session:
        assert session.scalars(select(InboxDelivery)).all() == []


def test_genuine_bodies_are_accepted(client: FlaskClient, runtime: Runtime,
                                     connected_shopify: ConnectedStore) -> None:
    genuine = [(shopify_order_body(), "orders/create"), (UNINSTALL_BODY, "app/uninstalled"),
               *((compliance_body(t), t) for t in
                 ("shop/redact", "customers/redact", "customers/data_request"))]
    for number, (body, topic) in enumerate(genuine):
        assert deliver(client, body, topic, webhook_id=f"wh-{number}") == 200, topic


def test_an_order_bound_to_one_shop_never_imports_into_another(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    stores.add_shopify_store(runtime, OTHER_SHOP, "shpat_other", SHOPIFY_SECRET)  # same app
    body = shopify_order_body()
    assert deliver(client, body, "orders/create") == 200
    run_jobs(runtime, "inbox.process")
    # The same signed body, captured and re-sent in the second shop's name.
    assert deliver(client, body, "orders/create", shop=OTHER_SHOP, webhook_id="wh-2") == 200
    run_jobs(runtime, "inbox.process")
    with runtime.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1
        assert session.scalars(select(Order.store_id)).one() == connected_shopify.id
        refused = session.scalars(select(AuditLog).where(
            AuditLog.action == "webhook.foreign_order_refused")).one()
    assert refused.details["bound_to_store"] == connected_shopify.id


def test_an_uninstall_is_confirmed_with_shopify_first(shopify_link: ShopifyLink,
                                                      client: FlaskClient) -> None:
    runtime, seeded = shopify_link.runtime, shopify_link.seeded
    body = json.dumps(shop_payload(seeded.sandbox.state, seeded.domain)).encode()
    secret = seeded.app.client_secret
    # Signed and well-formed, but the app is still installed: a replay, not an uninstall.
    assert deliver(client, body, "app/uninstalled", seeded.domain, "wh-1", secret) == 200
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, "shopify.uninstall.confirm") == 1
    assert shopify_link.store().state == "active"
    with runtime.db.read() as session:
        actions = session.scalars(select(AuditLog.action)).all()
    assert "store.uninstall_not_confirmed" in actions
    # Really uninstalled: Shopify now refuses the token, and the store is marked so.
    seeded.sandbox.state.uninstall(seeded.domain, seeded.app.client_id)
    assert deliver(client, body, "app/uninstalled", seeded.domain, "wh-2", secret) == 200
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, "shopify.uninstall.confirm") == 1
    with runtime.db.read() as session:
        assert session.get_one(Store, shopify_link.store_id).state == "uninstalled"
