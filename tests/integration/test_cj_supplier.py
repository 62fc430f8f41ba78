"""CJdropshipping end to end over real HTTP: the store's order -> stock, price and freight
checks -> one CJ order (paid from the balance, or held for the owner) -> CJ's tracking numbers
-> written back to the Shopify and WooCommerce sandboxes; exactly once with a second worker,
a restart mid-create and a timeout after create; and every fault as a clear state."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from connectors.suppliers.cjdropshipping.client import CJSupplier
from core.errors import PermanentError, RetryableError
from integration.accounts.suppliers import connector_for
from integration.engine.forwarding import POLL_JOB, forward_order
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, Order, OutboxJob, SkuMapping, Supplier, SupplierOrder
from sandboxes.shopify.webhooks import order_payload
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_cj import MUG_BLACK, MUG_WHITE, CJSandbox, add_cj_supplier
from tests.helpers.shopify_connector import (  # noqa: F401  (fixtures)
    ShopifyLink,
    loopback_settings,
    shopify_limiter_fixture,
    shopify_link_fixture,
)
from tests.helpers.webhook_fixtures import shopify_headers
from tests.helpers.woo_backends import sandbox_backend


def link_sku(runtime: Runtime, store_id: int, sku: str, supplier_id: int, vid: str,
             limit: str | None = None) -> None:
    with runtime.db.write() as session:
        mapping = session.scalar(select(SkuMapping).where(SkuMapping.store_id == store_id,
                                                          SkuMapping.sku == sku))
        if mapping is None:
            mapping = SkuMapping(store_id=store_id, sku=sku, supplier_id=supplier_id,
                                 created_at=runtime.clock.now())
            session.add(mapping)
        mapping.supplier_id, mapping.supplier_variant_id = supplier_id, vid
        mapping.max_unit_price = Decimal(limit) if limit else None


def poll(runtime: Runtime) -> None:
    """The scheduler's poll of every forwarded CJ order (one job per supplier order)."""
    with runtime.db.write() as session:
        for row in session.scalars(select(SupplierOrder)):
            outbox.enqueue(session, POLL_JOB, f"poll:{row.id}:{runtime.clock.now()}",
                           {"supplier_order_id": row.id}, runtime.clock.now())
    run_jobs(runtime, POLL_JOB)


def order_state(runtime: Runtime) -> tuple[str, str | None, str, str | None]:
    with runtime.db.read() as session:
        order = session.scalars(select(Order)).one()
        supplier_order = session.scalars(select(SupplierOrder)).one()
        return (order.status, order.reason, supplier_order.status, supplier_order.reason)


def open_alerts(runtime: Runtime) -> list[str]:
    with runtime.db.read() as session:
        return [a.message for a in session.scalars(select(Alert).where(
            Alert.resolved_at.is_(None)))]


@pytest.fixture
def shop(shopify_link: ShopifyLink, cj_sandbox: CJSandbox) -> tuple[ShopifyLink, int]:
    supplier_id = add_cj_supplier(shopify_link.runtime, cj_sandbox)
    link_sku(shopify_link.runtime, shopify_link.store_id, "CASE-1", supplier_id, MUG_WHITE)
    return shopify_link, supplier_id


BRAZIL = {"first_name": "Ana", "last_name": "Silva", "name": "Ana Silva",
          "address1": "Avenida Paulista 1578", "city": "São Paulo", "zip": "01310-200",
          "country": "Brazil", "country_code": "BR", "province": "São Paulo",
          "province_code": "SP"}
PO_BOX = {"first_name": "Bob", "last_name": "Norman", "name": "Bob Norman",
          "address1": "PO Box 1234", "city": "Louisville", "zip": "40202",
          "country": "United States", "country_code": "US", "province": "Kentucky",
          "province_code": "KY"}


