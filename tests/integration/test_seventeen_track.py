"""17TRACK end to end over real HTTP: a spreadsheet supplier's tracking file -> the number
registered at the 17TRACK sandbox -> signed pushes into DropTrack's live intake -> the parcel's
statuses -> written back to a WooCommerce sandbox store and a Shopify sandbox store, once each.
And the faults: a bad sign, a push 20 times at once, pushes out of order, quota running out,
429/5xx, a number 17TRACK refuses and the owner's carrier correction."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import ColumnElement, func, select

from connectors.tracking.seventeen_track import mapper
from core.clock import FrozenClock
from core.domain import Address, OrderLine, Payment, StoreOrder
from core.status import Reason, Status, rank
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
from tests.helpers.sandbox_17track import Tracker, configure_tracking
from tests.helpers.sandbox_trackers import PushingSandbox
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox

HOOK = "/webhooks/tracking/17track"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


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


class Spreadsheet:
    """A spreadsheet supplier for one store: orders out as a CSV, tracking back in."""

    def __init__(self, runtime: Runtime, store_id: int, folder: Path,
                 name: str = "") -> None:
        self.runtime, self.store_id, self.folder = runtime, store_id, folder
        self.id = add_csv_supplier(runtime, name or f"Sheets {store_id}", str(folder / "out"),
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

    def woo_orders(self, store: Any, count: int) -> list[int]:
        """`count` orders of one mug placed in a WooCommerce sandbox store, and imported."""
        product = store.add_product("Mug", sku="MUG")
        placed = []
        for _ in range(count):
            order = store.place_order([(product.id, 1)])
            placed.append(order.id)
            self.order(str(order.id), str(order.line_items[0].id))
        return placed

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


def follow(runtime: Runtime, tracker: PushingSandbox, clock: FrozenClock,
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


def count(runtime: Runtime, model: type, *where: ColumnElement[bool]) -> int:
    with runtime.db.read() as session:
        found: int | None = session.scalar(
            select(func.count()).select_from(model).where(*where))
        return found or 0


def alerts_of(runtime: Runtime, kind: str) -> list[str]:
    with runtime.db.read() as session:
        return list(session.scalars(select(Alert.message).where(Alert.kind == kind)))


Send = Callable[[], requests.Response]
"""One signed webhook of a tracking service, sent to DropTrack."""


def check_twenty_at_once_have_one_effect(runtime: Runtime, send: Send, number: str) -> None:
    """The same signed webhook (the parcel's delivery) twenty times at once: all taken, one
    delivery stored, one write-back, and a later copy is a duplicate that adds no event."""
    start = threading.Barrier(20)

    def at_once(_: int) -> int:
        start.wait()
        return send().status_code

    writebacks = count(runtime, OutboxJob, OutboxJob.kind == "store.writeback")
    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(at_once, range(20))) == [200] * 20
    assert count(runtime, InboxDelivery) == 1
    run_jobs(runtime, "inbox.process")
    assert count(runtime, OutboxJob, OutboxJob.kind == "store.writeback") == writebacks + 1
    events = count(runtime, TrackingEvent)
    assert send().json() == {"status": "duplicate"}
    run_jobs(runtime, "inbox.process")
    assert count(runtime, TrackingEvent) == events
    assert shipment_of(runtime, number).status == Status.DELIVERED


def check_out_of_order_never_moves_back(runtime: Runtime, webhooks: list[Send],
                                        number: str) -> None:
    """A parcel's nine webhooks, delivered first and the rest backwards: the status stays
    delivered, with one write-back (none for the late ones); sent again in order, every event
    is already known."""
    assert len(webhooks) == 9
    seen = []
    writebacks = count(runtime, OutboxJob, OutboxJob.kind == "store.writeback")
    for send in [webhooks[-1], *reversed(webhooks[:-1])]:
        assert send().status_code == 200
        run_jobs(runtime, "inbox.process")
        seen.append(shipment_of(runtime, number).status)
    assert seen == [Status.DELIVERED] * 9
    assert count(runtime, OutboxJob, OutboxJob.kind == "store.writeback") == writebacks + 1
    events = count(runtime, TrackingEvent)
    for send in webhooks:
        send()
        run_jobs(runtime, "inbox.process")
    assert count(runtime, TrackingEvent) == events


# -- end to end ----------------------------------------------------------------------------

SCENARIOS = {
    "LX100000001CN": ("delivered", Status.DELIVERED, None),
    "LX100000002CN": ("pickup", Status.DELIVERED, None),
    "LX100000003CN": ("failed_address", Status.UNDELIVERED, Reason.INVALID_ADDRESS),
    "LX100000004CN": ("failed_nobody", Status.UNDELIVERED, Reason.RECIPIENT_UNAVAILABLE),
    "LX100000005CN": ("returned", Status.EXCEPTION, Reason.RETURN_TO_SENDER),
    "LX100000006CN": ("customs", Status.EXCEPTION, Reason.CUSTOMS),
    "LX100000007CN": ("lost", Status.EXCEPTION, Reason.LOST),
    "LX100000008CN": ("expired", Status.IN_TRANSIT, None),  # 17TRACK gave up: not delivered
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
    assert tracker.state.calls["register"] == 1  # eight numbers, one call
    assert tracker.state.quota_used == 8

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
        if scenario not in ("customs", "expired"):  # the others reached the last mile
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
    lost_number = handover_for("LX100000007CN").number  # lost after the handover
    assert [m.split(": ")[1].split(".")[0] for m in alerts_of(tracked, "lost")] == [
        f"parcel {lost_number} was lost by the carrier"]
    [stuck] = alerts_of(tracked, "stuck_in_transit")
    assert "LX100000008CN has had no carrier news" in stuck
    # Delivered parcels are stopped at 17TRACK, nothing is polled while pushes arrive.
    queue_tracking_jobs(tracked)
    run_jobs(tracked, STOP_JOB)
    run_jobs(tracked, POLL_JOB)
    assert tracker.state.tracked["LX100000001CN"].tracking_status == "Stopped"
    # The parcels left undelivered have had no push for days: one batched fallback poll.
    # Eight parcels over their whole lives: 1 register + 1 getquota + 1 stoptrack + 1 poll.
    assert tracker.state.calls == {"register": 1, "getquota": 1, "stoptrack": 1,
                                   "gettrackinfo": 1}
    assert tracker.state.quota_used == 8  # one credit per parcel
    assert tracked_row(tracked, "LX100000001CN").state == "stopped"
    assert tracked_row(tracked, "LX100000003CN").state == "registered"


# -- faults --------------------------------------------------------------------------------


def ship_one_parcel(runtime: Runtime, woo_store: int, tmp_path: Path,
                    wc_sandbox: WooCommerceSandbox, number: str) -> str:
    """One WooCommerce order shipped by a spreadsheet supplier as `number`, registered at the
    tracking service."""
    sheet = Spreadsheet(runtime, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    order = wc_sandbox.store.place_order([(product.id, 1)])
    sheet.order(str(order.id), str(order.line_items[0].id))
    sheet.ship(number)
    register(runtime)
    return number


def whole_life(sandbox: PushingSandbox, clock: FrozenClock,
               number: str) -> list[tuple[bytes, str]]:
    """The number's whole timeline as the service would push it (body, signature), unsent."""
    bodies: list[tuple[bytes, str]] = []
    while (due := sandbox.state.next_due(number)) is not None:
        clock.set(max(due, clock.now()))
        bodies.extend((push.body, push.sign) for push in sandbox.state.deliver_due())
    return bodies


def post_signed(url: str, body: bytes, signature: str | None,
                header: str) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[header] = signature
    return requests.post(url, data=body, headers=headers, timeout=10)


@pytest.fixture
def one_parcel(tracked: Runtime, tracker: Tracker, woo_store: int, tmp_path: Path,
               wc_sandbox: WooCommerceSandbox) -> str:
    """One spreadsheet parcel registered at 17TRACK (pushes not sent anywhere yet)."""
    return ship_one_parcel(tracked, woo_store, tmp_path, wc_sandbox, "LX300000001CN")


def recorded_pushes(tracker: Tracker, clock: FrozenClock, number: str) -> list[tuple[bytes, str]]:
    return whole_life(tracker, clock, number)


def post(url: str, body: bytes, sign: str | None) -> requests.Response:
    return post_signed(url + HOOK, body, sign, "sign")


def test_a_bad_sign_is_refused_and_nothing_is_stored(
        tracked: Runtime, tracker: Tracker, clock: FrozenClock, one_parcel: str,
        live_url: str) -> None:
    body, good = recorded_pushes(tracker, clock, one_parcel)[0]
    assert post(live_url, body, mapper.sign(body, "not-the-key")).status_code == 401
    assert post(live_url, body, good[:-1] + ("0" if good[-1] != "0" else "1")).status_code == 401
    assert post(live_url, body + b" ", good).status_code == 401  # signed bytes, not JSON
    assert post(live_url, body, None).status_code == 400
    assert count(tracked, InboxDelivery) == 0
    assert post(live_url, body, good).status_code == 200  # the real one is taken
    assert count(tracked, InboxDelivery) == 1


def test_the_same_push_twenty_times_at_once_has_one_effect(
        tracked: Runtime, tracker: Tracker, clock: FrozenClock, one_parcel: str,
        live_url: str) -> None:
    body, sign = recorded_pushes(tracker, clock, one_parcel)[-1]  # delivered
    check_twenty_at_once_have_one_effect(tracked, lambda: post(live_url, body, sign), one_parcel)


def test_pushes_out_of_order_never_move_a_status_back(
        tracked: Runtime, tracker: Tracker, clock: FrozenClock, one_parcel: str,
        live_url: str) -> None:
    pushes = recorded_pushes(tracker, clock, one_parcel)
    check_out_of_order_never_moves_back(
        tracked, [partial(post, live_url, body, sign) for body, sign in pushes], one_parcel)
    # the delivered push carried the last-mile number: the parcel keeps it
    assert shipment_of(tracked, one_parcel).tracking_number == handover_for(one_parcel).number


def test_quota_running_out_loses_nothing_and_resumes(
        tracked: Runtime, tracker: Tracker, woo_store: int, tmp_path: Path,
        wc_sandbox: WooCommerceSandbox, clock: FrozenClock) -> None:
    tracker.state.quota_total = 2
    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    for _ in range(3):
        order = wc_sandbox.store.place_order([(product.id, 1)])
        sheet.order(str(order.id), str(order.line_items[0].id))
    numbers = ["LX400000001CN", "LX400000002CN", "LX400000003CN"]
    sheet.ship(*numbers)
    register(tracked)
    assert sorted(tracker.state.tracked) == numbers[:2]
    assert tracked_row(tracked, numbers[2]).state == "waiting"
    [exhausted] = alerts_of(tracked, QUOTA_EXHAUSTED)
    assert "1 parcel number(s) wait" in exhausted
    # While it is exhausted, later runs ask getquota (free) and register nothing.
    clock.advance(timedelta(minutes=10))
    register(tracked)
    assert tracker.state.calls["register"] == 1
    assert tracked_row(tracked, numbers[2]).state == "waiting"
    tracker.state.quota_total = 20  # the owner bought more
    clock.advance(timedelta(minutes=10))
    register(tracked)
    assert sorted(tracker.state.tracked) == numbers
    assert tracked_row(tracked, numbers[2]).state == "registered"
    # Warned once for the exhausted plan; 17 left of the new one is above the threshold.
    assert [m.split(".")[0] for m in alerts_of(tracked, QUOTA_LOW)] == [
        "17track: only 0 of 2 tracking credits left"]
    with tracked.db.read() as session:  # quota is back: the exhausted alert is resolved
        assert session.scalars(select(Alert.resolved_at).where(
            Alert.kind == QUOTA_EXHAUSTED)).one() is not None


def test_low_quota_warns_the_owner_before_it_runs_out(
        tracked: Runtime, tracker: Tracker, one_parcel: str) -> None:
    assert tracker.state.quota_remain == 99
    tracker.state.quota_total = 5
    configure_tracking(tracked, tracker, quota_alert_below=10)
    with tracked.db.write() as session:
        from connectors.tracking.base import Quota
        from integration.sync.tracking.registration import save_quota

        save_quota(session, "17track", Quota(5, 1, 4), tracked.clock.now(), tracked.settings)
    [low] = alerts_of(tracked, QUOTA_LOW)
    assert "only 4 of 5 tracking credits left" in low


def test_429_and_5xx_are_retried_with_backoff(
        tracked: Runtime, tracker: Tracker, one_parcel: str, clock: FrozenClock) -> None:
    # In the call: two 429s (Retry-After: 1) and a 503, then the answer.
    tracker.state.fail_next(429, 2)
    tracker.state.fail_next(503, 1)
    with tracked.db.write() as session:
        session.scalars(select(TrackedNumber)).one().next_poll_at = clock.now()
    queue_tracking_jobs(tracked)
    assert run_jobs(tracked, POLL_JOB) == 1
    assert tracker.state.calls["gettrackinfo"] == 4
    assert tracker.state.faults == type(tracker.state.faults)()
    # Longer outages go back to the outbox, which retries the job later with backoff.
    tracker.state.fail_next(500, 8)
    with tracked.db.write() as session:
        session.scalars(select(TrackedNumber)).one().next_poll_at = clock.now()
    clock.advance(timedelta(minutes=10))
    queue_tracking_jobs(tracked)
    run_jobs(tracked, POLL_JOB)
    with tracked.db.read() as session:
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == POLL_JOB)
                              .order_by(OutboxJob.id.desc())).first()
        assert job is not None and (job.state, job.attempts) == ("pending", 1)
        assert job.next_run_at > clock.now() and "HTTP 500" in (job.last_error or "")
    tracker.state.faults.clear()
    assert run_jobs(tracked, POLL_JOB, ahead=timedelta(hours=1)) == 1
    with tracked.db.read() as session:
        assert session.get_one(OutboxJob, job.id).state == "done"


