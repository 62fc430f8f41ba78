"""The parcel lives the 17TRACK sandbox plays: shared by every tracking sandbox
(sandboxes/trackers/timelines.py), written in 17TRACK's sub-status vocabulary."""

from sandboxes.trackers.timelines import (
    DEFAULT_SCENARIO,
    LAST_MILE_PROVIDER,
    SCENARIOS,
    Handover,
    Step,
    handover_for,
    last_mile_number,
)

__all__ = ["DEFAULT_SCENARIO", "LAST_MILE_PROVIDER", "SCENARIOS", "Handover", "Step",
           "handover_for", "last_mile_number"]