def place(link: ShopifyLink, client: FlaskClient, quantity: int = 2,
          address: dict[str, str] | None = None) -> None:
    """A paid Shopify order, delivered as Shopify's signed orders/paid webhook."""
    state = link.seeded.sandbox.state
    order = state.place_order(link.seeded.domain, shipping_address=address, items=[
        {"title": "Mug", "quantity": quantity, "price": "12.50", "sku": "CASE-1"}])
    body = json.dumps(order_payload(state, state.orders[order.id])).encode()
    response = client.post("/webhooks/shopify", data=body, headers=shopify_headers(
        body, secret=link.seeded.app.client_secret, shop=link.seeded.domain,
        topic="orders/paid", webhook_id=f"wh-{order.id}"))
    assert response.status_code == 200, response.get_data(as_text=True)
    run_jobs(link.runtime, "inbox.process")


def test_shopify_order_goes_to_cj_once_paid_split_and_written_back(
        shop: tuple[ShopifyLink, int], cj_sandbox: CJSandbox, client: FlaskClient) -> None:
    link, _ = shop
    runtime = link.runtime
    place(link, client)
    assert run_jobs(runtime, "supplier.forward") == 1
    [cj_order] = cj_sandbox.state.orders.values()
    assert cj_order.status == "UNSHIPPED"  # paid from the balance (the owner allowed it)
    assert cj_order.order_num == f"{link.store_id}-1001"
    assert cj_order.body["logisticName"] == "Royal Mail"  # from freightCalculate to GB
    assert cj_order.body["products"] == [{"vid": MUG_WHITE, "quantity": 2}]
    assert cj_sandbox.state.accounts[cj_sandbox.api_key].balance == Decimal("491.60")
    assert order_state(runtime)[:3] == ("processing", None, "forwarded")

    numbers = cj_sandbox.state.ship(cj_order.order_id)
    poll(runtime)
    run_jobs(runtime, "store.writeback")
    fulfillments = list(link.seeded.sandbox.state.fulfillments.values())
    written = sorted(str(t.number) for f in fulfillments for t in f.tracking)
    assert written == sorted(numbers)
    poll(runtime)  # the same answer again changes nothing
    assert run_jobs(runtime, "store.writeback") == 0
    assert len(link.seeded.sandbox.state.fulfillments) == len(fulfillments)
    assert cj_sandbox.state.create_calls == 1 and len(cj_sandbox.state.orders) == 1
    with runtime.db.read() as session:  # the tokens CJ issued are kept, encrypted
        row = session.scalars(select(Supplier).where(Supplier.kind == "cj")).one()
        assert cj_sandbox.api_key not in (row.credentials_encrypted or "")
        assert "tokens" in runtime.secrets.decrypt_json(row.credentials_encrypted or "")
    assert cj_sandbox.state.token_calls == ["get"]  # one token for every call


def test_woocommerce_order_held_for_the_owner_to_pay_at_cj(
        runtime: Runtime, cj_sandbox: CJSandbox, wc_sandbox_https: object) -> None:
    from integration.accounts import stores
    from integration.storage.models import Store
    from tests.integration.test_woocommerce_scenarios import bring_in, place_order, tracking_items

    backend = sandbox_backend(wc_sandbox_https)  # type: ignore[arg-type]
    store_id = stores.add_woocommerce_store(runtime, backend.url, *backend.key, "hook-secret")
    with runtime.db.write() as session:
        session.get_one(Store, store_id).settings = {
            "woocommerce": {"ca_bundle": backend.ca_file}}
    supplier_id = add_cj_supplier(runtime, cj_sandbox, pay_from_balance=False)
    link_sku(runtime, store_id, "MUG-1", supplier_id, MUG_WHITE)
    woo_order = place_order(backend, ("MUG-1",))
    bring_in(runtime, store_id, backend, woo_order)
    run_jobs(runtime, "supplier.forward")
    [cj_order] = cj_sandbox.state.orders.values()
    assert cj_order.status == "CREATED" and cj_order.body["payType"] == 3
    assert order_state(runtime) == ("pending", "awaiting_supplier_payment",
                                    "awaiting_payment", "awaiting_supplier_payment")
    [alert] = open_alerts(runtime)
    assert "not paid: pay at CJ" in alert
    poll(runtime)  # still unpaid: still held, nothing sent again
    assert order_state(runtime)[0] == "pending" and cj_sandbox.state.create_calls == 1

    cj_sandbox.state.pay(cj_order.order_id)  # the owner pays at CJ
    poll(runtime)
    assert order_state(runtime)[:3] == ("processing", None, "forwarded")
    assert open_alerts(runtime) == []
    numbers = cj_sandbox.state.ship(cj_order.order_id, parcels=2)  # CJ splits it
    poll(runtime)
    run_jobs(runtime, "store.writeback")
    assert sorted(item["tracking_number"] for item in tracking_items(backend, woo_order)) == \
        sorted(numbers)
    poll(runtime)
    assert run_jobs(runtime, "store.writeback") == 0


