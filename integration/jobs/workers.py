"""Scaled-out job execution: Dramatiq workers on Redis run the outbox's jobs.

The outbox stays the source of truth. The scheduler puts due job ids on the queue; a worker
leases that job in the database, runs it and records the outcome (retries with backoff and
dead letters are the outbox's, so Dramatiq itself never retries). A message that is lost,
duplicated or delivered late is harmless: the lease decides who runs what.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Retries, ShutdownNotifications, TimeLimit

from integration.base.config import load_settings
from integration.jobs import chain, outbox
from integration.jobs.dispatcher import run_job
from integration.kernel.runtime import Runtime, build_runtime

log = logging.getLogger(__name__)

QUEUE = "droptrack-outbox"
JOB_TIME_LIMIT_MS = 15 * 60 * 1000
_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def make_broker(redis_url: str) -> RedisBroker:
    # No Prometheus middleware (it would open a port per process). Retries is there only so
    # actors can say max_retries=0: the outbox decides about retries, not Dramatiq.
    return RedisBroker(url=redis_url, middleware=[  # type: ignore[no-untyped-call]
        AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Retries()])


def runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = build_runtime(load_settings())
        return _runtime


# Actors bind to the broker that is current when they are declared. A worker process
# (`droptrack worker` runs `dramatiq integration.jobs.workers`) consumes from the Redis in its
# configuration; elsewhere the declaration needs a broker object only, and senders use their
# own (see `send`), so no connection is made at import.
if os.environ.get("DROPTRACK_WORKER_PROCESS") == "1":
    dramatiq.set_broker(make_broker(runtime().settings.workers.redis_url))
    if runtime().settings.workers.send_at_commit:
        # A worker's own follow-ups: the first runs next in the same thread (run_job), the
        # others go on the queue as soon as the transaction that created them commits.
        chain.set_announcer(lambda ids: send(dramatiq.get_broker(), list(ids)),  # type: ignore[arg-type]
                            queued_for=timedelta(
                                seconds=runtime().settings.workers.queue_grace_seconds))
else:
    dramatiq.set_broker(make_broker("redis://127.0.0.1:6379/0"))


def worker_owner() -> str:
    return f"worker:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=JOB_TIME_LIMIT_MS)
def run_outbox_job(job_id: int) -> None:
    rt = runtime()
    lease = timedelta(seconds=rt.settings.dispatcher.lease_seconds)
    with rt.db.write() as session:
        claimed = outbox.claim_one(session, job_id, worker_owner(), rt.clock.now(), lease)
    if claimed is None:
        return  # another worker has it, or it is done: a duplicate message
    run_job(rt, claimed)


def send(broker: RedisBroker, job_ids: list[int]) -> None:
    """Put jobs on the queue through `broker` (the scheduler's, from its configuration)."""
    for job_id in job_ids:
        broker.enqueue(run_outbox_job.message(job_id))

