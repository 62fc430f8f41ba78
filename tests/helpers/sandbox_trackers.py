"""Pytest fixtures for the AfterShip and DHL sandboxes (sandboxes.aftership, sandboxes.dhl),
the same way as the 17TRACK one (tests/helpers/sandbox_17track.py).

* ``aftership`` / ``dhl``: the sandbox over real HTTP on a loopback port (one server per
  session, reset before each test), with ``.url`` (the API base) and ``.state``. Its state
  reads the clock the test gives it (``sandbox.state.clock = runtime.clock``).
* ``configure_aftership`` / ``configure_dhl``: the runtime's [tracking] settings pointed at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

import pytest

from core.clock import FrozenClock
from integration.accounts import stores
from integration.kernel.runtime import Runtime
from sandboxes import aftership as aftership_sandbox
from sandboxes import dhl as dhl_sandbox
from sandboxes.aftership import AfterShipState
from sandboxes.dhl import DhlState
from sandboxes.server import BackgroundServer
from sandboxes.trackers.common import SentPush
from tests.helpers.sandbox_17track import TRACKER_EPOCH
from tests.helpers.sandbox_woocommerce import WooCommerceSandbox

State = TypeVar("State", AfterShipState, DhlState)


@dataclass
class Sandbox(Generic[State]):
    server: BackgroundServer
    state: State
    prefix: str

    @property
    def url(self) -> str:
        return self.server.url + self.prefix


@pytest.fixture(scope="session")
def _aftership_server() -> Iterator[Sandbox[AfterShipState]]:
    app = aftership_sandbox.build(FrozenClock(TRACKER_EPOCH))
    state: AfterShipState = app.extensions["sandbox"]
    with BackgroundServer(app) as server:
        yield Sandbox(server, state, aftership_sandbox.PREFIX)
    state.close()


@pytest.fixture
def aftership(_aftership_server: Sandbox[AfterShipState]) -> Sandbox[AfterShipState]:
    state = _aftership_server.state
    state.reset()
    state.webhook_url = ""
    state.clock = FrozenClock(TRACKER_EPOCH)
    return _aftership_server


@pytest.fixture(scope="session")
def _dhl_server() -> Iterator[Sandbox[DhlState]]:
    app = dhl_sandbox.build(FrozenClock(TRACKER_EPOCH))
    state: DhlState = app.extensions["sandbox"]
    with BackgroundServer(app) as server:
        yield Sandbox(server, state, dhl_sandbox.PREFIX)


@pytest.fixture
def dhl(_dhl_server: Sandbox[DhlState]) -> Sandbox[DhlState]:
    state = _dhl_server.state
    state.reset()
    state.set_rate_limit(None)  # a test that wants DHL's 1 call a second sets it
    state.clock = FrozenClock(TRACKER_EPOCH)
    return _dhl_server


@pytest.fixture(name="clock")
def tracker_clock() -> FrozenClock:
    """The tracking tests' clock (a module's own `clock` fixture takes precedence)."""
    return FrozenClock(TRACKER_EPOCH)


@pytest.fixture(name="woo_store")
def tracked_woo_store(tracked: Runtime, wc_sandbox: WooCommerceSandbox) -> int:
    """A WooCommerce sandbox store with shipment tracking, connected to the module's `tracked`
    runtime (the DropTrack configured for that module's tracking service)."""
    wc_sandbox.store.set_tracking_mode("shipment_tracking")
    key = wc_sandbox.store.create_key()
    return stores.add_woocommerce_store(tracked, wc_sandbox.url, key.consumer_key,
                                        key.consumer_secret, "hook-secret")


def _configure(runtime: Runtime, **tracking: object) -> None:
    section = runtime.settings.tracking.model_copy(update=tracking)
    runtime.settings = runtime.settings.model_copy(update={"tracking": section})


def configure_aftership(runtime: Runtime, sandbox: Sandbox[AfterShipState],
                        **tracking: object) -> None:
    """AfterShip as the default service for spreadsheet parcels, pointed at the sandbox."""
    _configure(runtime, **{"service": "aftership",
                           "aftership_key": aftership_sandbox.DEFAULT_API_KEY,
                           "aftership_webhook_secret": sandbox.state.webhook_secret,
                           "aftership_url": sandbox.url, **tracking})


def configure_dhl(runtime: Runtime, sandbox: Sandbox[DhlState], **tracking: object) -> None:
    _configure(runtime, **{"dhl_key": dhl_sandbox.DEFAULT_API_KEY, "dhl_url": sandbox.url,
                           "dhl_requests_per_second": 50.0, **tracking})


class TimelineState(Protocol):
    def next_due(self, number: str) -> datetime | None: ...

    def deliver_due(self) -> list[SentPush]: ...


class PushingSandbox(Protocol):
    """A tracking sandbox that pushes its parcels' lives (17TRACK, AfterShip)."""

    @property
    def state(self) -> TimelineState: ...
