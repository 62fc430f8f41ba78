"""DropTrack's WooCommerce scenarios, each run against the sandbox and against a real
WordPress 6.8.8 + WooCommerce 10.0.2 (HPOS) + Advanced Shipment Tracking 3.9.2 store (the
realstore kit, `-m realstore` selects only those). Same steps, same expected outcomes: the
numbers in the test names are the differences issue 22 found between the two.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from connectors.parsing import timestamp
from connectors.store_base import StoreAccess
from connectors.woocommerce import mapper
from connectors.woocommerce.connection import check_connection
from connectors.woocommerce.connector import WooCommerceConnector, build
from core.domain import CarrierEvent
from core.status import Status
from integration.accounts import owners, stores
from integration.accounts.suppliers import add_rest_supplier
from integration.base.config import Settings
from integration.engine.forwarding import POLL_JOB
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    Binding,
    InboxDelivery,
    Order,
    OutboxJob,
    Shipment,
    SkuMapping,
    Store,
    Supplier,
    SupplierOrder,
)
from integration.sync.woocommerce import deleted, reconcile, statuses, webhooks
from integration.sync.woocommerce import store as woocommerce_sync
from sandboxes.server import BackgroundServer
from sandboxes.tls import make_tls
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_supplier import SupplierSandbox
from tests.helpers.woo_backends import ADDRESS, WooBackend, wait_for

pytestmark = pytest.mark.timeout(600)  # the real store's first start installs packages

NUMBER = "LX123456785CN"  # a valid China Post S10 number: DropTrack names it "China Post / ePacket"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def public(runtime: Runtime, live_url: str) -> Iterator[str]:
    """DropTrack's public URL is the live test server, so the store can deliver to it."""
    app_settings = runtime.settings.app.model_copy(update={"public_url": live_url})
    runtime.settings = runtime.settings.model_copy(update={"app": app_settings})
    yield live_url


# -- steps -------------------------------------------------------------------------------------

def connect(runtime: Runtime, backend: WooBackend, key: tuple[str, str] | None = None) -> int:
    consumer_key, consumer_secret = key or backend.key
    store_id = stores.add_woocommerce_store(runtime, backend.url, consumer_key,
                                            consumer_secret, "hook-secret")
    with runtime.db.write() as session:
        session.get_one(Store, store_id).settings = {
            "woocommerce": {"ca_bundle": backend.ca_file}}
    return store_id


def access(backend: WooBackend, key: tuple[str, str] | None = None) -> StoreAccess:
    consumer_key, consumer_secret = key or backend.key
    return StoreAccess(store_id=1, platform="woocommerce", domain=backend.url,
                       credentials={"consumer_key": consumer_key,
                                    "consumer_secret": consumer_secret},
                       settings={"woocommerce": {"ca_bundle": backend.ca_file}},
                       allow_loopback_http=True, save_credentials=lambda _: None)


def connector(backend: WooBackend) -> WooCommerceConnector:
    return build(access(backend))


def place_order(backend: WooBackend, skus: tuple[str, ...]) -> int:
    shipping = {k: v for k, v in ADDRESS.items() if k not in ("email", "phone")}
    order = backend.rest("POST", "orders", {
        "status": "processing", "set_paid": True, "billing": ADDRESS, "shipping": shipping,
        "line_items": [{"product_id": backend.products[sku], "quantity": 1} for sku in skus]})
    return int(order["id"])


def store_order(backend: WooBackend, order_id: int) -> dict[str, object]:
    data: dict[str, object] = backend.rest("GET", f"orders/{order_id}")
    return data


def bring_in(runtime: Runtime, store_id: int, backend: WooBackend, order_id: int) -> int:
    """The order as a webhook or reconciliation brings it: read, mapped, imported."""
    parsed, problems = mapper.parse_order(backend.rest("GET", f"orders/{order_id}"))
    assert parsed is not None, problems
    with runtime.db.write() as session:
        return import_order(session, store_id, parsed, runtime.clock.now()).order_id


def suppliers_for(runtime: Runtime, store_id: int, *skus: str) -> None:
    """One supplier per SKU."""
    with runtime.db.write() as session:
        for sku in skus:
            supplier = Supplier(name=f"Supplier {sku}", kind="rest",
                                created_at=runtime.clock.now())
            session.add(supplier)
            session.flush()
            session.add(SkuMapping(store_id=store_id, sku=sku, supplier_id=supplier.id,
                                   created_at=runtime.clock.now()))


