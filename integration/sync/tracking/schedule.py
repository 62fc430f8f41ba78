"""The timed sweeps tracking services contribute: each only queues one job per service and
interval (register new numbers, the fallback poll, stop finished parcels)."""

from __future__ import annotations

from integration.jobs import outbox
from integration.jobs.timers import ScheduledJob
from integration.kernel.runtime import Runtime
from integration.sync.tracking import service as services
from integration.sync.tracking.polling import POLL_JOB, STOP_JOB
from integration.sync.tracking.registration import REGISTER_JOB

JOBS = (REGISTER_JOB, POLL_JOB, STOP_JOB)


def queue_tracking_jobs(runtime: Runtime) -> int:
    """One register, one poll and one stop job per configured service and interval."""
    settings = runtime.settings
    now = runtime.clock.now()
    bucket = int(now.timestamp() // (settings.tracking.sweep_minutes * 60))
    queued = 0
    with runtime.db.write() as session:
        for service in services.SERVICES:
            if not services.configured(settings, service):
                continue
            for kind in JOBS:
                queued += outbox.enqueue(session, kind, f"{kind}:{service}:{bucket}",
                                         {"service": service}, now,
                                         serial_key=f"{kind}:{service}")
    return queued


SCHEDULED: list[ScheduledJob] = [
    ScheduledJob("tracking.services", queue_tracking_jobs, minutes=1),
]
