"""DHL Unified Tracking end to end over real HTTP: a spreadsheet supplier whose parcels DHL
carries (its tracking source set to DHL) -> polled at the DHL sandbox within the daily call
budget -> each status written to a WooCommerce store once. The budget: DropTrack's own count
and DHL's 429 until 00:00 GMT both keep parcels waiting, nothing is lost, and they are polled
again after the reset. And the connector's errors (problem+json 404, 401, 5xx, 429)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.request_limits import InProcessRequestLimiter
from connectors.tracking.base import ProblemKind, QuotaExhausted, TrackRequest
from connectors.tracking.dhl.client import DhlAuthError
from connectors.tracking.dhl.connector import Dhl
from connectors.tracking.dhl.settings import DhlSettings
from core.clock import FrozenClock
from core.status import Status, rank
from integration.base.config import Settings
from integration.kernel.runtime import Runtime
from integration.storage.models import Supplier, TrackedNumber, TrackingQuota
from integration.sync.tracking.polling import POLL_JOB, STOP_JOB
from integration.sync.tracking.schedule import queue_tracking_jobs
from integration.sync.tracking.service import set_source
from sandboxes.dhl import DEFAULT_API_KEY, DhlState
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_trackers import Sandbox, configure_dhl
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox
from tests.integration.test_seventeen_track import Spreadsheet, register, shipment_of

DhlSandbox = Sandbox[DhlState]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def tracked(runtime: Runtime, dhl: DhlSandbox, clock: FrozenClock) -> Runtime:
    runtime.clock = clock
    dhl.state.clock = clock
    configure_dhl(runtime, dhl)
    return runtime


def dhl_sheet(runtime: Runtime, dhl: DhlSandbox, store_id: int, folder: Path,
              wc: WooCommerceSandbox, lives: dict[str, str]) -> list[int]:
    """A spreadsheet supplier whose parcels DHL carries: its tracking source is DHL."""
    sheet = Spreadsheet(runtime, store_id, folder)
    with runtime.db.write() as session:
        set_source(session, session.get_one(Supplier, sheet.id), "dhl")
    orders = sheet.woo_orders(wc.store, len(lives))
    for number, life in lives.items():
        dhl.state.ship(number, life)
    sheet.ship(*lives)
    register(runtime)
    return orders


def poll_until_settled(runtime: Runtime, clock: FrozenClock, numbers: list[str],
                       days: int = 12) -> dict[str, list[Status]]:
    """Run the poll sweep at each number's next due time until every life has ended."""
    seen: dict[str, list[Status]] = {n: [] for n in numbers}
    end = clock.now() + timedelta(days=days)
    while clock.now() < end:
        with runtime.db.read() as session:
            due = session.scalar(select(TrackedNumber.next_poll_at).where(
                TrackedNumber.state == "registered", TrackedNumber.next_poll_at.is_not(None))
                .order_by(TrackedNumber.next_poll_at).limit(1))
        if due is None:
            break
        due = due if due.tzinfo else due.replace(tzinfo=UTC)
        clock.set(max(due, clock.now()))
        queue_tracking_jobs(runtime)
        run_jobs(runtime, POLL_JOB)
        run_jobs(runtime, "store.writeback")
        for number in numbers:
            status = Status(shipment_of(runtime, number).status)
            if not seen[number] or seen[number][-1] != status:
                seen[number].append(status)
    return seen


def test_a_dhl_parcel_is_polled_within_its_daily_budget_into_woocommerce(
        tracked: Runtime, dhl: DhlSandbox, clock: FrozenClock, woo_store: int,
        wc_sandbox: WooCommerceSandbox, tmp_path: Path) -> None:
    lives = {"JJD000000000000000001": "delivered", "JJD000000000000000002": "failed_nobody"}
    orders = dhl_sheet(tracked, dhl, woo_store, tmp_path, wc_sandbox, lives)
    assert dhl.state.calls == {}  # registering costs DHL nothing
    seen = poll_until_settled(tracked, clock, list(lives))
    delivered, failed = (seen[n] for n in lives)
    assert delivered == [Status.INFO_RECEIVED, Status.IN_TRANSIT, Status.DELIVERED], delivered
    assert failed[-1] == Status.UNDELIVERED
    for statuses in seen.values():
        ranks = [rank(s, None) for s in statuses]
        assert ranks == sorted(ranks)
    notes = [n.note.split(".")[0] for n in wc_sandbox.store.order(orders[0]).notes
             if n.customer_note]
    assert len(notes) == len(set(notes)) and notes[-1] == "Your parcel has been delivered"
    # Within DHL's advice (at most 10 looks per shipment a day) and the 250-call day.
    per_day: dict[str, int] = {}
    for (_, day), calls in dhl.state.used.items():
        per_day[day] = per_day.get(day, 0) + calls
    assert max(per_day.values()) <= 2 * 10
    total = sum(per_day.values())
    with tracked.db.read() as session:
        quota = session.get_one(TrackingQuota, "dhl")
    assert quota.total == 250 and quota.used <= total
    # Stopping the delivered parcel costs nothing: DHL has nothing to stop.
    queue_tracking_jobs(tracked)
    run_jobs(tracked, STOP_JOB)
    assert sum(dhl.state.used.values()) == total


