"""Woocommerce work for the outbox and the scheduler: job handlers and timed sweeps."""

from __future__ import annotations

from integration.scheduled import ScheduledJob

# Timed sweeps this module contributes to the scheduler (see integration/scheduled.py).
SCHEDULED: list[ScheduledJob] = []
