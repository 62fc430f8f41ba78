"""A Shopify store's life around the orders: custom-app connection, token renewal before
expiry, uninstall (work stops, tokens are dropped) and the three compliance topics."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from connectors.shopify.tokens import CLIENT_CREDENTIALS
from core.domain import CarrierEvent
from core.status import Status
from integration.accounts import owners, stores
from integration.jobs import inbox
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    AuditLog,
    Binding,
    InboxDelivery,
    Order,
    OutboxJob,
    Shipment,
    Store,
)
from integration.sync.shopify.install import connect_custom_app
from integration.sync.shopify.tokens import (
    RENEW_TOKEN_JOB,
    forget_uninstalled_tokens,
    queue_token_renewals,
)
from integration.sync.shopify.webhooks import check_webhooks
from sandboxes.shopify.state import Order as SandboxOrder
from tests.helpers.jobs import run_jobs
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    let_live_server_settle,
    loopback_settings,
    shopify_limiter_fixture,
    shopify_link_fixture,
)
from tests.integration.test_admin_dashboard import sign_in, token
from tests.integration.test_admin_data import OWNER_EMAIL, OWNER_PASSWORD

DAY = timedelta(days=1)


def use_public_url(runtime: Runtime, url: str) -> None:
    runtime.settings = runtime.settings.model_copy(update={
        "app": runtime.settings.app.model_copy(update={"public_url": url})})


def use_admin_base(runtime: Runtime, url: str) -> None:
    runtime.settings = runtime.settings.model_copy(update={
        "shopify": runtime.settings.shopify.model_copy(update={"admin_base_url": url})})


def test_a_custom_app_connects_with_client_credentials(shopify_link: ShopifyLink) -> None:
    runtime, sandbox = shopify_link.runtime, shopify_link.seeded.sandbox
    use_admin_base(runtime, sandbox.public_url)
    custom = sandbox.state.create_app(name="Merchant's own", custom=True)
    shop = sandbox.state.create_shop("own-app-shop")
    store_id = connect_custom_app(runtime, shop.domain, custom.client_id, custom.client_secret)
    with runtime.db.read() as session:
        store = session.get_one(Store, store_id)
        credentials = runtime.secrets.decrypt_json(store.credentials_encrypted or "")
    assert credentials["kind"] == CLIENT_CREDENTIALS
    assert sandbox.state.authenticate(shop.domain, credentials["access_token"]) is not None
    # Client credentials tokens last ~24 h; 10 minutes before, the sweep exchanges again.
    expires = datetime.fromisoformat(credentials["expires_at"])
    # (86399 s from Shopify, counted from when DropTrack read the answer)
    assert timedelta(hours=23, minutes=59) < expires - shopify_link.clock.now() <= timedelta(
        seconds=86399)
    shopify_link.clock.advance(timedelta(hours=23, minutes=51))
    assert queue_token_renewals(runtime) >= 1  # this store's, and the fixture's own
    assert run_jobs(runtime, RENEW_TOKEN_JOB) >= 1
    with runtime.db.read() as session:
        renewed = runtime.secrets.decrypt_json(
            session.get_one(Store, store_id).credentials_encrypted or "")
    assert renewed["access_token"] != credentials["access_token"]
    assert sandbox.state.authenticate(shop.domain, renewed["access_token"]) is not None


def test_a_public_apps_credentials_cannot_connect_as_custom(shopify_link: ShopifyLink) -> None:
    runtime, sandbox = shopify_link.runtime, shopify_link.seeded.sandbox
    use_admin_base(runtime, sandbox.public_url)
    with pytest.raises(stores.StoreError, match="custom"):
        connect_custom_app(runtime, shopify_link.seeded.domain,
                           shopify_link.seeded.app.client_id,
                           shopify_link.seeded.app.client_secret)
    with pytest.raises(stores.StoreError, match="myshopify"):
        connect_custom_app(runtime, "shop.example.com", "id", "secret")


def test_tokens_are_renewed_before_they_expire(shopify_link: ShopifyLink) -> None:
    old = shopify_link.credentials()
    assert queue_token_renewals(shopify_link.runtime) == 0  # 60 minutes left: nothing queued
    assert shopify_link.credentials().access_token == old.access_token
    shopify_link.clock.advance(timedelta(minutes=52))
    # The sweep only queues; the job renews (and a second job for the same store does not).
    assert queue_token_renewals(shopify_link.runtime) == 1
    shopify_link.clock.advance(timedelta(minutes=1))
    assert queue_token_renewals(shopify_link.runtime) == 1
    assert shopify_link.credentials().access_token == old.access_token
    assert run_jobs(shopify_link.runtime, RENEW_TOKEN_JOB) == 1
    new = shopify_link.credentials()
    assert run_jobs(shopify_link.runtime, RENEW_TOKEN_JOB) == 1  # the second one renews nothing
    assert shopify_link.credentials().access_token == new.access_token
    assert new.access_token != old.access_token
    assert new.expires is not None
    lifetime = new.expires - shopify_link.clock.now()
    assert timedelta(minutes=59) < lifetime <= timedelta(hours=1)
    state = shopify_link.seeded.sandbox.state
    assert state.authenticate(shopify_link.seeded.domain, new.access_token) is not None
    shopify_link.clock.advance(timedelta(minutes=30))  # the old one would have expired now
    assert state.authenticate(shopify_link.seeded.domain, old.access_token) is None


def test_uninstall_stops_work_and_drops_the_tokens(shopify_link: ShopifyLink,
                                                   live_url: str) -> None:
    runtime, seeded = shopify_link.runtime, shopify_link.seeded
    use_public_url(runtime, live_url)
    check_webhooks(runtime)
    run_jobs(runtime, "shopify.webhooks.ensure")
    order = seeded.sandbox.state.place_order(seeded.domain)
    shopify_link.import_sandbox_order(order)
    seeded.sandbox.webhooks.deliveries.clear()
    seeded.sandbox.state.uninstall(seeded.domain, seeded.app.client_id)
    [delivery] = seeded.sandbox.webhooks.deliver_due()
    assert delivery.topic == "app/uninstalled" and delivery.state == "delivered"
    let_live_server_settle()
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, "shopify.uninstall.confirm") == 1  # Shopify refuses the token
    forget_uninstalled_tokens(runtime)
    store = shopify_link.store()
    assert store.state == "uninstalled" and store.credentials_encrypted is None
    assert store.webhook_secret_encrypted  # compliance webhooks still verify
    calls = shopify_link.sandbox_usage.calls
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, shopify_link.clock.now() + DAY))
    run_jobs(runtime, "store.writeback")
    assert shopify_link.sandbox_usage.calls == calls  # nothing sent to Shopify any more
    with runtime.db.read() as session:
        assert "store.tokens_revoked" in session.scalars(select(AuditLog.action)).all()


def customer_order(link: ShopifyLink, email: str) -> SandboxOrder:
    order = link.seeded.sandbox.state.place_order(link.seeded.domain, email=email)
    link.import_sandbox_order(order)
    return order


def compliance(link: ShopifyLink, topic: str, payload: dict[str, object]) -> None:
    """The delivery as the intake stores it, then the jobs that act on it."""
    runtime = link.runtime
    inbox.record_directly(runtime.db, inbox.Delivery(
        source="shopify", store_id=link.store_id, topic=topic, dedupe_key=f"c:{topic}",
        headers={}, body=json.dumps(payload).encode()), link.clock.now())
    assert run_jobs(runtime, "inbox.process") == 1
    run_jobs(runtime, "compliance.redact")
    with runtime.db.read() as session:
        assert session.scalars(select(OutboxJob).where(
            OutboxJob.kind.in_(("inbox.process", "compliance.redact")),
            OutboxJob.state != "done")).all() == []


def test_a_customer_data_request_gives_the_owner_an_export(shopify_link: ShopifyLink) -> None:
    mine = customer_order(shopify_link, "ada@example.com")
    customer_order(shopify_link, "other@example.com")
    compliance(shopify_link, "customers/data_request", {
        "shop_id": 1, "shop_domain": shopify_link.seeded.domain,
        "customer": {"id": 7, "email": "ada@example.com", "phone": None},
        "orders_requested": [mine.id], "data_request": {"id": 9999}})
    with shopify_link.runtime.db.read() as session:
        entry = session.scalars(select(AuditLog).where(
            AuditLog.action == "compliance.customer_data_request")).one()
        alert = session.scalars(select(Alert)).one()
    exported = entry.details["export"]["orders"]
    assert [o["email"] for o in exported] == ["ada@example.com"]
    assert exported[0]["shipping_address"]["name"] == "Ada Lovelace"
    assert "9999" in alert.message and "1 order" in alert.message


def test_customers_redact_erases_personal_data_and_keeps_the_facts(
        shopify_link: ShopifyLink) -> None:
    mine = customer_order(shopify_link, "ada@example.com")
    customer_order(shopify_link, "other@example.com")
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, shopify_link.clock.now() + DAY))
    with shopify_link.runtime.db.write() as session:
        session.add(InboxDelivery(source="shopify", store_id=shopify_link.store_id,
                                  topic="orders/create", dedupe_key="x",
                                  body=b'{"email": "ada@example.com"}',
                                  received_at=shopify_link.clock.now()))
    compliance(shopify_link, "customers/redact", {
        "shop_id": 1, "shop_domain": shopify_link.seeded.domain,
        "customer": {"id": 7, "email": "ada@example.com"}, "orders_to_redact": [mine.id]})
    with shopify_link.runtime.db.read() as session:
        orders = {o.number: o for o in session.scalars(select(Order))}
        redacted = orders[mine.name]
        assert (redacted.email, redacted.customer_name, redacted.ship_name,
                redacted.ship_address1, redacted.ship_city, redacted.ship_zip) == (
            "", "", "", "", "", "")
        assert redacted.ship_country == "GB" and redacted.total is not None
        assert [line.quantity for line in redacted.lines] == [1]
        assert session.scalars(select(Shipment)).one().tracking_number == "LX123456785CN"
        others = [o for o in orders.values() if o.id != redacted.id]
        assert [o.email for o in others] == ["other@example.com"]
        assert session.scalars(select(InboxDelivery).where(
            InboxDelivery.topic == "orders/create")).one().body == b"{}"
        entry = session.scalars(select(AuditLog).where(
            AuditLog.action == "compliance.customer_redacted")).one()
        assert "ada@example.com" not in json.dumps(entry.details)


def test_shop_redact_deletes_the_shops_data(shopify_link: ShopifyLink) -> None:
    customer_order(shopify_link, "ada@example.com")
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, shopify_link.clock.now() + DAY))
    compliance(shopify_link, "shop/redact", {"shop_id": 1,
                                             "shop_domain": shopify_link.seeded.domain})
    with shopify_link.runtime.db.read() as session:
        assert session.scalars(select(Store)).all() == []
        assert session.scalars(select(Order)).all() == []
        assert session.scalars(select(Shipment)).all() == []
        assert session.scalars(select(Binding).where(Binding.owner_type == "store")).all() == []
        entry = session.scalars(select(AuditLog).where(
            AuditLog.action == "compliance.shop_redacted")).one()
    assert entry.subject == shopify_link.seeded.domain


def test_compliance_deliveries_are_accepted_by_the_webhook_endpoint(
        shopify_link: ShopifyLink, live_url: str) -> None:
    seeded = shopify_link.seeded
    seeded.app.compliance_url = live_url + "/webhooks/shopify"
    for topic in ("customers/data_request", "customers/redact", "shop/redact"):
        seeded.sandbox.webhooks.trigger_compliance(seeded.domain, seeded.app.client_id, topic)
    delivered = seeded.sandbox.webhooks.deliver_due()
    assert [d.state for d in delivered] == ["delivered"] * 3
    with shopify_link.runtime.db.read() as session:
        topics = sorted(session.scalars(select(InboxDelivery.topic)))
    assert topics == ["customers/data_request", "customers/redact", "shop/redact"]
    let_live_server_settle()


def test_a_token_that_cannot_be_renewed_disconnects_the_store_and_nothing_is_lost(
        shopify_link: ShopifyLink, live_url: str) -> None:
    """Client credentials, over real HTTP: order webhook → fulfillment written → the token
    expires and the app's secret was rotated in the Dev Dashboard → renewal refused →
    disconnected, the write-back waits → the owner connects again with the new secret → it
    lands, once."""
    runtime, seeded = shopify_link.runtime, shopify_link.seeded
    state = seeded.sandbox.state
    use_admin_base(runtime, seeded.sandbox.public_url)
    use_public_url(runtime, live_url)
    seeded.app.custom = True  # a Dev Dashboard app installed on the owner's own store
    assert connect_custom_app(runtime, seeded.domain, seeded.app.client_id,
                              seeded.app.client_secret) == shopify_link.store_id
    assert run_jobs(runtime, "shopify.webhooks.ensure") == 1
    seeded.sandbox.webhooks.deliveries.clear()
    state.place_order(seeded.domain)
    delivered = seeded.sandbox.webhooks.deliver_due()
    assert "orders/create" in [d.topic for d in delivered]
    assert {d.state for d in delivered} == {"delivered"}
    let_live_server_settle()
    assert run_jobs(runtime, "inbox.process") >= 1
    with runtime.db.read() as session:
        assert len(session.scalars(select(Order)).all()) == 1
    now = shopify_link.clock.now()
    shopify_link.ship(CarrierEvent("e1", Status.IN_TRANSIT, now + DAY))
    assert run_jobs(runtime, "store.writeback") == 1
    [fulfillment] = state.fulfillments.values()
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT"]

    seeded.app.client_secret = "shpss_rotated_in_the_dev_dashboard"
    shopify_link.clock.advance(timedelta(hours=24))  # the 86,399 s token has expired
    shopify_link.ship(CarrierEvent("e2", Status.DELIVERED, now + 2 * DAY))
    assert run_jobs(runtime, "store.writeback") == 1  # 401 → renewal refused (invalid_client)
    store = shopify_link.store()
    assert store.state == stores.DISCONNECTED and store.credentials_encrypted
    with runtime.db.read() as session:
        [alert] = session.scalars(select(Alert).where(Alert.kind == "shopify_token")).all()
        assert session.scalars(select(OutboxJob).where(OutboxJob.state == "dead")).all() == []
    assert "invalid_client" in alert.message and "client secret" in alert.message
    assert "Dev Dashboard" in alert.message and "connect the store again" in alert.message
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT"]
    # Nothing renews or writes while disconnected (the sweep skips it, a write-back waits).
    assert queue_token_renewals(runtime) == 0
    calls = shopify_link.sandbox_usage.calls
    shopify_link.ship(CarrierEvent("e3", Status.DELIVERED, now + 2 * DAY + timedelta(hours=1)))
    run_jobs(runtime, "store.writeback")
    assert shopify_link.sandbox_usage.calls == calls

    with pytest.raises(stores.StoreError, match="invalid_client"):  # the old secret: refused
        connect_custom_app(runtime, seeded.domain, seeded.app.client_id, "shpss_old")
    assert shopify_link.store().state == stores.DISCONNECTED
    connect_custom_app(runtime, seeded.domain, seeded.app.client_id, seeded.app.client_secret)
    assert shopify_link.store().state == stores.ACTIVE
    assert run_jobs(runtime, "store.writeback") >= 1
    assert run_jobs(runtime, "store.writeback") == 0
    assert [e.status for e in fulfillment.events] == ["IN_TRANSIT", "DELIVERED"]
    with runtime.db.read() as session:
        assert session.get_one(Alert, alert.id).resolved_at is not None
        assert session.scalars(select(OutboxJob).where(OutboxJob.state == "dead")).all() == []
    assert "disconnected_at" not in shopify_link.store().settings


def test_a_renewal_refused_in_the_sweep_disconnects_the_store(
        shopify_link: ShopifyLink) -> None:
    runtime, seeded = shopify_link.runtime, shopify_link.seeded
    use_admin_base(runtime, seeded.sandbox.public_url)
    seeded.app.custom = True
    connect_custom_app(runtime, seeded.domain, seeded.app.client_id, seeded.app.client_secret)
    shopify_link.clock.advance(timedelta(hours=23, minutes=55))
    seeded.app.client_secret = "shpss_rotated"
    assert queue_token_renewals(runtime) == 1
    assert run_jobs(runtime, RENEW_TOKEN_JOB) == 1
    assert shopify_link.store().state == stores.DISCONNECTED
    with runtime.db.read() as session:
        assert session.scalars(select(OutboxJob).where(OutboxJob.state == "dead")).all() == []
        assert len(session.scalars(select(Alert)).all()) == 1


def test_the_stores_page_connects_and_reconnects_a_dev_dashboard_app(
        shopify_link: ShopifyLink, client: FlaskClient) -> None:
    """The dashboard's form: same code path as the CLI, over real HTTP to the sandbox's token
    endpoint; bad input is refused with a clear error and stores nothing; the secret is never
    shown back and is encrypted at rest; a disconnected store is connected again there."""
    runtime, sandbox = shopify_link.runtime, shopify_link.seeded.sandbox
    use_admin_base(runtime, sandbox.public_url)
    with runtime.db.write() as session:
        owners.create_user(session, OWNER_EMAIL, OWNER_PASSWORD, shopify_link.clock.now())
    custom = sandbox.state.create_app(name="Merchant's own", custom=True)
    shop = sandbox.state.create_shop("form-shop")

    def submit(shop_domain: str, secret: str, csrf: str | None = "/admin/stores"
               ) -> TestResponse:
        data = {"shop": shop_domain, "client_id": custom.client_id, "client_secret": secret}
        if csrf:
            data["csrf_token"] = token(client, csrf)
        return client.post("/admin/stores/shopify/app", data=data)

    before = stores.list_stores(runtime)
    signed_out = submit(shop.domain, custom.client_secret, csrf="/admin/login")
    assert signed_out.status_code == 302 and "/admin/login" in signed_out.headers["Location"]
    assert sign_in(client).status_code == 302
    assert submit(shop.domain, custom.client_secret, csrf=None).status_code == 400
    assert stores.list_stores(runtime) == before
    for bad_shop, secret, words in (
            ("https://evil.example", custom.client_secret, "myshopify.com"),
            (shop.domain, "shpss_wrong", "invalid_client"),
            (shop.domain, "", "must not be empty")):
        refused = submit(bad_shop, secret)
        page = refused.get_data(as_text=True)
        assert refused.status_code == 400 and words in page and "Nothing was saved" in page
        assert custom.client_secret not in page
    assert stores.list_stores(runtime) == before

    done = submit("form-shop", custom.client_secret)  # the handle alone is enough
    assert done.status_code == 302
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "form-shop.myshopify.com is connected" in page
    assert custom.client_secret not in page
    with runtime.db.read() as session:
        store = session.scalars(select(Store).where(Store.domain == shop.domain)).one()
        assert custom.client_secret not in (store.credentials_encrypted or "")
        actions = session.scalars(select(AuditLog.action).where(
            AuditLog.store_id == store.id)).all()
    credentials = runtime.secrets.decrypt_json(store.credentials_encrypted or "")
    assert credentials["kind"] == CLIENT_CREDENTIALS and store.state == stores.ACTIVE
    assert "store.installed" in actions

    # The secret is rotated, the renewal refused: the page says so and connects it again.
    custom.client_secret = "shpss_rotated"
    shopify_link.clock.advance(timedelta(hours=23, minutes=55))
    queue_token_renewals(runtime)
    run_jobs(runtime, RENEW_TOKEN_JOB)
    assert sign_in(client).status_code == 302  # a day later: signed out meanwhile
    page = client.get("/admin/stores").get_data(as_text=True)
    assert "Disconnected" in page and "Dev Dashboard" in page and "Connect again" in page
    assert submit(shop.domain, "shpss_old").status_code == 400
    assert submit(shop.domain, custom.client_secret).status_code == 302
    with runtime.db.read() as session:
        store = session.scalars(select(Store).where(Store.domain == shop.domain)).one()
        assert session.scalars(select(Alert).where(Alert.store_id == store.id,
                                                   Alert.resolved_at.is_(None))).all() == []
    assert store.state == stores.ACTIVE
    assert "Connect again" not in client.get("/admin/stores").get_data(as_text=True)
