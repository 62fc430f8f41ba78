"""17TRACK end to end over real HTTP: a spreadsheet supplier's tracking file -> the number
registered at the 17TRACK sandbox -> signed pushes into DropTrack's live intake -> the parcel's
statuses -> written back to a WooCommerce sandbox store and a Shopify sandbox store, once each.
And the faults: a bad sign, a push 20 times at once, pushes out of order, quota running out,
429/5xx, a number 17TRACK refuses and the owner's carrier correction."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from connectors.tracking.seventeen_track import mapper
from core.clock import FrozenClock
from core.domain import Address, OrderLine, Payment, StoreOrder
from core.status import Reason, Status, rank
from integration.accounts import stores
from integration.base.config import Settings
from integration.engine.orders import import_order
from integration.kernel.runtime import Runtime
from integration.storage.models import (
    Alert,
    InboxDelivery,
    OutboxJob,
    Shipment,
    SkuMapping,
    Store,
    TrackedNumber,
    TrackingEvent,
)
from integration.sync.suppliers.csv_exchange import add_csv_supplier, export_batches, import_inbox
from integration.sync.tracking.polling import POLL_JOB, STOP_JOB, correct_carrier
from integration.sync.tracking.registration import QUOTA_EXHAUSTED, QUOTA_LOW, REGISTER_JOB
from integration.sync.tracking.schedule import queue_tracking_jobs
from integration.sync.tracking.updates import TRACKING_PROBLEM
from sandboxes.seventeen_track.timelines import handover_for
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_17track import TRACKER_EPOCH, Tracker, configure_tracking
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox

HOOK = "/webhooks/tracking/17track"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(TRACKER_EPOCH)


@pytest.fixture
def tracked(runtime: Runtime, tracker: Tracker, clock: FrozenClock) -> Runtime:
    """DropTrack configured for the sandbox, both on one clock."""
    runtime.clock = clock
    tracker.state.clock = clock
    configure_tracking(runtime, tracker)
    return runtime


@pytest.fixture
def pushes_to(tracked: Runtime, tracker: Tracker, live_url: str) -> Iterator[str]:
    """17TRACK's dashboard webhook pointed at DropTrack's live intake."""
    tracker.state.webhook_url = live_url + HOOK
    yield live_url


@pytest.fixture
def woo_store(tracked: Runtime, wc_sandbox: WooCommerceSandbox) -> int:
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    key = wc_sandbox.store.create_key()
    return stores.add_woocommerce_store(tracked, wc_sandbox.url, key.consumer_key,
                                        key.consumer_secret, "hook-secret")


class Spreadsheet:
    """A spreadsheet supplier for one store: orders out as a CSV, tracking back in."""

    def __init__(self, runtime: Runtime, store_id: int, folder: Path) -> None:
        self.runtime, self.store_id, self.folder = runtime, store_id, folder
        self.id = add_csv_supplier(runtime, f"Sheets {store_id}", str(folder / "out"),
                                   str(folder / "in"))
        with runtime.db.write() as session:
            session.add(SkuMapping(store_id=store_id, sku="MUG", supplier_id=self.id,
                                   created_at=runtime.clock.now()))
        self.orders = 0

    def order(self, external_id: str, line_id: str = "1", number: str | None = None) -> None:
        with self.runtime.db.write() as session:
            import_order(session, self.store_id, StoreOrder(
                external_id=external_id, number=number or external_id,
                email="kim@example.com", payment=Payment.PAID,
                updated_at=self.runtime.clock.now(), lines=(OrderLine(line_id, 1, sku="MUG"),),
                shipping_address=Address(name="Kim Park", address1="742 Evergreen Terrace",
                                         city="Springfield", postcode="62704", country="US",
                                         province="IL")), self.runtime.clock.now())
        self.orders += 1

    def ship(self, *numbers: str) -> None:
        """Forward the waiting orders and read back a tracking file: the n-th number for the
        n-th supplier order (DT-<id>)."""
        run_jobs(self.runtime, "supplier.forward")
        export_batches(self.runtime, self.id)
        with self.runtime.db.read() as session:
            from integration.storage.models import SupplierOrder

            ids = list(session.scalars(select(SupplierOrder.id).where(
                SupplierOrder.supplier_id == self.id).order_by(SupplierOrder.id)))
        rows = "".join(f"DT-{so},{number},,\n" for so, number in zip(ids, numbers, strict=False))
        (self.folder / "in" / "tracking.csv").write_text(
            "Reference,Tracking number,Carrier,Shipped at\n" + rows)
        assert import_inbox(self.runtime, self.id) == len(numbers)


def register(runtime: Runtime) -> None:
    queue_tracking_jobs(runtime)
    run_jobs(runtime, REGISTER_JOB)


def follow(runtime: Runtime, tracker: Tracker, clock: FrozenClock,
           numbers: list[str]) -> dict[str, list[tuple[Status, Reason | None]]]:
    """Play the numbers' timelines on one clock: whatever is due is pushed, stored, processed
    and written back. Returns each parcel's status after every push about it."""
    seen: dict[str, list[tuple[Status, Reason | None]]] = {number: [] for number in numbers}
    while due := [d for n in numbers if (d := tracker.state.next_due(n)) is not None]:
        clock.set(max(min(due), clock.now()))
        sent = tracker.state.deliver_due()
        assert sent and all(push.status == 200 for push in sent)
        run_jobs(runtime, "inbox.process")
        run_jobs(runtime, "store.writeback")
        for push in sent:
            shipment = shipment_of(runtime, push.number)
            seen[push.number].append((Status(shipment.status),
                                      Reason(shipment.reason) if shipment.reason else None))
    return seen