def ship(runtime: Runtime, order_id: int, sku: str, *, shipped_at: datetime,
         number: str = NUMBER, status: Status = Status.INFO_RECEIVED) -> None:
    """The supplier of `sku` reports a parcel (a test double at the supplier edge), and
    DropTrack writes it back to the store."""
    with runtime.db.write() as session:
        supplier_order = session.scalars(
            select(SupplierOrder).join(Supplier, Supplier.id == SupplierOrder.supplier_id)
            .where(SupplierOrder.order_id == order_id, Supplier.name == f"Supplier {sku}")).one()
        apply_parcel_update(session, ParcelUpdate(
            supplier_order.id, f"P-{sku}", number, carrier="China Post",
            events=[CarrierEvent(f"e-{sku}-{status}", status, shipped_at)]),
            runtime.clock.now())
    run_jobs(runtime, "store.writeback")


def sweep(runtime: Runtime, kind: str) -> None:
    """One run of a timed sweep's job for every store (a fresh job each call: calls within
    one interval bucket of `queue_for_every_store` would be one job)."""
    with runtime.db.write() as session:
        store_ids = list(session.scalars(select(Store.id)))
        for store_id in store_ids:
            outbox.enqueue(session, kind, f"{kind}:{store_id}:{uuid.uuid4().hex}",
                           {"store_id": store_id}, runtime.clock.now(), store_id=store_id)
    assert run_jobs(runtime, kind) == len(store_ids)


def flush_statuses(runtime: Runtime) -> None:
    sweep(runtime, statuses.FLUSH_STATUSES_JOB)


def tracking_items(backend: WooBackend, order_id: int) -> list[dict[str, str]]:
    items: list[dict[str, str]] = backend.rest(
        "GET", f"orders/{order_id}/shipment-trackings", namespace="wc-shipment-tracking/v3")
    return items


def check_webhooks(runtime: Runtime) -> None:
    sweep(runtime, webhooks.WEBHOOK_HEALTH_JOB)


def our_webhooks(backend: WooBackend, public: str) -> dict[str, dict[str, object]]:
    hooks = backend.rest("GET", "webhooks", params={"status": "all", "per_page": 100})
    return {str(h["topic"]): h for h in hooks if str(h["delivery_url"]).startswith(public)}


# -- the main path: webhooks, holds, forwarding, tracking and notes ---------------------------

def test_webhooks_bring_orders_in_held_until_paid_and_the_customer_is_told(
        runtime: Runtime, woo_backend: WooBackend, public: str) -> None:
    """The store's own webhooks bring an unpaid order in: it is held, nothing goes to the
    supplier. Paid in the store, the next delivery releases it to the supplier; its parcel
    then shows on the order with a customer note."""
    store_id = connect(runtime, woo_backend)
    suppliers_for(runtime, store_id, "MUG-1")
    check_webhooks(runtime)
    shipping = {k: v for k, v in ADDRESS.items() if k not in ("email", "phone")}
    order_id = int(woo_backend.rest("POST", "orders", {
        "status": "pending", "billing": ADDRESS, "shipping": shipping,
        "line_items": [{"product_id": woo_backend.products["MUG-1"], "quantity": 1}]})["id"])

    def imported(status: Status) -> Order | None:
        run_jobs(runtime, "inbox.process")
        with runtime.db.read() as session:
            order = session.scalars(select(Order).where(Order.store_id == store_id,
                                                        Order.number == str(order_id))).first()
            return order if order is not None and order.status == status else None

    held = wait_for(woo_backend, lambda: imported(Status.PENDING),
                    "the unpaid order arriving by webhook")
    with runtime.db.read() as session:
        assert session.scalars(select(SupplierOrder)).all() == []
    woo_backend.next_second()
    woo_backend.rest("PUT", f"orders/{order_id}", {"status": "processing", "set_paid": True})
    wait_for(woo_backend, lambda: imported(Status.PROCESSING),
             "the paid order's delivery releasing it")
    with runtime.db.read() as session:
        assert len(session.scalars(select(SupplierOrder).where(
            SupplierOrder.order_id == held.id)).all()) == 1
    ship(runtime, held.id, "MUG-1", shipped_at=runtime.clock.now())
    assert [item["tracking_number"] for item in tracking_items(woo_backend, order_id)] == [
        NUMBER]
    notes = woo_backend.rest("GET", f"orders/{order_id}/notes", params={"type": "customer"})
    assert [note["note"] for note in notes if NUMBER in note["note"]] == [
        "Your order has shipped with China Post / ePacket, tracking number "
        f"{NUMBER}. Tracking updates can take a day or two to appear."]


