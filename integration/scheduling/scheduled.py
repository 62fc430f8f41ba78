"""Timed sweeps contributed by each part of DropTrack, collected by the scheduler."""

from __future__ import annotations

import importlib

from integration.jobs.timers import ScheduledJob

# Modules with a module-level `SCHEDULED: list[ScheduledJob]`, imported by name: the scheduler
# sits above the rooms it times, and they never import it.
CONTRIBUTORS = ("integration.sync.shopify.schedule", "integration.sync.woocommerce.schedule",
                "integration.sync.tracking.schedule", "integration.sync.suppliers.tokens")


def contributed() -> list[ScheduledJob]:
    jobs: list[ScheduledJob] = []
    for name in CONTRIBUTORS:
        jobs.extend(importlib.import_module(name).SCHEDULED)
    return jobs