def shipment_of(runtime: Runtime, registered: str) -> Shipment:
    with runtime.db.read() as session:
        row = session.scalars(select(TrackedNumber).where(
            TrackedNumber.number == registered)).one()
        shipment = session.get_one(Shipment, row.shipment_id)
        session.expunge(shipment)
        return shipment


def tracked_row(runtime: Runtime, number: str) -> TrackedNumber:
    with runtime.db.read() as session:
        row = session.scalars(select(TrackedNumber).where(TrackedNumber.number == number)).one()
        session.expunge(row)
        return row


def count(runtime: Runtime, model: type, *where: object) -> int:
    with runtime.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def alerts_of(runtime: Runtime, kind: str) -> list[str]:
    with runtime.db.read() as session:
        return list(session.scalars(select(Alert.message).where(Alert.kind == kind)))


# -- end to end ----------------------------------------------------------------------------

SCENARIOS = {
    "LX100000001CN": ("delivered", Status.DELIVERED, None),
    "LX100000002CN": ("pickup", Status.DELIVERED, None),
    "LX100000003CN": ("failed_address", Status.UNDELIVERED, Reason.INVALID_ADDRESS),
    "LX100000004CN": ("failed_nobody", Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),
    "LX100000005CN": ("returned", Status.EXCEPTION, Reason.RETURN_TO_SENDER),
    "LX100000006CN": ("customs", Status.EXCEPTION, Reason.CUSTOMS),
}


def test_spreadsheet_parcels_tracked_by_17track_into_woocommerce(
        tracked: Runtime, tracker: Tracker, pushes_to: str, clock: FrozenClock,
        wc_sandbox: WooCommerceSandbox, woo_store: int, tmp_path: Path) -> None:
    placed = []
    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    for _ in SCENARIOS:
        order = wc_sandbox.store.place_order([(product.id, 1)])
        placed.append(order)
        sheet.order(str(order.id), str(order.line_items[0].id))
    for number, (scenario, _, _) in SCENARIOS.items():
        tracker.state.set_scenario(number, scenario)
    sheet.ship(*SCENARIOS)
    register(tracked)
    assert set(tracker.state.tracked) == set(SCENARIOS)
    assert tracker.state.calls["register"] == 1  # six numbers, one call
    assert tracker.state.quota_used == 6

    history = follow(tracked, tracker, clock, list(SCENARIOS))
    for order, (number, (scenario, status, reason)) in zip(placed, SCENARIOS.items(),
                                                           strict=True):
        seen = history[number]
        ranks = [rank(s, r) for s, r in seen]
        assert ranks == sorted(ranks), f"{scenario}: a status went backwards: {seen}"
        shipment = shipment_of(tracked, number)
        assert (shipment.status, shipment.reason) == (status, reason), scenario
        notes = [n.note for n in wc_sandbox.store.order(order.id).notes if n.customer_note]
        assert len(notes) == len(set(notes)), f"{scenario}: a note was written twice: {notes}"
        items = wc_sandbox.store.tracking_items(order.id)
        if scenario != "customs":  # the others reached the last-mile carrier
            assert shipment.tracking_number == handover_for(number).number
            assert [i["tracking_number"] for i in items] == [handover_for(number).number]
    delivered = wc_sandbox.store.order(placed[0].id)
    last_mile = handover_for("LX100000001CN").number
    assert [n.note.split(".")[0] for n in delivered.notes if n.customer_note] == [
        "Your order has shipped, tracking number LX100000001CN",
        "Your parcel is on its way, tracking number LX100000001CN",
        f"Your parcel is on its way with USPS, tracking number {last_mile}",
        "Your parcel is out for delivery", "Your parcel has been delivered"]
    returned = wc_sandbox.store.order(placed[4].id)
    assert [n.note.split(".")[0] for n in returned.notes if n.customer_note][-2:] == [
        "Your parcel was refused at delivery", "Your parcel is being returned by the carrier"]
    assert alerts_of(tracked, "return_to_sender")  # the owner is told to act
    # Delivered parcels are stopped at 17TRACK, nothing is polled while pushes arrive.
    queue_tracking_jobs(tracked)
    run_jobs(tracked, STOP_JOB)
    run_jobs(tracked, POLL_JOB)
    assert tracker.state.tracked["LX100000001CN"].tracking_status == "Stopped"
    # The parcels left undelivered have had no push for days: one batched fallback poll.
    # Six parcels over their whole lives: 1 register + 1 getquota + 1 stoptrack + 1 poll.
    assert tracker.state.calls == {"register": 1, "getquota": 1, "stoptrack": 1,
                                   "gettrackinfo": 1}
    assert tracker.state.quota_used == 6  # one credit per parcel
    assert tracked_row(tracked, "LX100000001CN").state == "stopped"
    assert tracked_row(tracked, "LX100000003CN").state == "registered"
