"""A timed sweep a room contributes to the scheduler (see integration/scheduling/scheduled.py).

Defined here, below the rooms that contribute sweeps, so that a room can offer its sweeps
without importing the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from integration.kernel.runtime import Runtime


@dataclass(frozen=True)
class ScheduledJob:
    id: str  # fixed, so a restart replaces rather than duplicates
    function: Callable[[Runtime], object]  # module-level, idempotent; its result is ignored
    minutes: float
