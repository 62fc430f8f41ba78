"""Store-level WooCommerce sync against the sandbox: batched statuses, reconciliation,
webhooks that stay alive, and the connection test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from connectors.woocommerce.connection import check_connection
from integration.accounts import stores
from integration.base.config import Settings
from integration.engine.orders import remember_store_status
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, Binding, Order, Shipment, Store
from integration.sync.reconcile import UNREADABLE_ORDER
from integration.sync.woocommerce import reconcile, statuses, webhooks
from integration.sync.woocommerce import store as woocommerce_sync
from sandboxes.woocommerce.state import Order as WcOrder
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox
from tests.helpers.woocommerce_connector import (  # noqa: F401
    access_for,
    connector_for,
    store_settings,
    wc_site,
)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


def connect(runtime: Runtime, sandbox: WooCommerceSandbox, **woocommerce: str) -> int:
    runtime.clock = sandbox.clock
    key = sandbox.store.create_key()
    store_id = stores.add_woocommerce_store(runtime, sandbox.url, key.consumer_key,
                                            key.consumer_secret, "hook-secret")
    with runtime.db.write() as session:
        session.get_one(Store, store_id).settings = store_settings(sandbox, **woocommerce)
    return store_id


def order_count(runtime: Runtime) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count(Order.id))) or 0


# -- batched statuses --------------------------------------------------------------------------

def test_1000_status_updates_cost_20_calls_with_batching(wc_sandbox: WooCommerceSandbox) -> None:
    """The written note for issue 5: one call per order would be 1,000 PUTs (2,000 with the
    read that avoids needless writes); batched, it is 10 reads + 10 orders/batch calls."""
    product = wc_sandbox.store.add_product("Lamp", sku="LAMP")
    ids = [str(wc_sandbox.store.place_order([(product.id, 1)]).id) for _ in range(1000)]
    connector = connector_for(wc_sandbox)
    current = connector.current_statuses(ids)
    assert set(current.values()) == {"processing"} and len(current) == 1000
    done, problems = connector.update_statuses(dict.fromkeys(ids, "completed"))
    assert (len(done), problems) == (1000, [])
    assert connector.client.calls == 20
    assert {o.status for o in wc_sandbox.store.orders.values()} == {"completed"}


def test_a_failed_batch_item_is_reported_and_the_rest_applied(
        wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    order = wc_site.store.place_order()
    connector = connector_for(wc_site)
    done, problems = connector.update_statuses({str(order.id): "completed", "99999": "completed"})
    assert done == [str(order.id)]
    [problem] = problems
    assert problem.startswith("order 99999: Invalid ID.")
    assert wc_site.store.order(order.id).status == "completed"


# -- reconciliation ----------------------------------------------------------------------------

def test_reconciliation_pages_through_changed_orders_once(
        runtime: Runtime, wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    store_id = connect(runtime, wc_site)
    for _ in range(150):
        wc_site.store.place_order()
    assert woocommerce_sync.queue_for_every_store(runtime, reconcile.RECONCILE_JOB, 15)
    assert run_jobs(runtime, reconcile.RECONCILE_JOB) == 1
    assert order_count(runtime) == 150
    with runtime.db.read() as session:
        watermark = reconcile.watermark(session.get_one(Store, store_id))
    assert watermark == wc_site.clock.now()
    # A second poll re-reads the overlap; duplicates change nothing.
    wc_site.clock.advance(timedelta(minutes=1))
    late = wc_site.store.place_order()
    woocommerce_sync.queue_for_every_store(runtime, reconcile.RECONCILE_JOB, 0.001)
    run_jobs(runtime, reconcile.RECONCILE_JOB)
    assert order_count(runtime) == 151
    with runtime.db.read() as session:
        numbers = session.scalars(select(Order.number).where(Order.number == str(late.id)))
        assert list(numbers) == [str(late.id)]


def test_an_order_the_mapper_rejects_does_not_stop_the_rest(
        runtime: Runtime, wc_sandbox: WooCommerceSandbox) -> None:
    connect(runtime, wc_sandbox)
    broken = wc_sandbox.store.place_order()
    broken.line_items[0].quantity = 0
    wc_sandbox.store.place_order()
    page = connector_for(wc_sandbox).orders_modified_since(
        wc_sandbox.clock.now() - timedelta(seconds=1))
    assert len(page.orders) == 1
    assert page.problems == [f"order {broken.id}: line_items[1].quantity: "
                             "must be a positive integer"]


def test_reconciliation_alerts_the_owner_once_about_an_unreadable_order(
        runtime: Runtime, wc_sandbox: WooCommerceSandbox) -> None:
    """The reconciler imports the readable orders and raises one alert for the order it
    cannot read, instead of skipping it silently; a second run adds no second alert."""
    connect(runtime, wc_sandbox)
    broken = wc_sandbox.store.place_order()
    broken.line_items[0].quantity = 0
    wc_sandbox.store.place_order()
    for minutes in (15, 0.001):
        wc_sandbox.clock.advance(timedelta(minutes=1))
        woocommerce_sync.queue_for_every_store(runtime, reconcile.RECONCILE_JOB, minutes)
        assert run_jobs(runtime, reconcile.RECONCILE_JOB) == 1
    assert order_count(runtime) == 1
    with runtime.db.read() as session:
        messages = list(session.scalars(select(Alert.message).where(
            Alert.kind == UNREADABLE_ORDER)))
    assert len(messages) == 1
    assert f"order {broken.id}: line_items[1].quantity: must be a positive integer" \
        in messages[0]


# -- webhooks ----------------------------------------------------------------------------------

@pytest.fixture
def public(runtime: Runtime, live_url: str) -> Iterator[str]:
    """DropTrack's public URL is the live test server, so the sandbox can deliver to it."""
    app_settings = runtime.settings.app.model_copy(update={"public_url": live_url})
    runtime.settings = runtime.settings.model_copy(update={"app": app_settings})
    yield live_url


