"""Operations: /metrics, request ids, structured logs."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

from flask.testing import FlaskClient

from integration.base import logs
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from tests.helpers.jobs import run_jobs
from tests.helpers.webhook_fixtures import ConnectedStore, shopify_headers, shopify_order_body


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in /metrics")


def test_metrics_show_queue_inbox_and_dead_letters(client: FlaskClient, runtime: Runtime,
                                                   connected_shopify: ConnectedStore) -> None:
    body = shopify_order_body()
    client.post("/webhooks/shopify", data=body, headers=shopify_headers(body))
    with runtime.db.write() as session:
        outbox.enqueue(session, "no.such.kind", "doomed", {}, runtime.clock.now()
                       - timedelta(minutes=5))
    text = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(
        as_text=True)
    assert metric(text, 'droptrack_outbox_jobs{state="pending"}') == 2
    assert metric(text, "droptrack_inbox_waiting") == 1
    assert metric(text, "droptrack_outbox_oldest_due_seconds") >= 299
    run_jobs(runtime)
    text = client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_data(
        as_text=True)
    assert metric(text, "droptrack_dead_letters") == 1
    assert metric(text, "droptrack_inbox_waiting") == 0
    assert metric(text, 'droptrack_job_failures_total{kind="no.such.kind"}') >= 1
    assert 'droptrack_store_healthy{platform="shopify",store="1"} 1.0' in text


def test_metrics_need_a_token_from_elsewhere(client: FlaskClient) -> None:
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote).status_code == 401


def test_request_ids_are_echoed_and_reach_json_logs(client: FlaskClient) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("droptrack")
    logger.addHandler(handler)
    try:
        response = client.post("/webhooks/shopify", data=b"{}",
                               headers={"X-Request-ID": "req-42"})
        assert response.headers["X-Request-ID"] == "req-42"
        generated = client.get("/healthz").headers["X-Request-ID"]
        assert len(generated) == 32
        bad = client.get("/healthz", headers={"X-Request-ID": "x" * 200})
        assert bad.headers["X-Request-ID"] != "x" * 200
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    rejected = [line for line in lines if "rejected" in line["message"]]
    assert rejected and rejected[0]["request_id"] == "req-42"
    assert rejected[0]["level"] == "WARNING" and "time" in rejected[0]
