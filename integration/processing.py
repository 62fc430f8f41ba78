"""Outbox handler that turns a stored webhook delivery into work for the engine."""

from __future__ import annotations

import json
import logging

from integration import inbox
from integration.jobs import job
from integration.outbox import ClaimedJob, PermanentError
from integration.runtime import Runtime
from integration.storage.models import InboxDelivery

log = logging.getLogger(__name__)

ORDER_TOPICS = frozenset({
    "orders/create", "orders/paid", "orders/updated", "orders/cancelled",
    "order.created", "order.updated", "order.deleted", "order.restored",
})


@job(inbox.PROCESS_JOB)
def process_delivery(runtime: Runtime, claimed: ClaimedJob) -> None:
    inbox_id = claimed.payload.get("inbox_id")
    if not isinstance(inbox_id, int):
        raise PermanentError("payload has no inbox_id")
    now = runtime.clock.now()
    with runtime.db.write() as session:
        delivery = session.get(InboxDelivery, inbox_id)
        if delivery is None:
            raise PermanentError(f"inbox delivery {inbox_id} no longer exists")
        if delivery.state != "received":
            return  # already handled by an earlier run of this job
        try:
            json.loads(delivery.body)
        except ValueError as exc:
            inbox.mark(session, inbox_id, "failed", now, f"body is not JSON: {exc}")
            raise PermanentError(f"inbox delivery {inbox_id} is not JSON") from exc
        state = "processed" if delivery.topic in ORDER_TOPICS else "ignored"
        inbox.mark(session, inbox_id, state, now)
    log.info("inbox delivery %d (%s) %s", inbox_id, delivery.topic, state)