def test_disabled_webhook_is_re_enabled_and_the_gap_reconciled(
        runtime: Runtime, public: str, wc_sandbox: WooCommerceSandbox) -> None:
    store_id = connect(runtime, wc_sandbox)
    woocommerce_sync.queue_for_every_store(runtime, webhooks.WEBHOOK_HEALTH_JOB, 30)
    assert run_jobs(runtime, webhooks.WEBHOOK_HEALTH_JOB) == 1
    hooks = sorted(wc_sandbox.store.webhooks.values(), key=lambda w: w.topic)
    assert [(w.topic, w.status) for w in hooks] == [("order.created", "active"),
                                                    ("order.updated", "active")]
    assert hooks[0].delivery_url == f"{public}/webhooks/woocommerce/{store_id}"
    assert all(not w.pending_delivery for w in hooks)  # DropTrack answered the pings

    wc_sandbox.store.place_order()
    wc_sandbox.deliver_pending()
    run_jobs(runtime, "inbox.process")
    assert order_count(runtime) == 1

    # DropTrack is unreachable for a while (deliveries rejected): WooCommerce disables it.
    for hook in hooks:
        hook.delivery_url = hook.delivery_url.replace("/webhooks/", "/missing/")
    wc_sandbox.clock.advance(timedelta(minutes=10))
    missed = [wc_sandbox.store.place_order() for _ in range(7)]
    wc_sandbox.deliver_pending()
    assert hooks[0].status == "disabled"
    for hook in hooks:
        hook.delivery_url = hook.delivery_url.replace("/missing/", "/webhooks/")

    woocommerce_sync.queue_for_every_store(runtime, webhooks.WEBHOOK_HEALTH_JOB, 0.001)
    run_jobs(runtime, webhooks.WEBHOOK_HEALTH_JOB)
    # Replaced, not set back to active: a fresh webhook starts with no failures counted.
    now_hooks = sorted(wc_sandbox.store.webhooks.values(), key=lambda w: w.topic)
    assert [(w.topic, w.status, w.failure_count) for w in now_hooks] == [
        ("order.created", "active", 0), ("order.updated", "active", 0)]
    assert hooks[0].id not in {w.id for w in now_hooks}
    with runtime.db.read() as session:
        [alert] = session.scalars(select(Alert).where(Alert.kind == "webhook_gap"))
    assert "re-enabled" in alert.message
    run_jobs(runtime, reconcile.RECONCILE_JOB)
    assert order_count(runtime) == 1 + len(missed)