def answered(runtime: Runtime) -> list[str]:
    """The numbers DHL has answered about so far."""
    with runtime.db.read() as session:
        return list(session.scalars(select(TrackedNumber.number).where(
            TrackedNumber.last_update_at.is_not(None))))


def test_a_spent_budget_keeps_parcels_waiting_until_00_gmt(
        tracked: Runtime, dhl: DhlSandbox, clock: FrozenClock, woo_store: int,
        wc_sandbox: WooCommerceSandbox, tmp_path: Path) -> None:
    configure_dhl(tracked, dhl, dhl_daily_calls=3)  # DropTrack's own budget: 3 a day
    dhl.state.daily_calls = 4  # and DHL's, one more (another program shares the key)
    numbers = [f"JJD00000000000000010{i}" for i in range(5)]
    dhl_sheet(tracked, dhl, woo_store, tmp_path, wc_sandbox, dict.fromkeys(numbers,
                                                                          "delivered"))
    clock.set(datetime(2026, 11, 20, 22, 0, tzinfo=UTC))  # visible at DHL, 2 h before 00:00
    queue_tracking_jobs(tracked)
    run_jobs(tracked, POLL_JOB)
    assert dhl.state.calls_today() == 3  # the budget, not one more
    polled = answered(tracked)
    assert len(polled) == 3
    # Another program spends DHL's last call: DHL answers 429 until 00:00 GMT.
    clock.set(datetime(2026, 11, 20, 23, 0, tzinfo=UTC))
    with tracked.db.write() as session:  # as if our count had been lost (a restore)
        row = session.get_one(TrackingQuota, "dhl")
        row.used, row.remaining, row.exhausted = 0, 3, False
    dhl.state.used[(DEFAULT_API_KEY, "2026-11-20")] = 4
    queue_tracking_jobs(tracked)
    run_jobs(tracked, POLL_JOB)
    with tracked.db.read() as session:
        quota = session.get_one(TrackingQuota, "dhl")
        waiting = list(session.scalars(select(TrackedNumber.number).where(
            TrackedNumber.next_poll_at <= clock.now())))
    assert quota.exhausted and quota.remaining == 0
    assert sorted(waiting) == sorted(set(numbers) - set(polled))  # nothing lost
    five_past = datetime(2026, 11, 21, 0, 5, tzinfo=UTC)
    clock.set(five_past)  # the reset: both waiting parcels are polled
    queue_tracking_jobs(tracked)
    run_jobs(tracked, POLL_JOB)
    assert sorted(answered(tracked)) == sorted(numbers)
    assert dhl.state.calls_today() == 2


# -- the connector against the sandbox -----------------------------------------------------


def connector(dhl: DhlSandbox, clock: FrozenClock, key: str = DEFAULT_API_KEY) -> Dhl:
    return Dhl(DhlSettings(api_key=key, base_url=dhl.url, requests_per_second=50),
               InProcessRequestLimiter(), now=clock.now)


def test_the_connector_speaks_dhl(dhl: DhlSandbox, clock: FrozenClock) -> None:
    dhl.state.clock = clock
    dhl.state.ship("JJD000000000000000201", "returned")
    service = connector(dhl, clock)
    parcels, problems = service.track([TrackRequest("JJD000000000000000201")])
    assert parcels == [] and [(p.kind, p.code) for p in problems] == [
        (ProblemKind.NOT_TRACKED, "404")]  # not in DHL's system for 10-30 minutes
    assert "No result found: No shipment with given tracking number found" in \
        problems[0].message
    clock.advance(timedelta(days=9))
    dhl.state.fail_next(503)  # retried in the call
    [parcel], problems = service.track([TrackRequest("JJD000000000000000201")])
    assert problems == [] and parcel.service_carrier == "ecommerce"
    assert [e.raw_status for e in parcel.events][:2] == ["pre-transit", "transit"]
    assert parcel.events[-1].status == Status.UNDELIVERED  # DHL's "failure"
    assert parcel.estimated_delivery_at is not None
    wrong_service = service.track([TrackRequest("JJD000000000000000201",
                                                service_carrier="express")])
    assert wrong_service[1][0].kind is ProblemKind.NOT_TRACKED
    dhl.state.fail_next(429, times=3)  # 429s without Retry-After: the day's budget is gone
    with pytest.raises(QuotaExhausted) as spent:
        service.track([TrackRequest("JJD000000000000000201")])
    assert spent.value.resume_at == datetime(2026, 11, 30, tzinfo=UTC)
    dhl.state.set_rate_limit(1.0)  # the per-second limit's 429 (Retry-After: 1) is waited out
    assert all(service.track([TrackRequest("JJD000000000000000201")])[0] for _ in range(2))
    assert dhl.state.calls.get("429", 0) >= 2
    with pytest.raises(DhlAuthError):
        connector(dhl, clock, "wrong").track([TrackRequest("JJD000000000000000201")])
    assert service.register([TrackRequest("X")]).accepted  # nothing to register at DHL
    service.close()
