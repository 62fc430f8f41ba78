"""Every scenario of the reference supplier, end to end over real HTTP and real SMTP:
the right final status, the right alert, and exactly the right e-mails."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from core.domain import Address, OrderLine, Payment, StoreOrder
from integration.accounts import stores
from integration.accounts.suppliers import add_rest_supplier
from integration.base.config import Settings
from integration.engine.orders import import_order
from integration.kernel.runtime import Runtime
from integration.scheduling.scheduler import flag_attention_needed, queue_tracking_polls
from integration.storage.models import Alert, Order, Shipment, SkuMapping
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_supplier import SupplierSandbox
from tests.helpers.smtp import Inbox

CUSTOMER = "pat@example.com"
OWNER = "owner@example.com"


@dataclass(frozen=True)
class Expected:
    scenario: str
    final: tuple[str, str | None]  # the order's status and reason at the end
    seen: str | None  # a status the parcel must have shown on the way
    alerts: tuple[str, ...]
    customer_emails: int


CASES = [
    Expected("normal", ("delivered", None), "in_transit", (), 0),
    Expected("ready_for_pickup", ("delivered", None), "ready_for_pickup", (), 0),
    Expected("undelivered_recipient_unavailable", ("undelivered", "recipient_unavailable"),
             None, ("undelivered",), 0),
    Expected("undelivered_invalid_address", ("exception", "return_to_sender"), "undelivered",
             ("undelivered", "return_to_sender"), 1),
    Expected("undelivered_refused", ("exception", "return_to_sender"), "undelivered",
             ("undelivered", "return_to_sender"), 0),
    Expected("stuck_in_transit", ("in_transit", None), None, ("stuck_in_transit",), 0),
    Expected("no_tracking", ("processing", None), None, ("no_tracking",), 0),
    Expected("last_mile_change", ("delivered", None), "out_for_delivery", (), 0),
    Expected("out_of_stock", ("pending", "out_of_stock"), None, ("out_of_stock",), 0),
    # A week without carrier events, but delivered within the route's usual transit time
    # (15 days before the route has history): a delay, never "stuck".
    Expected("delayed", ("delivered", None), "exception", (), 0),
    Expected("customs", ("delivered", None), "exception", (), 0),
    Expected("lost", ("exception", "lost"), None, ("lost", "stuck_in_transit"), 0),
]


@pytest.fixture
def settings(database_url: str, smtp_server: tuple[Inbox, int]) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True}, email={
        "smtp_host": "127.0.0.1", "smtp_port": smtp_server[1], "security": "none",
        "owner_address": OWNER}, alerts={"owner_emails": "each", "email_grace_hours": 0})


@pytest.mark.parametrize("case", CASES, ids=[c.scenario for c in CASES])
def test_scenario(case: Expected, runtime: Runtime, supplier_sandbox: SupplierSandbox,
                  smtp_server: tuple[Inbox, int]) -> None:
    clock = supplier_sandbox.clock
    runtime.clock = clock
    store_id = stores.add_shopify_store(runtime, "scenario.myshopify.com", "tok", "secret")
    supplier = add_rest_supplier(runtime, "Reference", supplier_sandbox.url,
                                 supplier_sandbox.api_key)
    sku = "BAG-TOTE-CANVAS" if case.scenario == "out_of_stock" else "MUG-CERAMIC-11OZ"
    if case.scenario != "out_of_stock":
        supplier_sandbox.state.seed_scenario(case.scenario, order_number="#3001")
    with runtime.db.write() as session:
        session.add(SkuMapping(store_id=store_id, sku="ITEM", supplier_sku=sku,
                               supplier_id=supplier, created_at=clock.now()))
        import_order(session, store_id, StoreOrder(
            external_id="3001", number="#3001", email=CUSTOMER, payment=Payment.PAID,
            updated_at=clock.now(), lines=(OrderLine("1", 1, sku="ITEM"),),
            shipping_address=Address(name="Pat Doe", address1="742 Evergreen Terrace",
                                     city="Springfield", province="IL", postcode="62704",
                                     country="US")), clock.now())
    run_jobs(runtime, "supplier.forward")
    seen: set[str] = set()
    numbers: set[str] = set()
    for _ in range(70):  # 35 days, a sweep every 12 hours
        clock.advance(timedelta(hours=12))
        queue_tracking_polls(runtime)
        flag_attention_needed(runtime)
        for kind in ("supplier.poll", "notify.undelivered", "notify.owner_alert",
                     "notify.confirm_address"):
            run_jobs(runtime, kind)
        with runtime.db.read() as session:
            for shipment in session.scalars(select(Shipment)):
                seen.add(shipment.status)
                numbers.add(shipment.tracking_number)
    with runtime.db.read() as session:
        order = session.scalars(select(Order)).one()
        alerts = Counter(a.kind for a in session.scalars(select(Alert)))
    assert (order.status, order.reason) == case.final
    if case.seen:
        assert case.seen in seen
    assert sorted(alerts) == sorted(case.alerts) and all(n == 1 for n in alerts.values())
    inbox = smtp_server[0]
    assert len(inbox.to(CUSTOMER)) == case.customer_emails
    assert len(inbox.to(OWNER)) == len(case.alerts)  # one e-mail per alert, never two
    if case.scenario == "last_mile_change":
        with runtime.db.read() as session:
            parcel = session.scalars(select(Shipment)).one()  # one parcel, not a second
        assert len(numbers) == 2 and parcel.carrier == "USPS"  # its number was replaced