def test_webhooks_are_not_duplicated_and_paused_ones_are_left(
        runtime: Runtime, public: str, wc_sandbox: WooCommerceSandbox) -> None:
    store_id = connect(runtime, wc_sandbox)
    with runtime.db.read() as session:
        store = session.get_one(Store, store_id)
    connector = woocommerce_sync.connector_for(runtime, store)
    webhooks.check_webhooks(runtime, store, connector)
    [paused] = [w for w in wc_sandbox.store.webhooks.values() if w.topic == "order.updated"]
    paused.status = "paused"
    webhooks.check_webhooks(runtime, store, connector)
    assert len(wc_sandbox.store.webhooks) == 2 and paused.status == "paused"


def test_a_status_the_store_refused_is_sent_again_at_the_next_flush(
        runtime: Runtime, wc_sandbox_https: WooCommerceSandbox) -> None:
    """The store refuses one order's status (here: the shipment-tracking plugin that adds
    "partial-shipped" was switched off after DropTrack probed it). The flush applies the
    rest and keeps its window, so once the plugin is back the refused order is sent again
    although nothing about it changed in DropTrack. (Over HTTPS: OAuth 1.0a signatures
    would not survive the clock moved ahead.)"""
    from integration.engine import bindings

    def flush() -> None:
        woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
        assert run_jobs(runtime, statuses.FLUSH_STATUSES_JOB) == 1

    wc_sandbox_https.store.set_tracking_mode("ast")
    wc_sandbox_https.store.set_ast_partial_shipped(True)
    store_id = connect(runtime, wc_sandbox_https, complete_on="delivered")
    partial, whole = (wc_sandbox_https.store.place_order() for _ in range(2))
    woocommerce_sync.queue_for_every_store(runtime, reconcile.RECONCILE_JOB, 15)
    run_jobs(runtime, reconcile.RECONCILE_JOB)
    flush()  # nothing due yet; DropTrack probes the store and notes the plugin
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for sandbox_order, status in ((partial, "processing"), (whole, "delivered")):
            binding = bindings.find(session, bindings.STORE, store_id, "order",
                                    str(sandbox_order.id))
            assert binding is not None
            order = session.get_one(Order, binding.internal_id)
            order.status, order.reason, order.updated_at = status, None, now
            session.add(Shipment(order_id=order.id, carrier="China Post",
                                 tracking_number=f"LX{order.id:09d}CN", tracking_url="",
                                 status="delivered" if status == "delivered" else "in_transit",
                                 status_epoch=0, written_status="in_transit",
                                 created_at=now, updated_at=now))
    wc_sandbox_https.store.set_tracking_mode("none")  # the merchant switches the plugin off
    wc_sandbox_https.clock.advance(timedelta(minutes=10))  # the next flush's turn
    flush()
    assert [wc_sandbox_https.store.order(o.id).status for o in (partial, whole)] == [
        "processing", "completed"]
    wc_sandbox_https.store.set_tracking_mode("ast")  # and on again
    with runtime.db.read() as session:  # which the health sweep's probe notices
        store = session.get_one(Store, store_id)
    woocommerce_sync.connector_for(runtime, store).capabilities(fresh=True)
    wc_sandbox_https.clock.advance(timedelta(minutes=10))  # past the flush overlap
    flush()
    assert [wc_sandbox_https.store.order(o.id).status for o in (partial, whole)] == [
        "partial-shipped", "completed"]


# -- connection test ---------------------------------------------------------------------------