def test_a_number_17track_refuses_is_a_problem_the_owner_can_correct(
        tracked: Runtime, tracker: Tracker, woo_store: int, tmp_path: Path,
        wc_sandbox: WooCommerceSandbox, pushes_to: str, clock: FrozenClock) -> None:
    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    for _ in range(2):
        order = wc_sandbox.store.place_order([(product.id, 1)])
        sheet.order(str(order.id), str(order.line_items[0].id))
    # One number no carrier pattern matches; one the detected carrier does not know.
    tracker.state.set_scenario("LX500000002CN", "invalid")
    sheet.ship("QQ7731995", "LX500000002CN")
    register(tracked)
    refused = tracked_row(tracked, "QQ7731995")
    assert (refused.state, refused.problem_code) == ("rejected", "-18019903")
    [problem] = alerts_of(tracked, TRACKING_PROBLEM)
    assert "cannot track QQ7731995: the carrier could not be recognised" in problem
    assert "Correct the carrier" in problem
    with tracked.db.read() as session:
        alert = session.scalars(select(Alert).where(Alert.kind == TRACKING_PROBLEM)).one()
        assert alert.order_id is not None  # on the order
    # The owner names the carrier (YunExpress, 190107): registered again, with it.
    assert correct_carrier(tracked, refused.id, "190107") == "register"
    clock.advance(timedelta(minutes=10))
    register(tracked)
    assert tracker.state.tracked["QQ7731995"].carrier == 190107
    assert tracked_row(tracked, "QQ7731995").state == "registered"

    # The other: registered, but the carrier says "no such number" -> changecarrier.
    clock.set(tracker.state.next_due("LX500000002CN") or clock.now())
    tracker.state.deliver_due()
    run_jobs(tracked, "inbox.process")
    wrong = tracked_row(tracked, "LX500000002CN")
    assert wrong.problem_code == "invalid_number"
    assert correct_carrier(tracked, wrong.id, "2151") == "change"
    run_jobs(tracked, "tracking.change_carrier")
    assert tracker.state.tracked["LX500000002CN"].carrier == 2151
    assert tracker.state.calls["changecarrier"] == 1
    with tracked.db.read() as session:
        assert session.scalars(select(Alert.resolved_at).where(
            Alert.kind == TRACKING_PROBLEM)).all() != [None, None]
    assert count(tracked, Store) == 1