def _claimed(runtime: Runtime) -> ClaimedJob:
    with runtime.db.read() as session:
        job = session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "supplier.forward")).one()
        return ClaimedJob(id=job.id, kind=job.kind, idempotency_key=job.idempotency_key,
                          payload=job.payload, store_id=job.store_id, attempt=1,
                          lease_owner="worker-a")


def test_one_cj_order_with_a_second_worker_a_restart_and_a_timeout(
        shop: tuple[ShopifyLink, int], cj_sandbox: CJSandbox, client: FlaskClient) -> None:
    link, supplier_id = shop
    runtime = link.runtime
    place(link, client)
    claimed = _claimed(runtime)
    # Two workers run the same forward at once (a lease that expired mid-create).
    errors: list[BaseException] = []

    def work() -> None:
        try:
            forward_order(runtime, claimed)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert errors == [] and len(cj_sandbox.state.orders) == 1
    assert order_state(runtime)[2] == "forwarded"

    # A restart mid-create: CJ has the order, DropTrack's row says "queued" (never recorded).
    with runtime.db.write() as session:
        session.scalars(select(SupplierOrder)).one().status = "queued"
    forward_order(runtime, claimed)
    assert len(cj_sandbox.state.orders) == 1 and order_state(runtime)[2] == "forwarded"

    # A timeout after CJ created it: the answer never arrives, the order is found, not doubled.
    cj_sandbox.state.orders.clear()  # (so that this create is a new one at CJ)
    with runtime.db.write() as session:
        session.scalars(select(SupplierOrder)).one().status = "queued"
        row = session.get_one(Supplier, supplier_id)
        row.settings = {**row.settings, "timeout_seconds": 0.3}
    creates = cj_sandbox.state.create_calls
    cj_sandbox.state.create_delay_seconds = 0.8
    forward_order(runtime, claimed)
    assert cj_sandbox.state.create_calls == creates + 1 and len(cj_sandbox.state.orders) == 1
    assert order_state(runtime)[2] == "forwarded"


@pytest.mark.parametrize(("case", "expect"), [
    ("out_of_stock", ("pending", "out_of_stock", "rejected", "out_of_stock")),
    ("no_shipping", ("pending", "no_shipping_method", "rejected", "no_shipping_method")),
    ("price", ("pending", "price_above_limit", "rejected", "price_above_limit")),
    ("address", ("pending", "address_needs_confirmation", "rejected", "invalid_address")),
])
def test_what_cj_cannot_do_holds_the_order_with_a_reason(
        case: str, expect: tuple[str, ...], shop: tuple[ShopifyLink, int],
        cj_sandbox: CJSandbox, client: FlaskClient) -> None:
    link, supplier_id = shop
    runtime = link.runtime
    if case == "out_of_stock":
        link_sku(runtime, link.store_id, "CASE-1", supplier_id, MUG_BLACK)
    if case == "price":
        link_sku(runtime, link.store_id, "CASE-1", supplier_id, MUG_WHITE, limit="4.00")
    place(link, client, address=BRAZIL if case == "no_shipping" else
          PO_BOX if case == "address" else None)
    run_jobs(runtime, "supplier.forward")
    assert order_state(runtime) == expect
    # Nothing reached CJ except for the address, which only createOrderV2 can refuse.
    assert cj_sandbox.state.create_calls == (1 if case == "address" else 0)
    assert cj_sandbox.state.orders == {}
    assert open_alerts(runtime), "the owner is told"