def test_connection_test_passes_and_names_the_mode(wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    wc_site.store.set_tracking_mode("ast")
    report = check_connection(access_for(wc_site))
    assert report.ok, report.problems
    assert report.summary() == ("Connected: orders can be read and tracking written "
                                "(advanced shipment tracking).")


def test_connection_test_reports_wrong_keys(wc_site: WooCommerceSandbox) -> None:  # noqa: F811
    key = wc_site.store.create_key()
    key_for_test = type(key)(**{**key.__dict__, "consumer_secret": "cs_wrong"})
    report = check_connection(access_for(wc_site, key_for_test))
    [problem] = report.problems
    assert "refused DropTrack's API keys" in problem and "Reconnect the store" in problem


def test_connection_test_reports_http_where_https_is_required(
        wc_sandbox: WooCommerceSandbox) -> None:
    report = check_connection(access_for(wc_sandbox, allow_loopback_http=False))
    assert report.problems == [
        "The store address starts with http://. DropTrack sends API keys only over HTTPS: use "
        "your store's https:// address (the site needs a valid SSL certificate)."]


def test_connection_test_reports_a_missing_rest_api(wc_receiver: object,
                                                     wc_sandbox: WooCommerceSandbox) -> None:
    access = access_for(wc_sandbox)
    site = access.domain
    wc_sandbox.store.inject_fault(404, path_prefix="/wp-json", times=1,
                                  body="<html>Page not found</html>")
    report = check_connection(access)
    assert report.problems == [
        f"{site} answered 404 while reading the REST API index: the WordPress REST API is not "
        "reachable at this address (check the URL and that permalinks are not 'Plain')."]


def test_the_status_flush_sends_each_change_once_and_keeps_the_merchants_status(
        runtime: Runtime, wc_sandbox: WooCommerceSandbox) -> None:
    """Only orders that changed since the last flush are read; a status set by hand stays."""
    store_id = connect(runtime, wc_sandbox, complete_on="delivered")
    placed = [wc_sandbox.store.place_order() for _ in range(3)]
    woocommerce_sync.queue_for_every_store(runtime, reconcile.RECONCILE_JOB, 15)
    run_jobs(runtime, reconcile.RECONCILE_JOB)
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for order in session.scalars(select(Order).where(Order.store_id == store_id)):
            order.status, order.reason, order.updated_at = "delivered", None, now
            session.add(Shipment(order_id=order.id, carrier="China Post",
                                 tracking_number=f"LX{order.id:09d}CN", tracking_url="",
                                 status="delivered", status_epoch=0, written_status="delivered",
                                 created_at=now, updated_at=now))
    wc_sandbox.store.set_order_status(placed[2].id, "on-hold")
    with runtime.db.read() as session:  # the store's capabilities are known (probed once)
        store = session.get_one(Store, store_id)
    woocommerce_sync.connector_for(runtime, store).capabilities()
    woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
    calls = sum(wc_sandbox.store.api_calls.values())
    assert run_jobs(runtime, statuses.FLUSH_STATUSES_JOB) == 1
    assert [wc_sandbox.store.order(o.id).status for o in placed] == [
        "completed", "completed", "on-hold"]
    assert sum(wc_sandbox.store.api_calls.values()) - calls == 2  # one read, one batch
    # Nothing changed since: the next flush reads them once more (the overlap kept for rows
    # committed late) and writes nothing; the one after reads nothing.
    for expected_calls in (1, 0):
        wc_sandbox.clock.advance(timedelta(minutes=10))
        woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
        calls = sum(wc_sandbox.store.api_calls.values())
        assert run_jobs(runtime, statuses.FLUSH_STATUSES_JOB) == 1
        assert sum(wc_sandbox.store.api_calls.values()) - calls == expected_calls


def remembered_statuses(runtime: Runtime) -> dict[str, str | None]:
    """order id in the store -> the status DropTrack remembers it showing."""
    with runtime.db.read() as session:
        return {str(external): status for external, status in session.execute(
            select(Binding.external_id, Order.store_status).join(
                Binding, (Binding.internal_id == Order.id) & (Binding.kind == "order")))}


def deliver(runtime: Runtime, store_id: int, order_ids: list[int],
            order_status: str = "delivered", parcel: str = "delivered") -> None:
    """These orders' parcels are delivered (so the flush owes them "completed"; with
    `order_status="processing"`, parts still to ship: "partial-shipped" where the store has
    it); the store's capabilities are known (probed once)."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for order in session.scalars(select(Order).join(Binding, (
                Binding.internal_id == Order.id) & (Binding.kind == "order")).where(
                Binding.external_id.in_([str(i) for i in order_ids]))):
            order.status, order.reason, order.updated_at = order_status, None, now
            shipment = session.scalars(select(Shipment).where(
                Shipment.order_id == order.id)).first()
            if shipment is None:
                shipment = Shipment(order_id=order.id, carrier="China Post",
                                    tracking_number=f"LX{order.id:09d}CN", tracking_url="",
                                    status_epoch=0, created_at=now)
                session.add(shipment)
            shipment.status = shipment.written_status = parcel
            shipment.updated_at = now
    with runtime.db.read() as session:
        store = session.get_one(Store, store_id)
    woocommerce_sync.connector_for(runtime, store).capabilities()


@pytest.mark.parametrize(("status_reads", "calls"), [("remembered", 2 + 4), ("always", 4 + 4)])
def test_remembered_statuses_save_the_reads_and_never_overwrite_the_merchant(
        runtime: Runtime, wc_sandbox_https: WooCommerceSandbox, status_reads: str,
        calls: int) -> None:
    """350 orders to complete. DropTrack remembers each one's status from reconciliation; the
    merchant then puts one on hold and trashes another by hand, and no webhook has told
    DropTrack (none is registered here: the delivery that has not arrived yet). The flush lists
    only the orders changed since (2 calls: "any" and "trash") instead of reading all 350
    (4 calls), finds both, and keeps them, as it keeps the order put on hold before
    reconciliation; the 347 others are completed, 100 per batch, and their new status is
    remembered from the batch answer. `status_reads = "always"` is the old path (the
    benchmark's baseline): every order read. Over HTTPS: OAuth 1.0a signatures would not
    survive the clock moved ahead."""
    store_id = connect(runtime, wc_sandbox_https, complete_on="delivered",
                       status_reads=status_reads)
    placed = [wc_sandbox_https.store.place_order() for _ in range(350)]
    held_before, held_now, trashed = placed[0].id, placed[1].id, placed[2].id
    wc_sandbox_https.store.set_order_status(held_before, "on-hold")
    wc_sandbox_https.clock.advance(timedelta(minutes=30))
    wc_sandbox_https.store.place_order()  # the newest change reconciliation sees: its watermark
    woocommerce_sync.queue_for_every_store(runtime, reconcile.RECONCILE_JOB, 15)
    run_jobs(runtime, reconcile.RECONCILE_JOB)
    remembered = remembered_statuses(runtime)
    assert remembered[str(held_before)] == "on-hold"
    assert remembered[str(held_now)] == "processing"
    deliver(runtime, store_id, [o.id for o in placed])
    wc_sandbox_https.clock.advance(timedelta(minutes=1))
    wc_sandbox_https.store.set_order_status(held_now, "on-hold")  # by hand, a moment ago
    wc_sandbox_https.store.trash_order(trashed)
    woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
    before = sum(wc_sandbox_https.store.api_calls.values())
    assert run_jobs(runtime, statuses.FLUSH_STATUSES_JOB) == 1
    assert sum(wc_sandbox_https.store.api_calls.values()) - before == calls
    shown = {o.id: wc_sandbox_https.store.order(o.id, include_trashed=True) for o in placed}
    assert shown[held_before].status == shown[held_now].status == "on-hold"
    assert shown[trashed].trashed and shown[trashed].status == "processing"
    assert sorted(o.status for i, o in shown.items()
                  if i not in (held_before, held_now, trashed)) == ["completed"] * 347
    remembered = remembered_statuses(runtime)
    assert remembered[str(placed[3].id)] == "completed"  # from the batch answer
    if status_reads == "remembered":
        assert (remembered[str(held_now)], remembered[str(trashed)]) == ("on-hold", "trash")


def _placed_and_reconciled(runtime: Runtime, sandbox: WooCommerceSandbox,
                           count: int) -> list[WcOrder]:
    """`count` orders placed, then half an hour later one more, and a reconciliation run that
    imports them all (so each has a remembered status)."""
    placed = [sandbox.store.place_order() for _ in range(count)]
    sandbox.clock.advance(timedelta(minutes=30))
    sandbox.store.place_order()
    woocommerce_sync.queue_for_every_store(runtime, reconcile.RECONCILE_JOB, 15)
    run_jobs(runtime, reconcile.RECONCILE_JOB)
    return placed


def test_a_webhook_newer_than_the_hand_change_does_not_replace_the_listing(
        runtime: Runtime, wc_sandbox_https: WooCommerceSandbox) -> None:
    """A webhook sight newer than everything else (one order reported "processing" a moment
    ago) says nothing about the other orders: the merchant puts another on hold by hand after
    it, and its webhook has not arrived. The flush still lists what changed since its known
    point (2 calls) and keeps the hold; no webhook-fed point lets it skip that read."""
    store_id = connect(runtime, wc_sandbox_https, complete_on="delivered",
                       status_reads="remembered")
    placed = _placed_and_reconciled(runtime, wc_sandbox_https, 250)
    deliver(runtime, store_id, [o.id for o in placed])
    wc_sandbox_https.clock.advance(timedelta(minutes=1))
    reported, held = placed[0].id, placed[1].id
    with runtime.db.write() as session:  # what the webhook for `reported` left, just now
        [order] = session.scalars(select(Order).join(Binding, (
            Binding.internal_id == Order.id) & (Binding.kind == "order")).where(
            Binding.external_id == str(reported)))
        remember_store_status(order, "processing", runtime.clock.now())
    wc_sandbox_https.clock.advance(timedelta(seconds=20))
    wc_sandbox_https.store.set_order_status(held, "on-hold")  # by hand; no webhook yet
    woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
    before = wc_sandbox_https.store.api_calls.copy()
    assert run_jobs(runtime, statuses.FLUSH_STATUSES_JOB) == 1
    spent = sum(wc_sandbox_https.store.api_calls.values()) - sum(before.values())
    assert spent == 2 + 3  # "any" and "trash" listings, 3 batches (249 orders)
    assert wc_sandbox_https.store.order(held).status == "on-hold"
    assert wc_sandbox_https.store.order(reported).status == "completed"
    assert remembered_statuses(runtime)[str(held)] == "on-hold"


def test_a_status_set_by_hand_right_after_droptracks_own_write_is_kept_at_the_next_flush(
        runtime: Runtime, wc_sandbox_https: WooCommerceSandbox) -> None:
    """Two flushes, the steady state. The first sets 250 orders "partial-shipped" (AST's
    status); a second later the merchant puts one of them on hold by hand, and no webhook has
    told DropTrack. Five minutes later every parcel is delivered and the second flush owes all
    250 "completed": the hold is kept. The second flush's listing would also return the 250
    orders DropTrack itself just wrote (changed after its known point, as their remembered
    batch answers show): 3 pages cost as much as reading the 250, so they are read at once,
    no listing page wasted: 3 reads + 3 batches, the cost of every flush after the first at
    this size (docs/benchmarks.md)."""
    wc_sandbox_https.store.set_tracking_mode("ast")
    wc_sandbox_https.store.set_ast_partial_shipped(True)
    store_id = connect(runtime, wc_sandbox_https, complete_on="delivered",
                       status_reads="remembered")
    placed = _placed_and_reconciled(runtime, wc_sandbox_https, 250)
    ids = [o.id for o in placed]
    deliver(runtime, store_id, ids, order_status="processing", parcel="in_transit")
    wc_sandbox_https.clock.advance(timedelta(minutes=1))
    woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
    before = sum(wc_sandbox_https.store.api_calls.values())
    assert run_jobs(runtime, statuses.FLUSH_STATUSES_JOB) == 1
    assert sum(wc_sandbox_https.store.api_calls.values()) - before == 2 + 3
    assert {wc_sandbox_https.store.order(i).status for i in ids} == {"partial-shipped"}
    held = ids[0]
    wc_sandbox_https.clock.advance(timedelta(seconds=1))
    wc_sandbox_https.store.set_order_status(held, "on-hold")  # by hand; no webhook yet
    wc_sandbox_https.clock.advance(timedelta(minutes=5))
    deliver(runtime, store_id, ids)
    woocommerce_sync.queue_for_every_store(runtime, statuses.FLUSH_STATUSES_JOB, 5)
    before = sum(wc_sandbox_https.store.api_calls.values())
    assert run_jobs(runtime, statuses.FLUSH_STATUSES_JOB) == 1
    assert sum(wc_sandbox_https.store.api_calls.values()) - before == 3 + 3
    assert wc_sandbox_https.store.order(held).status == "on-hold"
    assert sorted(wc_sandbox_https.store.order(i).status for i in ids[1:]) == [
        "completed"] * 249
