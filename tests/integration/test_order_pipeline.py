"""From a signed webhook to a decided order: intake, inbox job, mapper, engine."""

from __future__ import annotations

import json
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from integration.jobs import outbox
from integration.jobs.dispatcher import run_job
from integration.kernel.runtime import Runtime
from integration.storage.models import InboxDelivery, Order, OutboxJob, SkuMapping, Supplier
from tests.helpers.webhook_fixtures import (
    ConnectedStore,
    shopify_headers,
    woo_headers,
)


def run_due_jobs(runtime: Runtime, kind: str) -> int:
    with runtime.db.write() as session:
        claimed = [job for job in outbox.claim_due(session, "test", runtime.clock.now(),
                                                  timedelta(seconds=30), 100)]
    ran = 0
    for job in claimed:
        if job.kind == kind:
            run_job(runtime, job, chained=False)
            ran += 1
    return ran


def map_sku(runtime: Runtime, store_id: int, sku: str) -> None:
    with runtime.db.write() as session:
        supplier = Supplier(name=f"Supplier for {store_id}", kind="rest",
                            created_at=runtime.clock.now())
        session.add(supplier)
        session.flush()
        session.add(SkuMapping(store_id=store_id, sku=sku, supplier_id=supplier.id,
                               created_at=runtime.clock.now()))


SHOPIFY_ORDER = {
    "id": 450789469, "name": "#1001", "email": "bob@example.com", "financial_status": "paid",
    "updated_at": "2026-11-26T10:00:00-05:00", "created_at": "2026-11-26T09:59:00-05:00",
    "line_items": [{"id": 466157049, "sku": "LAMP-1", "quantity": 1, "title": "Lamp",
                    "product_id": 632910392, "variant_id": 39072856, "price": "19.90"}],
    "shipping_address": {"name": "Bob Norman", "address1": "Chestnut Street 92",
                         "city": "Louisville", "province_code": "KY", "zip": "40202",
                         "country_code": "US"},
}


def test_shopify_paid_order_webhook_reaches_the_engine(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    map_sku(runtime, connected_shopify.id, "LAMP-1")
    body = json.dumps(SHOPIFY_ORDER).encode()
    client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    assert run_due_jobs(runtime, "inbox.process") == 1
    with runtime.db.read() as session:
        order = session.scalars(select(Order)).one()
        assert (order.number, order.status, order.email) == ("#1001", "processing",
                                                             "bob@example.com")
        assert session.scalars(select(InboxDelivery)).one().state == "processed"
        kinds = sorted(session.scalars(select(OutboxJob.kind)))
    assert kinds == ["inbox.process", "supplier.forward"]


def test_woocommerce_pending_order_waits_for_payment(
        client: FlaskClient, runtime: Runtime, connected_woo: ConnectedStore) -> None:
    map_sku(runtime, connected_woo.id, "MUG")
    order = {"id": 88, "number": "88", "status": "pending",
             "date_modified_gmt": "2026-11-26T10:00:00",
             "billing": {"first_name": "Ann", "last_name": "Lee", "address_1": "Dam 1",
                         "city": "Amsterdam", "postcode": "1012 JS", "country": "NL",
                         "email": "ann@example.com"},
             "line_items": [{"id": 1, "sku": "MUG", "quantity": 1, "product_id": 3}]}
    body = json.dumps(order).encode()
    client.post(f"/webhooks/woocommerce/{connected_woo.id}", data=body, headers=woo_headers(body))
    run_due_jobs(runtime, "inbox.process")
    with runtime.db.read() as session:
        stored = session.scalars(select(Order)).one()
        assert (stored.status, stored.reason) == ("pending", "payment_issue")
    order.update(status="processing", date_modified_gmt="2026-11-26T10:05:00")
    body = json.dumps(order).encode()
    client.post(f"/webhooks/woocommerce/{connected_woo.id}", data=body, headers=woo_headers(body))
    run_due_jobs(runtime, "inbox.process")
    with runtime.db.read() as session:
        assert session.scalars(select(Order)).one().status == "processing"


def test_rejected_payload_is_dead_lettered_with_the_reason(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    body = json.dumps({"id": 1, "financial_status": "weird"}).encode()
    client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    run_due_jobs(runtime, "inbox.process")
    with runtime.db.read() as session:  # (the dead letter also queued its owner alert)
        job = session.scalars(select(OutboxJob).where(OutboxJob.kind == "inbox.process")).one()
        delivery = session.scalars(select(InboxDelivery)).one()
    assert job.state == "dead"
    assert "financial_status: unknown value 'weird'" in (job.last_error or "")
    assert delivery.state == "failed" and "updated_at" in (delivery.error or "")