def test_the_contract_samples_replayed_through_the_sandbox_and_the_intake(
        tracked: Runtime, tracker: Tracker, live_url: str, contracts_dir: Path,
        one_parcel: str) -> None:
    """The verbatim samples: the v1 register body is accepted by the sandbox, the sandbox's
    getquota has the documented fields, and the documented TRACKING_STOPPED push, signed,
    goes through DropTrack's intake and stops the parcel it names."""
    samples = contracts_dir / "trackers" / "17track" / "samples"
    curl = (samples / "register_request.doc_v1_curl.txt").read_text()
    body = curl.split("--data '")[1].split("'")[0]
    answer = requests.post(f"{tracker.url}/register", data=body, timeout=5, headers={
        "17token": tracker.key, "Content-Type": "application/json"}).json()
    assert answer["code"] == 0 and answer["data"]["accepted"][0]["number"] == "RR123456789CN"
    quota = requests.post(f"{tracker.url}/getquota", timeout=5,
                          headers={"17token": tracker.key}).json()
    documented = json.loads((samples / "getquota_response.doc_example.json").read_text())
    assert set(quota["data"]) == set(documented["data"]) and quota["code"] == 0
    assert requests.post(f"{tracker.url}/getquota", timeout=5, headers={
        "17token": "wrong"}).status_code == 401
    stopped = json.loads((samples / "webhook_TRACKING_STOPPED.doc_example.json").read_text())
    stopped["data"]["number"] = one_parcel  # the documented body, naming our parcel
    raw = json.dumps(stopped).encode()
    assert post(live_url, raw, mapper.sign(raw, tracker.key)).status_code == 200
    run_jobs(tracked, "inbox.process")
    assert tracked_row(tracked, one_parcel).state == "stopped"