# -- 1: partial shipments and AST's status -----------------------------------------------------

@pytest.mark.parametrize("partial_shipped", [False, True], ids=["ast-status-off", "ast-status-on"])
def test_1_a_partly_shipped_order_never_becomes_pending_payment(
        runtime: Runtime, woo_backend: WooBackend, partial_shipped: bool) -> None:
    """Two suppliers, one has shipped: the store shows "Partially Shipped" where AST has that
    status switched on, and stays "Processing" where it is off (as on a fresh install);
    orders/batch would have turned the unknown status into "Pending payment"."""
    woo_backend.set_partial_shipped(partial_shipped)
    try:
        store_id = connect(runtime, woo_backend)
        suppliers_for(runtime, store_id, "TENT-2P", "LAMP-1")
        order_id = place_order(woo_backend, ("TENT-2P", "LAMP-1"))
        ours = bring_in(runtime, store_id, woo_backend, order_id)
        ship(runtime, ours, "TENT-2P", shipped_at=runtime.clock.now())
        flush_statuses(runtime)
        shown = store_order(woo_backend, order_id)
        assert shown["status"] == ("partial-shipped" if partial_shipped else "processing")
        assert shown["needs_payment"] is False
    finally:
        woo_backend.set_partial_shipped(False)


def test_1_a_status_switched_off_after_the_probe_is_put_back_not_left_pending(
        runtime: Runtime, woo_backend: WooBackend) -> None:
    """DropTrack probed the status while it was on; the merchant switched it off; the next
    batch finds out from the store's answer, puts the order back and probes again."""
    woo_backend.set_partial_shipped(True)
    store_id = connect(runtime, woo_backend)
    suppliers_for(runtime, store_id, "TENT-2P", "LAMP-1")
    order_id = place_order(woo_backend, ("TENT-2P", "LAMP-1"))
    ours = bring_in(runtime, store_id, woo_backend, order_id)
    ship(runtime, ours, "TENT-2P", shipped_at=runtime.clock.now())  # probes: status on
    woo_backend.set_partial_shipped(False)
    flush_statuses(runtime)
    assert store_order(woo_backend, order_id)["status"] == "processing"
    with runtime.db.read() as session:
        section = session.get_one(Store, store_id).settings["woocommerce"]
    assert "partial-shipped" not in section["capabilities"]["statuses"]
    assert "did not accept the status 'partial-shipped'" in section["health"]["problem"]


# -- 2: reconciliation across orders modified in the same second -------------------------------

def test_2_reconciliation_reads_every_order_once_when_many_share_a_second(
        runtime: Runtime, woo_backend: WooBackend) -> None:
    """150 orders saved in the same second (as a bulk edit or import does): paging through
    the changes yields each exactly once, and the reconciliation job imports them all."""
    store_id = connect(runtime, woo_backend)
    created: list[int] = []
    for _ in range(2):
        answer = woo_backend.rest("POST", "orders/batch", {"create": [
            {"status": "processing", "set_paid": True, "billing": ADDRESS,
             "line_items": [{"product_id": woo_backend.products["MUG-1"], "quantity": 1}]}
            for _ in range(75)]})
        created += [int(item["id"]) for item in answer["create"]]
    woo_backend.share_modified_second(created)
    last = timestamp(store_order(woo_backend, created[0])["date_modified_gmt"])
    assert last is not None
    since = last - timedelta(seconds=1)
    seen: list[int] = []
    cursor: str | None = None
    shop = connector(woo_backend)
    while True:
        page = shop.orders_modified_since(since, cursor)
        seen += [int(order.external_id) for order in page.orders]
        cursor = page.next_cursor
        if cursor is None:
            break
    mine = [order_id for order_id in seen if order_id in set(created)]
    assert sorted(mine) == sorted(created), (
        f"missing {sorted(set(created) - set(mine))}, repeated "
        f"{sorted({i for i in mine if mine.count(i) > 1})}")
    with runtime.db.write() as session:
        row = session.get_one(Store, store_id)
        row.settings = {**row.settings, "woocommerce": {
            **row.settings["woocommerce"], "reconciled_until": since.isoformat()}}
    sweep(runtime, reconcile.RECONCILE_JOB)
    with runtime.db.read() as session:
        imported = set(session.scalars(select(Order.number)))
    assert {str(order_id) for order_id in created} <= imported


