"""E-mails over a real SMTP server: each sent once, however often it is triggered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.domain import Address, CarrierEvent, OrderLine, Payment, StoreOrder
from core.status import Reason, Status
from integration.accounts import stores
from integration.base.config import Settings
from integration.engine.orders import import_order
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.scheduling.scheduler import flag_attention_needed
from integration.storage.models import (
    OutboxJob,
    SentNotification,
    SkuMapping,
    Supplier,
    SupplierOrder,
)
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.smtp import Inbox, body

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
GOOD = Address(name="Ann Lee", address1="Dam 1", city="Amsterdam", postcode="1012 JS",
               country="NL")


@pytest.fixture
def settings(database_url: str, smtp_server: tuple[Inbox, int]) -> Settings:
    return make_settings(database_url, email={
        "smtp_host": "127.0.0.1", "smtp_port": smtp_server[1], "security": "none",
        "from_address": "Shop <shop@example.com>", "owner_address": "owner@example.com"})


def place(runtime: Runtime, address: Address) -> None:
    store = stores.add_woocommerce_store(runtime, "https://shop.example", "ck", "cs", "whs")
    with runtime.db.write() as session:
        session.add(Supplier(name="S", kind="rest", created_at=T0))
        session.flush()
        session.add(SkuMapping(store_id=store, sku="MUG", supplier_id=1, created_at=T0))
        import_order(session, store, StoreOrder(
            external_id="5", number="5", email="ann@example.com", payment=Payment.PAID,
            updated_at=T0, lines=(OrderLine("1", 1, sku="MUG"),), shipping_address=address), T0)


def test_confirm_address_email_is_sent_once(runtime: Runtime,
                                            smtp_server: tuple[Inbox, int]) -> None:
    inbox = smtp_server[0]
    place(runtime, Address(name="Ann Lee", address1="Dam", city="Amsterdam",
                           postcode="ABCD", country="NL"))
    run_jobs(runtime, "notify.confirm_address")
    [message] = inbox.to("ann@example.com")
    assert message["Subject"] == "Please confirm your address for order 5"
    assert message["From"] == "Shop <shop@example.com>"
    text, html = body(message), body(message, "html")
    assert "postcode: not valid for this country" in text
    assert "<li>street address: no house number</li>" in html
    with runtime.db.write() as session:
        job = session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "notify.confirm_address")).one()
        outbox.replay(session, job.id, runtime.clock.now())
    run_jobs(runtime, "notify.confirm_address")
    assert len(inbox.to("ann@example.com")) == 1
    assert len(inbox.to("owner@example.com")) == 0
    # The owner hears of it in the day's digest, once its grace period is over.
    flag_attention_needed(runtime)
    run_jobs(runtime, "notify.owner_digest")
    [owner] = inbox.to("owner@example.com")
    assert owner["Subject"] == "DropTrack: 1 order needs your attention."
    assert "Order 5: Address to confirm" in body(owner)
    assert "shipping address needs confirmation" in body(owner)


def test_undelivered_parcel_asks_the_customer_once(runtime: Runtime,
                                                   smtp_server: tuple[Inbox, int]) -> None:
    place(runtime, GOOD)
    with runtime.db.write() as session:
        supplier_order = session.scalars(select(SupplierOrder)).one()
        for _ in range(2):
            apply_parcel_update(session, ParcelUpdate(
                supplier_order.id, "P", "LX123456785CN", events=[CarrierEvent(
                    "x", Status.UNDELIVERED, T0 + timedelta(days=9), Reason.INVALID_ADDRESS)]),
                T0 + timedelta(days=9))
    run_jobs(runtime, "notify.undelivered", ahead=timedelta(days=30))
    [message] = smtp_server[0].to("ann@example.com")
    assert message["Subject"] == "We could not deliver order 5"
    assert "the address could not be found" in body(message)
    with runtime.db.read() as session:
        assert len(session.scalars(select(SentNotification)).all()) == 1


def test_without_smtp_the_message_waits(database_url: str) -> None:
    from integration.kernel.runtime import build_runtime
    from integration.storage import migrate

    runtime = build_runtime(make_settings(database_url))
    migrate.upgrade(runtime.db)
    try:
        place(runtime, Address(name="Ann Lee", address1="Dam", city="Amsterdam",
                               postcode="ABCD", country="NL"))
        run_jobs(runtime, "notify.confirm_address")
        with runtime.db.read() as session:
            job = session.scalars(select(OutboxJob).where(
                OutboxJob.kind == "notify.confirm_address")).one()
        assert job.state == "pending" and "not configured" in (job.last_error or "")
        assert (job.next_run_at - runtime.clock.now()) > timedelta(minutes=50)
    finally:
        runtime.close()
