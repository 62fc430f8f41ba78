"""Alerts that mean something: "stuck" follows the route's learned transit time, an alert that
resolves itself within its grace period never e-mails, and the owner gets at most one digest a
day (or one e-mail per alert, when configured), with short whole-sentence subjects."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.clock import FrozenClock
from core.domain import CarrierEvent
from core.status import Status
from integration.base.config import Settings
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.jobs import alerts
from integration.kernel.runtime import Runtime
from integration.scheduling.scheduler import flag_attention_needed
from integration.storage.models import Alert, Order, Shipment
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.smtp import Inbox, body
from tests.integration.test_sweeps import T0, setup_orders

OWNER = "owner@example.com"
ROUTE_DAYS = 20  # what this supplier's parcels to the US took, 20 times over


@pytest.fixture
def settings(database_url: str, smtp_server: tuple[Inbox, int]) -> Settings:
    return make_settings(database_url, email={
        "smtp_host": "127.0.0.1", "smtp_port": smtp_server[1], "security": "none",
        "from_address": "Shop <shop@example.com>", "owner_address": OWNER},
        alerts={"stuck_in_transit_days": 7, "email_grace_hours": 12})


def ship(runtime: Runtime, supplier_order: int, *events: tuple[Status, int]) -> None:
    with runtime.db.write() as session:
        apply_parcel_update(session, ParcelUpdate(
            supplier_order, f"p{supplier_order}", f"LX{supplier_order:09d}CN", events=[
                CarrierEvent(f"e{day}", status, T0 + timedelta(days=day))
                for status, day in events]), runtime.clock.now())


def stuck_orders(runtime: Runtime) -> set[int]:
    with runtime.db.read() as session:
        return set(session.scalars(select(Alert.order_id).where(
            Alert.kind == alerts.STUCK_IN_TRANSIT)))


def test_stuck_follows_the_route_learned_transit_time(runtime: Runtime,
                                                      smtp_server: tuple[Inbox, int]) -> None:
    runtime.clock = clock = FrozenClock(T0)
    *history, on_time, lost = setup_orders(runtime, 22)
    for supplier_order in history:  # the route's history: 20 days door to door
        ship(runtime, supplier_order, (Status.IN_TRANSIT, 0), (Status.DELIVERED, ROUTE_DAYS))
    with runtime.db.write() as session:
        for shipment in session.scalars(select(Shipment).where(
                Shipment.supplier_order_id.in_(history))):
            shipment.created_at = T0 - timedelta(days=60)
            shipment.delivered_at = T0 - timedelta(days=60 - ROUTE_DAYS)
    ship(runtime, on_time, (Status.IN_TRANSIT, 0))
    ship(runtime, lost, (Status.IN_TRANSIT, 0))

    # Quiet for 18 days: past the 7 quiet days, but this route takes 20: not stuck.
    for day in range(1, 19):
        clock.set(T0 + timedelta(days=day))
        flag_attention_needed(runtime)
    assert stuck_orders(runtime) == set()
    clock.set(T0 + timedelta(days=19))
    ship(runtime, on_time, (Status.IN_TRANSIT, 0), (Status.DELIVERED, 19))

    # Past the route's usual time and still quiet: stuck, once; the delivered one never.
    for day in range(19, 26):
        clock.set(T0 + timedelta(days=day))
        flag_attention_needed(runtime)
        run_jobs(runtime, alerts.OWNER_DIGEST_JOB)
    with runtime.db.read() as session:
        order_of = {row[0]: row[1] for row in session.execute(
            select(Shipment.supplier_order_id, Shipment.order_id))}
        [alert] = session.scalars(select(Alert).where(Alert.kind == alerts.STUCK_IN_TRANSIT))
        number = session.get_one(Order, order_of[lost]).number
    assert alert.order_id == order_of[lost]
    assert "usually takes up to" in alert.message
    # One digest the day after the grace period ran out, about that parcel.
    [digest] = smtp_server[0].to(OWNER)
    assert digest["Subject"] == "DropTrack: 1 order needs your attention."
    assert f"Order {number}: Stuck in transit" in body(digest)


def raise_for(runtime: Runtime, order_ids: list[int], kind: str = alerts.PAYMENT_ISSUE) -> None:
    with runtime.db.write() as session:
        for order_id in order_ids:
            alerts.raise_alert(session, kind, f"order:{order_id}", f"Order {order_id}: a "
                               "message long enough that a subject cut at 120 characters would "
                               "end in the middle of a word, which reads badly in an inbox.",
                               runtime.clock.now(), order_id=order_id)


def order_ids(runtime: Runtime, count: int) -> list[int]:
    setup_orders(runtime, count)
    with runtime.db.read() as session:
        return list(session.scalars(select(Order.id).order_by(Order.id)))


def test_one_digest_a_day_and_nothing_for_what_resolved_within_its_grace(
        runtime: Runtime, smtp_server: tuple[Inbox, int]) -> None:
    runtime.clock = clock = FrozenClock(T0)
    inbox = smtp_server[0]
    first, second, resolved, later = order_ids(runtime, 4)
    raise_for(runtime, [first, second, resolved])
    clock.advance(timedelta(hours=6))
    with runtime.db.write() as session:  # the payment arrived within the grace period
        alerts.resolve_alerts(session, resolved, (alerts.PAYMENT_ISSUE,), clock.now())
    flag_attention_needed(runtime)
    run_jobs(runtime, alerts.OWNER_DIGEST_JOB)
    assert inbox.to(OWNER) == []  # still within the grace period
    clock.advance(timedelta(hours=7))
    for _ in range(3):  # repeated sweeps, retried jobs: one digest
        flag_attention_needed(runtime)
        run_jobs(runtime, alerts.OWNER_DIGEST_JOB)
    [digest] = inbox.to(OWNER)
    assert digest["Subject"] == "DropTrack: 2 orders need your attention."
    text = body(digest)
    assert f"Order {first}: a message" in text and f"Order {resolved}:" not in text

    # A new alert the same day (the digest went out at 01:00) waits for tomorrow's digest;
    # then it is the only item.
    raise_for(runtime, [later])
    clock.advance(timedelta(hours=13))
    assert clock.now().date() == (T0 + timedelta(hours=13)).date()  # the digest's day
    flag_attention_needed(runtime)
    run_jobs(runtime, alerts.OWNER_DIGEST_JOB)
    assert len(inbox.to(OWNER)) == 1
    clock.set(T0 + timedelta(days=2))
    flag_attention_needed(runtime)
    run_jobs(runtime, alerts.OWNER_DIGEST_JOB)
    digests = inbox.to(OWNER)
    assert len(digests) == 2
    assert digests[1]["Subject"] == "DropTrack: 1 order needs your attention."
    assert f"Order {later}:" in body(digests[1]) and f"Order {first}:" not in body(digests[1])


@pytest.mark.parametrize("mode", ["each"])
def test_one_email_per_alert_when_configured(database_url: str, smtp_server: tuple[Inbox, int],
                                             mode: str) -> None:
    from core.clock import FrozenClock
    from integration.kernel.runtime import build_runtime
    from integration.storage import migrate

    runtime = build_runtime(make_settings(database_url, email={
        "smtp_host": "127.0.0.1", "smtp_port": smtp_server[1], "security": "none",
        "owner_address": OWNER}, alerts={"owner_emails": mode, "email_grace_hours": 1}))
    migrate.upgrade(runtime.db)
    try:
        runtime.clock = clock = FrozenClock(T0)
        first, second, resolved = order_ids(runtime, 3)
        raise_for(runtime, [first, second, resolved], kind=alerts.STUCK_IN_TRANSIT)
        with runtime.db.write() as session:
            alerts.resolve_alerts(session, resolved, (alerts.STUCK_IN_TRANSIT,), clock.now())
        clock.advance(timedelta(hours=2))
        for _ in range(2):
            flag_attention_needed(runtime)
            run_jobs(runtime, alerts.OWNER_ALERT_JOB)
        with runtime.db.read() as session:
            numbers = {row[0]: row[1] for row in session.execute(select(Order.id, Order.number))}
        subjects = sorted(m["Subject"] for m in smtp_server[0].to(OWNER))
        assert subjects == sorted(
            f"DropTrack: order {numbers[i]} needs attention (stuck in transit)."
            for i in (first, second))
    finally:
        runtime.close()