def test_numbers_are_registered_40_to_a_call(
        tracked: Runtime, tracker: Tracker, woo_store: int, tmp_path: Path,
        wc_sandbox: WooCommerceSandbox) -> None:
    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    for _ in range(45):
        order = wc_sandbox.store.place_order([(product.id, 1)])
        sheet.order(str(order.id), str(order.line_items[0].id))
    sheet.ship(*(f"LX6{n:08d}CN" for n in range(45)))
    register(tracked)
    assert len(tracker.state.tracked) == 45
    assert tracker.state.calls == {"register": 2, "getquota": 1}
    register(tracked)  # registered once: nothing to do, no call
    assert tracker.state.calls == {"register": 2, "getquota": 1}


def test_which_source_tracks_a_parcel_is_configurable_per_supplier_and_store(
        tracked: Runtime, tracker: Tracker, woo_store: int, tmp_path: Path,
        wc_sandbox: WooCommerceSandbox) -> None:
    from integration.storage.models import Supplier
    from integration.sync.tracking.service import set_source, source_for

    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    with tracked.db.write() as session:
        supplier = session.get_one(Supplier, sheet.id)
        store = session.get_one(Store, woo_store)
        rest = Supplier(name="API supplier", kind="rest", created_at=tracked.clock.now())
        session.add(rest)
        settings = tracked.settings
        assert source_for(settings, supplier, store) == "17track"  # spreadsheet: by default
        assert source_for(settings, rest, store) == "supplier"  # it sends carrier events
        set_source(session, store, "17track")
        assert source_for(settings, rest, store) == "17track"  # the store says so
        set_source(session, supplier, "supplier")
        assert source_for(settings, supplier, store) == "supplier"  # the supplier's wins
        with pytest.raises(ValueError, match="one of"):
            set_source(session, store, "pigeon")
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    order = wc_sandbox.store.place_order([(product.id, 1)])
    sheet.order(str(order.id), str(order.line_items[0].id))
    sheet.ship("LX700000001CN")
    register(tracked)
    assert tracker.state.tracked == {}  # the supplier tracks its own parcels