def test_cj_cancels_and_the_order_waits_for_the_owner(
        shop: tuple[ShopifyLink, int], cj_sandbox: CJSandbox, client: FlaskClient) -> None:
    link, _ = shop
    place(link, client)
    run_jobs(link.runtime, "supplier.forward")
    [cj_order] = cj_sandbox.state.orders.values()
    cj_sandbox.state.cancel(cj_order.order_id)
    poll(link.runtime)
    assert order_state(link.runtime) == ("pending", "supplier_cancelled", "rejected",
                                         "supplier_cancelled")
    assert any("CJ cancelled it" in message for message in open_alerts(link.runtime))


# --- the account: tokens and limits -----------------------------------------------------------


def _connector(runtime: Runtime, supplier_id: int) -> CJSupplier:
    with runtime.db.read() as session:
        row = session.get_one(Supplier, supplier_id)
        session.expunge(row)
    connector = connector_for(runtime, row)
    assert isinstance(connector, CJSupplier)
    return connector


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The process's request limiter on a clock the test moves (its waits move it too)."""
    from connectors.request_limits import InProcessRequestLimiter
    from integration.limits import choice

    now = [1000.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(choice, "_PROCESS_REQUEST_LIMITER",
                        InProcessRequestLimiter(now=lambda: now[0], sleep=sleep))
    return now


def test_tokens_are_refreshed_before_expiry_and_after_a_revocation(
        runtime: Runtime, cj_sandbox: CJSandbox, fake_time: list[float]) -> None:
    from core.clock import FrozenClock

    clock = FrozenClock(runtime.clock.now())
    runtime.clock = clock
    supplier_id = add_cj_supplier(runtime, cj_sandbox)
    _connector(runtime, supplier_id).balance()
    clock.advance(timedelta(days=14, hours=1))  # less than a day left: refreshed first
    _connector(runtime, supplier_id).balance()
    assert cj_sandbox.state.token_calls == ["get", "refresh"]
    cj_sandbox.state.revoke_tokens(cj_sandbox.api_key)  # CJ drops the access token
    with pytest.raises(RetryableError, match="wait"):  # refreshes are spaced (5 a minute)
        _connector(runtime, supplier_id).balance()
    fake_time[0] += 12
    _connector(runtime, supplier_id).balance()
    assert cj_sandbox.state.token_calls == ["get", "refresh", "refresh"]
    # Refresh token gone too: a new pair from the API key, but not twice in 5 minutes.
    cj_sandbox.state.revoke_tokens(cj_sandbox.api_key, refresh_too=True)
    cj_sandbox.state.accounts[cj_sandbox.api_key].last_get_token = None
    fake_time[0] += 300
    _connector(runtime, supplier_id).balance()
    assert cj_sandbox.state.token_calls[-1] == "get"
    cj_sandbox.state.revoke_tokens(cj_sandbox.api_key, refresh_too=True)
    with pytest.raises(RetryableError, match="wait"):
        _connector(runtime, supplier_id).balance()
    # The key itself revoked: a permanent problem naming it (the owner's alert).
    cj_sandbox.state.accounts[cj_sandbox.api_key].revoked = True
    fake_time[0] += 300
    with pytest.raises(PermanentError, match="Authorization failed"):
        _connector(runtime, supplier_id).balance()


def test_qps_and_daily_limits_are_one_budget_for_every_caller(
        runtime: Runtime, cj_sandbox: CJSandbox, fake_time: list[float]) -> None:
    supplier_id = add_cj_supplier(runtime, cj_sandbox)
    account = cj_sandbox.state.accounts[cj_sandbox.api_key]
    connector, other = _connector(runtime, supplier_id), _connector(runtime, supplier_id)
    connector.balance()
    account.qps = 1.0  # a level-0 account; DropTrack was told it may send more
    with pytest.raises(RetryableError, match="too many requests per second") as qps:
        connector.balance()
    assert qps.value.throttled and qps.value.retry_after_seconds == 1.0
    before = fake_time[0]
    account.calls.clear()
    other.balance()  # a second worker waits out the pause CJ asked for, then goes
    assert fake_time[0] - before >= 1.0
    account.qps, account.daily_limit = 1000.0, 1
    account.daily.clear()
    connector.balance()  # the one call of the day
    with pytest.raises(RetryableError, match="daily request limit") as daily:
        connector.balance()
    assert daily.value.retry_after_seconds and daily.value.retry_after_seconds > 60
    calls = dict(account.daily)
    with pytest.raises(RetryableError):  # paused for everyone until 00:00 UTC
        other.balance()
    assert account.daily == calls  # without even asking CJ


def test_a_cj_order_message_is_a_hint_to_poll_the_truth(
        shop: tuple[ShopifyLink, int], cj_sandbox: CJSandbox, client: FlaskClient) -> None:
    link, supplier_id = shop
    runtime = link.runtime
    place(link, client)
    run_jobs(runtime, "supplier.forward")
    [cj_order] = cj_sandbox.state.orders.values()
    [number] = cj_sandbox.state.ship(cj_order.order_id)
    with runtime.db.read() as session:
        row = session.get_one(Supplier, supplier_id)
        token = runtime.secrets.decrypt(row.webhook_secret_encrypted or "")
    message = json.dumps({"messageId": "ca72a4834cd14b9588e88ce206f614a0", "type": "ORDER",
                          "messageType": "UPDATE", "params": {
                              "orderId": cj_order.order_id, "orderStatus": "SHIPPED",
                              "trackNumber": "FORGED123"}}).encode()
    wrong = client.post(f"/webhooks/cj/{supplier_id}/{'x' * 43}", data=message,
                        content_type="application/json")
    assert wrong.status_code == 401
    for _ in range(2):  # CJ redelivers: stored once
        ack = client.post(f"/webhooks/cj/{supplier_id}/{token}", data=message,
                          content_type="application/json")
        assert ack.status_code == 200 and ack.get_json()["result"] == "success"
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, POLL_JOB) == 1  # one poll, of CJ's own answer
    with runtime.db.read() as session:
        from integration.storage.models import Shipment

        numbers = list(session.scalars(select(Shipment.tracking_number)))
    assert numbers == [number]  # the pushed number was never taken as a fact
    # Registration (done on connect when DropTrack's public URL is https): ORDER + LOGISTIC.
    _connector(runtime, supplier_id).set_webhooks("https://shop.example/webhooks/cj/1/t")
    assert {topic: hook["callbackUrls"] for topic, hook in cj_sandbox.state.webhooks.items()} \
        == {"order": ["https://shop.example/webhooks/cj/1/t"],
            "logistics": ["https://shop.example/webhooks/cj/1/t"]}


def test_a_revoked_cj_key_is_an_owner_alert_and_nothing_is_lost(
        shop: tuple[ShopifyLink, int], cj_sandbox: CJSandbox, client: FlaskClient) -> None:
    link, _ = shop
    cj_sandbox.state.accounts[cj_sandbox.api_key].revoked = True  # the owner deleted the key
    place(link, client)
    run_jobs(link.runtime, "supplier.forward")
    assert cj_sandbox.state.orders == {}
    assert order_state(link.runtime)[2] == "queued"  # still there, to forward once fixed
    assert any("Authorization failed" in message for message in open_alerts(link.runtime))