# -- 3: a disabled webhook's failure count -----------------------------------------------------

def test_3_a_webhook_disabled_by_failures_comes_back_with_a_clean_count(
        runtime: Runtime, woo_backend: WooBackend, public: str) -> None:
    """WooCommerce disabled DropTrack's webhook after failed deliveries. The health sweep
    brings it back so that a single failure more does not disable it again (setting it to
    active would have kept the count, and the next failure would disable it)."""
    connect(runtime, woo_backend)
    check_webhooks(runtime)
    updated = our_webhooks(woo_backend, public)["order.updated"]
    woo_backend.mark_webhook_failed(int(str(updated["id"])), failures=6)
    check_webhooks(runtime)
    back = our_webhooks(woo_backend, public)["order.updated"]
    assert back["status"] == "active"
    assert woo_backend.failure_count(int(str(back["id"]))) == 0


# -- 4: a deleted order's queued delivery ------------------------------------------------------

def test_4_a_deleted_orders_delivery_is_acknowledged_and_the_order_withdrawn(
        runtime: Runtime, woo_backend: WooBackend, public: str) -> None:
    """The order changed and was deleted before WooCommerce sent the delivery: the body is
    the REST error for an invalid id. DropTrack answers 200 (a refusal counts towards the
    webhook being disabled) and withdraws the order."""
    store_id = connect(runtime, woo_backend)
    suppliers_for(runtime, store_id, "MUG-1")
    order_id = place_order(woo_backend, ("MUG-1",))
    ours = bring_in(runtime, store_id, woo_backend, order_id)
    check_webhooks(runtime)
    woo_backend.rest("PUT", f"orders/{order_id}", {"customer_note": "leave at the door"})
    woo_backend.rest("DELETE", f"orders/{order_id}", params={"force": "true"})

    def received() -> InboxDelivery | None:
        with runtime.db.read() as session:
            return session.scalars(select(InboxDelivery).where(
                InboxDelivery.store_id == store_id,
                InboxDelivery.dedupe_key.contains("deleted-before-delivery"))).first()

    wait_for(woo_backend, received, "the deleted order's delivery reaching DropTrack's inbox")
    hook = our_webhooks(woo_backend, public)["order.updated"]
    assert woo_backend.failure_count(int(str(hook["id"]))) == 0
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, deleted.WITHDRAW_DELETED_JOB) >= 1
    with runtime.db.read() as session:
        assert session.get_one(Order, ours).status == Status.CANCELLED


def test_4_a_trashed_order_is_withdrawn_by_reconciliation(
        runtime: Runtime, woo_backend: WooBackend) -> None:
    """A trashed order stays readable with status "trash": DropTrack withdraws it."""
    store_id = connect(runtime, woo_backend)
    suppliers_for(runtime, store_id, "MUG-1")
    order_id = place_order(woo_backend, ("MUG-1",))
    ours = bring_in(runtime, store_id, woo_backend, order_id)
    woo_backend.next_second()
    woo_backend.rest("DELETE", f"orders/{order_id}")
    assert store_order(woo_backend, order_id)["status"] == "trash"
    bring_in(runtime, store_id, woo_backend, order_id)
    with runtime.db.read() as session:
        assert session.get_one(Order, ours).status == Status.CANCELLED


def test_4_the_flush_lists_every_order_changed_since_trashed_ones_too(
        woo_backend: WooBackend) -> None:
    """What a status flush trusts its remembered statuses on (issue 20): the orders modified
    after a moment, each with its status and modification time. An order put on hold and one
    trashed since are both listed (WordPress's status "any" leaves trash out: a second
    listing); one untouched since is not."""
    placed = [place_order(woo_backend, ("MUG-1",)) for _ in range(3)]
    kept, held, trashed = placed
    since = max(filter(None, (timestamp(store_order(woo_backend, order_id)["date_modified_gmt"])
                              for order_id in placed)))
    woo_backend.next_second()
    woo_backend.rest("PUT", f"orders/{held}", {"status": "on-hold"})
    woo_backend.rest("DELETE", f"orders/{trashed}")
    changed = connector(woo_backend).statuses_changed_since(since, max_pages=4)
    assert changed is not None
    ours = {int(order_id): sight for order_id, sight in changed.items()
            if int(order_id) in placed}
    assert {order_id: status for order_id, (status, _) in ours.items()} == {
        held: "on-hold", trashed: "trash"}
    assert all(modified is not None and modified > since for _, modified in ours.values())
    assert kept not in ours