def test_the_owner_corrects_a_refused_number_from_the_command_line(
        tracked: Runtime, tracker: Tracker, woo_store: int, tmp_path: Path,
        wc_sandbox: WooCommerceSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from integration.cli.main import main

    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    order = wc_sandbox.store.place_order([(product.id, 1)])
    sheet.order(str(order.id), str(order.line_items[0].id))
    sheet.ship("QQ7731995")
    register(tracked)
    settings = tracked.settings
    for name, value in (("DATABASE_URL", settings.database.url),
                        ("SECURITY_SECRET_KEY", settings.security.secret_key),
                        ("SECURITY_ENCRYPTION_KEYS", settings.security.encryption_keys[0]),
                        ("TRACKING_SEVENTEEN_TRACK_KEY", tracker.key),
                        ("TRACKING_SEVENTEEN_TRACK_URL", tracker.url)):
        monkeypatch.setenv(f"DROPTRACK_{name}", value)
    runner = CliRunner()
    problems = runner.invoke(main, ["tracking", "problems"])
    assert problems.exit_code == 0 and "QQ7731995\trejected" in problems.output
    tracked_id = problems.output.split("\t")[0]
    fixed = runner.invoke(main, ["tracking", "correct-carrier", tracked_id, "190107"])
    assert fixed.exit_code == 0, fixed.output
    quota = runner.invoke(main, ["tracking", "quota"])
    assert quota.exit_code == 0 and "remaining=100" in quota.output, quota.output
    assert runner.invoke(main, ["tracking", "problems"]).output.strip() == "no problems"
    tracked.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    register(tracked)
    assert tracker.state.tracked["QQ7731995"].carrier == 190107


def test_the_dashboard_shows_the_quota_and_the_waiting_numbers(
        tracked: Runtime, tracker: Tracker, woo_store: int, tmp_path: Path,
        wc_sandbox: WooCommerceSandbox, client: object) -> None:
    from tests.integration.test_admin_dashboard import sign_in
    from tests.integration.test_admin_data import build_shop

    build_shop(tracked)  # the owner's account
    tracker.state.quota_total = 1
    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    product = wc_sandbox.store.add_product("Mug", sku="MUG")
    for _ in range(2):
        order = wc_sandbox.store.place_order([(product.id, 1)])
        sheet.order(str(order.id), str(order.line_items[0].id))
    sheet.ship("LX800000001CN", "LX800000002CN")
    register(tracked)
    clock = tracked.clock
    clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    register(tracked)  # asks getquota: still none
    assert sign_in(client).status_code == 302  # type: ignore[arg-type]
    page = client.get("/admin/").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "0 / 1</div>17track credits left · 1 waiting" in page


# -- cost per parcel -------------------------------------------------------------------------


def test_a_parcel_alone_costs_one_credit_and_two_calls_over_its_life(
        tracked: Runtime, tracker: Tracker, pushes_to: str, clock: FrozenClock,
        wc_sandbox: WooCommerceSandbox, woo_store: int, tmp_path: Path) -> None:
    """Three parcels, each alone in its sweeps, days apart, pushes working: each costs one
    register and one stoptrack; the quota is asked once for the install (the first
    registration), after that the credits are counted, so no parcel pays for a getquota of
    its own (before: one getquota per registration an hour after the last)."""
    sheet = Spreadsheet(tracked, woo_store, tmp_path)
    numbers = ["LX400000001CN", "LX400000002CN", "LX400000003CN"]
    for number in numbers:
        sheet.woo_orders(wc_sandbox.store, 1)
        sheet.ship(number)
        register(tracked)
        assert follow(tracked, tracker, clock, [number])[number][-1] == (Status.DELIVERED, None)
        queue_tracking_jobs(tracked)
        run_jobs(tracked, STOP_JOB)
        run_jobs(tracked, POLL_JOB)  # pushes arrived: nothing is due
        clock.advance(timedelta(days=1))
    assert tracker.state.calls == {"register": 3, "stoptrack": 3, "getquota": 1}
    assert tracker.state.quota_used == 3
    with tracked.db.read() as session:
        from integration.storage.models import TrackingQuota
        assert session.get_one(TrackingQuota, "17track").remaining == 97  # counted


def test_lost_pushes_fall_back_to_polling_within_the_bound(
        tracked: Runtime, tracker: Tracker, clock: FrozenClock, one_parcel: str) -> None:
    """Every push of a parcel's life is lost (17TRACK's webhook points nowhere). The hourly
    sweeps poll it every `poll_after_hours` (48 h; 12 h once it is out for delivery), so the
    delivery is known at most 48 h after the scan, for a few batched calls over the life."""
    polls_before = tracker.state.calls.get("gettrackinfo", 0)
    started = clock.now()
    delivered_at = None
    while True:
        due = tracker.state.next_due(one_parcel)
        if due is None and delivered_at is None:
            delivered_at = clock.now()  # the last scan (delivered) happened in the last hour
        tracker.state.deliver_due()  # the pushes go nowhere
        queue_tracking_jobs(tracked)
        run_jobs(tracked, POLL_JOB)
        if shipment_of(tracked, one_parcel).status == Status.DELIVERED:
            break
        assert clock.now() - started < timedelta(days=20), "never learned the delivery"
        clock.advance(timedelta(hours=1))
    assert delivered_at is not None
    assert clock.now() - delivered_at <= timedelta(hours=48)
    life_days = (clock.now() - started) / timedelta(days=1)
    polls = tracker.state.calls.get("gettrackinfo", 0) - polls_before
    assert 1 <= polls <= life_days / 2 + 2, (polls, life_days)
