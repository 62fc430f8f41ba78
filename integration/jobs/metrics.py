"""Per-process job metrics (durations, failures), exported by /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

JOB_SECONDS = Histogram("droptrack_job_duration_seconds", "Time spent running outbox jobs",
                        ["kind"], buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
JOB_FAILURES = Counter("droptrack_job_failures_total", "Outbox job runs that failed", ["kind"])


def observe(kind: str, seconds: float, failed: bool) -> None:
    JOB_SECONDS.labels(kind).observe(seconds)
    if failed:
        JOB_FAILURES.labels(kind).inc()