# -- 5 and 6: the tracking item AST shows ------------------------------------------------------

def test_5_the_tracking_item_names_asts_own_provider(
        runtime: Runtime, woo_backend: WooBackend) -> None:
    """DropTrack's "China Post / ePacket" is AST's "China Post": the item links to it, and
    AST does not store an unknown name as its provider (which it then shows empty)."""
    store_id = connect(runtime, woo_backend)
    suppliers_for(runtime, store_id, "LAMP-1")
    order_id = place_order(woo_backend, ("LAMP-1",))
    ours = bring_in(runtime, store_id, woo_backend, order_id)
    ship(runtime, ours, "LAMP-1", shipped_at=runtime.clock.now())
    [item] = tracking_items(woo_backend, order_id)
    assert item["tracking_number"] == NUMBER
    assert item["tracking_provider"] == "China Post"
    assert NUMBER in item["tracking_link"]


def test_6_the_ship_date_is_the_day_the_parcel_shipped(
        runtime: Runtime, woo_backend: WooBackend) -> None:
    """A fresh AST has an empty API date format and replaces `date_shipped` with today;
    DropTrack puts the real day back."""
    store_id = connect(runtime, woo_backend)
    suppliers_for(runtime, store_id, "LAMP-1")
    order_id = place_order(woo_backend, ("LAMP-1",))
    ours = bring_in(runtime, store_id, woo_backend, order_id)
    shipped = runtime.clock.now() - timedelta(days=3)
    ship(runtime, ours, "LAMP-1", shipped_at=shipped)
    [item] = tracking_items(woo_backend, order_id)
    assert item["date_shipped"] == shipped.date().isoformat()


# -- 8: the smaller differences ----------------------------------------------------------------

def test_8_the_capability_probe_downloads_only_the_namespaces(woo_backend: WooBackend) -> None:
    before = len(woo_backend.index_queries())
    report = check_connection(access(woo_backend))
    assert report.ok, report.summary()
    queries = woo_backend.index_queries()[before:]
    assert queries and all(q.get("_fields") == "namespaces" for q in queries), queries


def test_8_a_read_only_key_does_not_pass_the_connection_test(woo_backend: WooBackend) -> None:
    report = check_connection(access(woo_backend, woo_backend.readonly_key))
    assert not report.ok
    assert "write" in report.summary().lower()
    assert check_connection(access(woo_backend)).ok


def test_8_a_paused_webhook_is_not_reported_healthy(
        runtime: Runtime, woo_backend: WooBackend, public: str) -> None:
    store_id = connect(runtime, woo_backend)
    check_webhooks(runtime)
    updated = our_webhooks(woo_backend, public)["order.updated"]
    woo_backend.rest("PUT", f"webhooks/{updated['id']}", {"status": "paused"})
    check_webhooks(runtime)
    with runtime.db.read() as session:
        health = session.get_one(Store, store_id).settings["woocommerce"]["health"]
    assert health["ok"] is False
    assert "order.updated webhook is paused" in health["problem"]
    assert our_webhooks(woo_backend, public)["order.updated"]["status"] == "paused"



def dead_jobs(runtime: Runtime) -> list[str]:
    with runtime.db.read() as session:
        return list(session.scalars(select(OutboxJob.kind).where(OutboxJob.state == "dead")))


def test_8_wrong_keys_are_one_alert_not_a_failed_job_per_sweep(
        runtime: Runtime, woo_backend: WooBackend) -> None:
    store_id = connect(runtime, woo_backend, key=(woo_backend.key[0], "cs_" + "0" * 40))
    for _ in range(2):  # two reconciliation sweeps
        sweep(runtime, reconcile.RECONCILE_JOB)
    assert dead_jobs(runtime) == []
    with runtime.db.read() as session:
        refused = list(session.scalars(select(Alert).where(
            Alert.kind == woocommerce_sync.KEYS_REFUSED, Alert.store_id == store_id)))
        health = session.get_one(Store, store_id).settings["woocommerce"]["health"]
    assert len(refused) == 1 and "refused DropTrack's API keys" in refused[0].message
    assert health["ok"] is False


