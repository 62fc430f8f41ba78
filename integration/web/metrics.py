"""GET /metrics: Prometheus text format.

Queue and inbox gauges are read from the database at scrape time (true for the whole
install, whichever process answers); job durations and failures are this process's own.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import func, select

import integration.jobs.metrics  # noqa: F401  (registers the job metrics)
from core.clock import as_utc
from integration.kernel.runtime import Runtime
from integration.storage.models import InboxDelivery, OutboxJob, Store
from integration.web import proxies

blueprint = Blueprint("metrics", __name__)


class DatabaseCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.runtime.clock.now()
        with self.runtime.db.read() as session:
            states = dict(session.execute(select(OutboxJob.state, func.count()).group_by(
                OutboxJob.state)).all())
            oldest_due = session.scalar(select(func.min(OutboxJob.next_run_at)).where(
                OutboxJob.state == "pending", OutboxJob.next_run_at <= now))
            oldest_inbox = session.scalar(select(func.min(InboxDelivery.received_at)).where(
                InboxDelivery.state == "received"))
            inbox_waiting = session.scalar(select(func.count()).select_from(InboxDelivery).where(
                InboxDelivery.state == "received")) or 0
            stores = session.execute(select(Store.id, Store.platform, Store.state,
                                            Store.settings)).all()
        depth = GaugeMetricFamily("droptrack_outbox_jobs", "Outbox jobs by state",
                                  labels=["state"])
        for state in ("pending", "running", "done", "dead"):
            depth.add_metric([state], float(states.get(state, 0)))
        yield depth
        yield GaugeMetricFamily("droptrack_outbox_oldest_due_seconds",
                                "Age of the oldest job that is due and not yet running",
                                value=_age(now, oldest_due))
        yield GaugeMetricFamily("droptrack_dead_letters", "Jobs that gave up (need a person)",
                                value=float(states.get("dead", 0)))
        yield GaugeMetricFamily("droptrack_inbox_waiting", "Webhook deliveries not processed",
                                value=float(inbox_waiting))
        yield GaugeMetricFamily("droptrack_inbox_lag_seconds",
                                "Age of the oldest unprocessed webhook delivery",
                                value=_age(now, oldest_inbox))
        health = GaugeMetricFamily("droptrack_store_healthy",
                                   "1 when a store is connected and its webhooks are healthy",
                                   labels=["store", "platform"])
        for store_id, platform, state, settings in stores:
            section = settings.get(platform) if isinstance(settings, dict) else None
            problem = isinstance(section, dict) and isinstance(section.get("health"), dict) \
                and not section["health"].get("ok", True)
            health.add_metric([str(store_id), platform],
                              0.0 if state != "active" or problem else 1.0)
        yield health


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - as_utc(then)).total_seconds()) if then else 0.0


def _allowed(runtime: Runtime) -> bool:
    if proxies.local_client(request.environ, runtime.settings):
        return True
    token = runtime.settings.metrics.token
    supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(supplied.encode(), token.encode())


@blueprint.get("/metrics")
def metrics() -> Response:
    runtime: Runtime = current_app.extensions["droptrack"]
    if not _allowed(runtime):
        abort(401)
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(runtime))
    body = generate_latest(registry) + generate_latest(REGISTRY)
    return Response(body, mimetype="text/plain; version=0.0.4; charset=utf-8")
