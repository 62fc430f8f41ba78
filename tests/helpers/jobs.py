"""Run outbox jobs in the test's own process, deterministically."""

from __future__ import annotations

from datetime import timedelta

from integration.jobs import outbox
from integration.jobs.dispatcher import run_job
from integration.kernel.runtime import Runtime
from integration.storage.models import OutboxJob


def run_jobs(runtime: Runtime, kind: str | None = None, ahead: timedelta = timedelta(0)) -> int:
    """Claim every job due by now + `ahead` (to include backed-off retries), run those of
    `kind` (or all), and put the others back. Returns how many ran."""
    with runtime.db.write() as session:
        claimed = outbox.claim_due(session, "test-runner", runtime.clock.now() + ahead,
                                   timedelta(seconds=60), 1000)
        skipped = [job for job in claimed if kind is not None and job.kind != kind]
        for job in skipped:
            row = session.get_one(OutboxJob, job.id)
            row.state, row.attempts, row.lease_owner = outbox.PENDING, row.attempts - 1, None
    ran = 0
    for job in claimed:
        if kind is None or job.kind == kind:
            run_job(runtime, job, chained=False)  # follow-ups wait for the test to run them
            ran += 1
    return ran


def poll_supplier_orders(runtime: Runtime) -> int:
    """What the scheduler's poll sweep would queue, now: one poll of every supplier order;
    then run them. Returns how many ran."""
    from sqlalchemy import select

    from integration.engine.forwarding import POLL_JOB
    from integration.storage.models import SupplierOrder

    now = runtime.clock.now()
    with runtime.db.write() as session:
        for row in session.scalars(select(SupplierOrder)):
            outbox.enqueue(session, POLL_JOB, f"poll:{row.id}:{now.isoformat()}",
                           {"supplier_order_id": row.id}, now)
    return run_jobs(runtime, POLL_JOB)