def test_8_write_backs_a_read_only_key_stopped_resume_once_the_key_works(
        runtime: Runtime, woo_backend: WooBackend, public: str) -> None:
    store_id = connect(runtime, woo_backend, key=woo_backend.readonly_key)
    suppliers_for(runtime, store_id, "LAMP-1")
    order_id = place_order(woo_backend, ("LAMP-1",))
    ours = bring_in(runtime, store_id, woo_backend, order_id)
    ship(runtime, ours, "LAMP-1", shipped_at=runtime.clock.now())
    assert dead_jobs(runtime) == ["store.writeback"]
    assert tracking_items(woo_backend, order_id) == []
    # The owner gives the key write permission (here: DropTrack is given the read/write one).
    with runtime.db.write() as session:
        session.get_one(Store, store_id).credentials_encrypted = runtime.secrets.encrypt_json(
            {"consumer_key": woo_backend.key[0], "consumer_secret": woo_backend.key[1]})
    check_webhooks(runtime)
    assert run_jobs(runtime, "store.writeback") == 1
    assert [item["tracking_number"] for item in tracking_items(woo_backend, order_id)] == [
        NUMBER]


def poll_until(runtime: Runtime, supplier: SupplierSandbox, parcels: int) -> None:
    """Let the supplier's days pass, polling it as the tracking sweep does, until DropTrack
    knows `parcels` parcels."""
    for _ in range(40):  # 40 x 6 h: ten days
        with runtime.db.write() as session:
            known = len(session.scalars(select(Shipment.id)).all())
            if known >= parcels:
                assert known == parcels
                return
            for supplier_order_id in session.scalars(select(SupplierOrder.id)):
                outbox.enqueue(session, POLL_JOB, f"poll:{uuid.uuid4().hex}",
                               {"supplier_order_id": supplier_order_id}, runtime.clock.now())
        run_jobs(runtime, POLL_JOB)
        supplier.clock.advance(timedelta(hours=6))
    raise AssertionError(f"the supplier never shipped {parcels} parcels")


def test_8_a_split_shipment_completes_only_when_every_line_has_shipped(
        runtime: Runtime, woo_backend: WooBackend, supplier_sandbox: SupplierSandbox) -> None:
    """One supplier (the reference supplier sandbox) ships a two-line order in two parcels,
    days apart. After the first, the supplier reports line 2 unshipped: the order stays
    "Processing" (AST's "Partially Shipped" is off, as on a fresh install; test 1 covers it
    on), with the first parcel's tracking shown; it is completed only once the second parcel
    has left."""
    runtime.clock = supplier_sandbox.clock
    store_id = connect(runtime, woo_backend)
    supplier_id = add_rest_supplier(runtime, "Split supplier", supplier_sandbox.url,
                                    supplier_sandbox.api_key)
    with runtime.db.write() as session:
        for sku, supplier_sku in (("TENT-2P", "MUG-CERAMIC-11OZ"), ("LAMP-1", "TEE-BLACK-M")):
            session.add(SkuMapping(store_id=store_id, sku=sku, supplier_sku=supplier_sku,
                                   supplier_id=supplier_id, created_at=runtime.clock.now()))
    supplier_sandbox.state.seed_scenario("split_shipment")
    order_id = place_order(woo_backend, ("TENT-2P", "LAMP-1"))
    ours = bring_in(runtime, store_id, woo_backend, order_id)
    assert run_jobs(runtime, "supplier.forward") == 1

    poll_until(runtime, supplier_sandbox, parcels=1)
    with runtime.db.read() as session:
        external = session.scalars(select(Binding.external_id).where(
            Binding.kind == "supplier_order")).one()
    reported = supplier_sandbox.get_order(external)
    assert [line["shipped"] for line in reported["lines"]] == [True, False]
    run_jobs(runtime, "store.writeback")
    flush_statuses(runtime)
    shown = store_order(woo_backend, order_id)
    assert (shown["status"], shown["needs_payment"]) == ("processing", False)
    assert len(tracking_items(woo_backend, order_id)) == 1
    with runtime.db.read() as session:
        assert session.get_one(Order, ours).status == Status.PROCESSING

    poll_until(runtime, supplier_sandbox, parcels=2)
    run_jobs(runtime, "store.writeback")
    flush_statuses(runtime)
    assert store_order(woo_backend, order_id)["status"] == "completed"
    assert len(tracking_items(woo_backend, order_id)) == 2


