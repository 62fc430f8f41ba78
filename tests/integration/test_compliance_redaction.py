"""Compliance that completes: genuine shop/redact and customers/redact deliveries, through
the webhook endpoint and the real jobs, erase what they must and nothing else."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import select

from integration.engine import redaction
from integration.kernel.runtime import Runtime
from integration.storage.models import AuditLog, Binding, InboxDelivery, Order, OutboxJob, Store
from tests.helpers.jobs import run_jobs
from tests.helpers.webhook_fixtures import (
    SHOP,
    ConnectedStore,
    shopify_headers,
    shopify_order_body,
)


def deliver(client: FlaskClient, body: bytes, topic: str, webhook_id: str) -> None:
    answer = client.post("/webhooks/shopify", data=body,
                         headers=shopify_headers(body, webhook_id=webhook_id, topic=topic))
    assert answer.status_code == 200, answer.data


def unfinished(runtime: Runtime) -> list[tuple[str, str, str | None]]:
    with runtime.db.read() as session:
        return [(job.kind, job.state, job.last_error) for job in session.scalars(
            select(OutboxJob).where(OutboxJob.kind.in_(("inbox.process", redaction.REDACT_JOB)),
                                    OutboxJob.state != "done"))]


def test_a_genuine_shop_redact_completes(client: FlaskClient, runtime: Runtime,
                                         connected_shopify: ConnectedStore) -> None:
    for number in range(5):
        deliver(client, shopify_order_body(order_id=5000 + number, name=f"#{number}"),
                "orders/create", f"o{number}")
    run_jobs(runtime, "inbox.process")
    deliver(client, json.dumps({"shop_id": 1, "shop_domain": SHOP}).encode(), "shop/redact",
            "redact")
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, redaction.REDACT_JOB) == 1
    assert unfinished(runtime) == []  # nothing failed, nothing waits for a retry
    with runtime.db.read() as session:
        assert session.scalars(select(Store)).all() == []
        assert session.scalars(select(Order)).all() == []
        assert session.scalars(select(InboxDelivery)).all() == []
        assert session.scalars(select(Binding).where(Binding.owner_type == "store")).all() == []
        entry = session.scalars(select(AuditLog).where(
            AuditLog.action == "compliance.shop_redacted")).one()
    assert (entry.subject, entry.details) == (SHOP, {"orders_deleted": 5})


def test_shop_redact_of_many_orders_goes_in_batches(client: FlaskClient, runtime: Runtime,
                                                     connected_shopify: ConnectedStore) -> None:
    """More orders than one batch: every batch is its own transaction, all of them go."""
    count = redaction.BATCH_SIZE + 7
    for number in range(count):
        deliver(client, shopify_order_body(order_id=9000 + number, name=f"#{number}"),
                "orders/create", f"o{number}")
    run_jobs(runtime, "inbox.process")
    assert redaction.redact_shop(runtime, connected_shopify.id) == count
    with runtime.db.read() as session:
        assert session.scalars(select(Order)).all() == []


def test_customers_redact_matches_parsed_fields_not_substrings(
        client: FlaskClient, runtime: Runtime, connected_shopify: ConnectedStore) -> None:
    ada = {"email": "ada@example.com", "name": "#1001"}
    deliver(client, shopify_order_body(order_id=1001, **ada), "orders/create", "a1")
    # The same order again, sent as UTF-16 JSON (valid JSON; no byte of the e-mail as UTF-8).
    utf16 = json.loads(shopify_order_body(order_id=1001, **ada))
    utf16["updated_at"] = "2026-11-26T11:00:00-05:00"
    deliver(client, json.dumps(utf16).encode("utf-16"), "orders/updated", "a2")
    # Another customer whose order id merely contains "1001".
    deliver(client, shopify_order_body(order_id=21001, email="bob@example.com", name="#2"),
            "orders/create", "b1")
    run_jobs(runtime, "inbox.process")
    deliver(client, json.dumps({
        "shop_id": 1, "shop_domain": SHOP, "customer": {"id": 7, "email": "Ada@Example.com"},
        "orders_to_redact": [1001]}).encode(), "customers/redact", "redact")
    run_jobs(runtime, "inbox.process")
    assert run_jobs(runtime, redaction.REDACT_JOB) == 1
    assert unfinished(runtime) == []
    with runtime.db.read() as session:
        emails = {o.number: o.email for o in session.scalars(select(Order))}
        bodies = {d.dedupe_key.split(":")[1]: d.body for d in session.scalars(
            select(InboxDelivery))}
    assert emails == {"#1001": "", "#2": "bob@example.com"}
    assert bodies["a1"] == bodies["a2"] == b"{}"
    assert b"bob@example.com" in bodies["b1"]  # not over-matched on "1001"
    assert b"Ada@Example.com" in bodies["redact"]  # the request itself is the record
