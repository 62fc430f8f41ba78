"""Pytest fixtures for the 17TRACK sandbox (sandboxes.seventeen_track).

* ``tracker``: the sandbox over real HTTP on a loopback port (one server per session, reset
  before each test), with ``.url`` (the v2.2 base), ``.state``, ``.key``. Its state reads the
  clock the test gives it (``tracker.state.clock = runtime.clock``).
* ``tracking_runtime``: the test's runtime configured for that sandbox (key, URL).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from core.clock import FrozenClock
from integration.kernel.runtime import Runtime
from sandboxes.server import BackgroundServer
from sandboxes.seventeen_track import DEFAULT_API_KEY, SeventeenTrackState, build

TRACKER_EPOCH = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass
class Tracker:
    server: BackgroundServer
    state: SeventeenTrackState
    key: str = DEFAULT_API_KEY

    @property
    def url(self) -> str:
        return f"{self.server.url}/track/v2.2"


@pytest.fixture(scope="session")
def _tracker_server() -> Iterator[Tracker]:
    app = build(FrozenClock(TRACKER_EPOCH))
    state: SeventeenTrackState = app.extensions["sandbox"]
    with BackgroundServer(app) as server:
        yield Tracker(server, state)
    state.close()


@pytest.fixture
def tracker(_tracker_server: Tracker) -> Tracker:
    state = _tracker_server.state
    state.reset()
    state.webhook_url = ""
    state.clock = FrozenClock(TRACKER_EPOCH)
    return _tracker_server


def configure_tracking(runtime: Runtime, tracker: Tracker, **tracking: object) -> None:
    """Point the runtime's [tracking] settings at the sandbox (before any job runs)."""
    section = runtime.settings.tracking.model_copy(update={
        "seventeen_track_key": tracker.key, "seventeen_track_url": tracker.url, **tracking})
    runtime.settings = runtime.settings.model_copy(update={"tracking": section})
