"""Timed sweeps contributed by each part of DropTrack, collected by the scheduler."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from integration.kernel.runtime import Runtime

# Modules with a module-level `SCHEDULED: list[ScheduledJob]`.
CONTRIBUTORS = ("integration.sync.shopify.schedule", "integration.sync.woocommerce.schedule")


@dataclass(frozen=True)
class ScheduledJob:
    id: str  # fixed, so a restart replaces rather than duplicates
    function: Callable[[Runtime], object]  # module-level, idempotent; its result is ignored
    minutes: float


def contributed() -> list[ScheduledJob]:
    jobs: list[ScheduledJob] = []
    for name in CONTRIBUTORS:
        jobs.extend(importlib.import_module(name).SCHEDULED)
    return jobs
