"""A supplier down for longer than the retry budget: work waits for it (one circuit for
every worker) instead of giving up, the owner is told, and everything resumes by itself when
it answers again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from integration.accounts import stores
from integration.accounts.suppliers import add_rest_supplier
from integration.base.config import Settings
from integration.jobs.dispatcher import DEAD_JOB_ALERT
from integration.kernel.runtime import Runtime
from integration.limits import circuits
from integration.storage.models import Alert, Circuit, OutboxJob, SkuMapping, SupplierOrder
from tests.conftest import make_settings
from tests.helpers.jobs import run_jobs
from tests.helpers.sandbox_supplier import SupplierSandbox
from tests.integration.test_forwarding import place

FORWARD = "supplier.forward"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url, security={"allow_loopback_http": True})


@pytest.fixture
def shop(runtime: Runtime, supplier_sandbox: SupplierSandbox) -> tuple[int, int]:
    """A store whose MUG is sold by the reference supplier (over real HTTP)."""
    runtime.clock = supplier_sandbox.clock
    store_id = stores.add_shopify_store(runtime, "outage.myshopify.com", "tok", "secret")
    supplier_id = add_rest_supplier(runtime, "Reference Supplier", supplier_sandbox.url,
                                    supplier_sandbox.api_key)
    with runtime.db.write() as session:
        session.add(SkuMapping(store_id=store_id, sku="MUG", supplier_sku="MUG-CERAMIC-11OZ",
                               supplier_id=supplier_id, created_at=runtime.clock.now()))
    return store_id, supplier_id


def jobs(runtime: Runtime, kind: str) -> list[OutboxJob]:
    with runtime.db.read() as session:
        return list(session.scalars(select(OutboxJob).where(OutboxJob.kind == kind)))


def test_an_outage_longer_than_the_retry_budget_strands_nothing(
        runtime: Runtime, shop: tuple[int, int], supplier_sandbox: SupplierSandbox) -> None:
    store_id, supplier_id = shop
    supplier_sandbox.state.faults.add("error", endpoint="create_order", times=None, status=503)
    for number in ("#1", "#2", "#3"):
        place(runtime, store_id, number=number)
    max_attempts = jobs(runtime, FORWARD)[0].max_attempts
    # Two hours of outage, the queue worked every five minutes: far more tries than attempts.
    for _ in range(24):
        run_jobs(runtime, FORWARD)
        runtime.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    waiting = jobs(runtime, FORWARD)
    assert [job.state for job in waiting] == ["pending"] * 3  # none dead-lettered ...
    assert all(job.attempts > max_attempts for job in waiting)  # ... past the retry budget
    with runtime.db.read() as session:
        circuit = session.get_one(Circuit, f"supplier:{supplier_id}")
        down = session.scalars(select(Alert).where(
            Alert.kind == circuits.REMOTE_DOWN_ALERT)).all()
    assert circuit.open_until is not None
    assert len(down) == 1 and "not answering" in down[0].message  # once per outage
    # The supplier answers again: the work resumes by itself, each order placed once.
    supplier_sandbox.state.faults.clear()
    for _ in range(4):
        runtime.clock.advance(timedelta(minutes=16))  # type: ignore[attr-defined]
        run_jobs(runtime, FORWARD)
    with runtime.db.read() as session:
        statuses = session.scalars(select(SupplierOrder.status)).all()
        closed = session.get_one(Circuit, f"supplier:{supplier_id}")
    assert statuses == ["forwarded"] * 3
    assert len(supplier_sandbox.state.orders) == 3
    assert (closed.failures, closed.open_until) == (0, None)


def test_a_dead_letter_raises_an_owner_alert_with_its_email(
        runtime: Runtime, shop: tuple[int, int], supplier_sandbox: SupplierSandbox) -> None:
    supplier_sandbox.state.faults.add("error", endpoint="create_order", times=1, status=400)
    order_id = place(runtime, shop[0])
    run_jobs(runtime, FORWARD)
    [dead] = jobs(runtime, FORWARD)
    assert dead.state == "dead"
    with runtime.db.read() as session:
        alert = session.scalars(select(Alert).where(Alert.kind == DEAD_JOB_ALERT)).one()
        emails = session.scalars(select(OutboxJob).where(
            OutboxJob.kind == "notify.owner_alert",
            OutboxJob.payload["alert_id"].as_integer() == alert.id)).all()
    assert alert.order_id == order_id and "HTTP 400" in alert.message
    assert f"droptrack jobs replay {dead.id}" in alert.message
    assert len(emails) == 1