# -- 7: the key request's callback must be https -------------------------------------------------

def test_7_an_http_callback_is_refused_by_the_store(woo_backend: WooBackend) -> None:
    """What DropTrack asked for over plain http (loopback included): WooCommerce refuses it
    before anything else, with "Access denied" (401)."""
    for callback in ("http://127.0.0.1:8080/woocommerce/connect/callback",
                     "http://droptrack.example.test/woocommerce/connect/callback"):
        refused = requests.get(f"{woo_backend.url}/wc-auth/v1/authorize", params={
            "app_name": "DropTrack", "scope": "read_write", "user_id": "u1",
            "return_url": "http://127.0.0.1:8080/woocommerce/connect/return",
            "callback_url": callback}, verify=woo_backend.ca_file, timeout=60,
            allow_redirects=False)
        assert refused.status_code == 401, callback
        assert "Error: The callback_url needs to be over SSL." in refused.text


def test_7_https_connect_through_the_stores_key_request(
        runtime: Runtime, woo_backend: WooBackend, app: Flask, tmp_path: Path) -> None:
    """DropTrack is published over plain http (public_url) and also served over https on
    the same host, as the demo does. The owner connects the store on the https address:
    DropTrack names that as the callback (over http the store would refuse it), the store's
    admin approves, the store posts the keys there, and the setup job creates the webhooks."""
    tls = make_tls("localhost", "127.0.0.1")
    trust = tmp_path / "droptrack-and-store-ca.pem"  # the owner's browser trusts both
    trust.write_bytes(tls.ca_pem + Path(woo_backend.ca_file).read_bytes())
    verify = str(trust)
    with BackgroundServer(app) as plain, BackgroundServer(
            app, ssl_context=tls.server_context) as secure:
        app_settings = runtime.settings.app.model_copy(update={"public_url": plain.url})
        runtime.settings = runtime.settings.model_copy(update={"app": app_settings})
        owner = requests.Session()
        with runtime.db.write() as session:
            owners.create_user(session, "owner@example.test", "correct horse battery",
                               runtime.clock.now())
        login = owner.get(f"{secure.url}/admin/login", verify=verify, timeout=30)
        owner.post(f"{secure.url}/admin/login", verify=verify, timeout=30, data={
            "email": "owner@example.test", "password": "correct horse battery",
            "csrf_token": csrf_token(login.text)})
        confirm = owner.get(f"{secure.url}/woocommerce/connect", verify=verify,
                            params={"store_url": woo_backend.url}, timeout=30)
        assert confirm.status_code == 200, confirm.text[:500]
        started = owner.post(f"{secure.url}/woocommerce/connect", verify=verify, timeout=30,
                             allow_redirects=False, data={
                                 "store_url": woo_backend.url, "confirm": "yes",
                                 "csrf_token": csrf_token(confirm.text)})
        authorize = started.headers["Location"]
        assert parse_qs(urlsplit(authorize).query)["callback_url"] == [
            f"{secure.url}/woocommerce/connect/callback"]
        done = woo_backend.approve_key_request(owner, authorize, verify)
        assert done.status_code == 200 and "Your store is connected" in done.text, (
            done.url, done.text[:500])
        with runtime.db.write() as session:
            store = session.scalars(select(Store).where(Store.domain == woo_backend.url)).one()
            keys = runtime.secrets.decrypt_json(store.credentials_encrypted or "")
            store.settings = {"woocommerce": {"ca_bundle": woo_backend.ca_file}}
        assert check_connection(access(woo_backend, (str(keys["consumer_key"]),
                                                     str(keys["consumer_secret"])))).ok
        # Deliveries may go to the http address: only the key request needs https.
        assert run_jobs(runtime, webhooks.WEBHOOK_HEALTH_JOB) == 1
        assert {"order.created", "order.updated"} <= set(our_webhooks(woo_backend, plain.url))


def csrf_token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None, page[:500]
    return found.group(1)
