"""Pytest fixtures for the CJdropshipping sandbox (sandboxes.cj), served over real HTTP.

``cj_sandbox``: one server per session, reset before each test with a fresh API key (so the
process-wide request limiter, keyed by account, never carries one test's token budget into
the next); ``.url`` (the API base), ``.api_key``, ``.state``. ``add_cj_supplier`` connects it
to DropTrack through the CJ kind's own form handler and puts the sandbox on the runtime's
clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from core.clock import FrozenClock
from integration.accounts import cj
from integration.kernel.runtime import Runtime
from integration.storage.models import Supplier
from sandboxes.cj import CJState, build
from sandboxes.server import BackgroundServer

CJ_EPOCH = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
MUG_WHITE = "439FC05B-1311-4349-87FA-1E1EF942C418"  # 120 in CN, 4.20 USD
MUG_BLACK = "5B1A33C1-0A6E-4C0E-9B8A-2B8F7C9D1E22"  # none in stock
TEE = "7D2E44A9-6B1F-4C3D-8E9F-3C0A1B2D4E33"


@dataclass
class CJSandbox:
    server: BackgroundServer
    state: CJState
    api_key: str

    @property
    def url(self) -> str:
        return f"{self.server.url}/api2.0/v1"


@pytest.fixture(scope="session")
def _cj_server() -> Iterator[tuple[BackgroundServer, CJState]]:
    app = build(FrozenClock(CJ_EPOCH), api_keys=())
    with BackgroundServer(app) as server:
        yield server, app.extensions["sandbox"]


@pytest.fixture
def cj_sandbox(_cj_server: tuple[BackgroundServer, CJState]) -> CJSandbox:
    server, state = _cj_server
    key = f"CJ{uuid.uuid4().int % 10**7}@api@{uuid.uuid4().hex}"
    state.reset(api_keys=())
    state.add_account(key, qps=1000.0)
    return CJSandbox(server, state, key)


def add_cj_supplier(runtime: Runtime, sandbox: CJSandbox, *, name: str = "CJ",
                    pay_from_balance: bool = True, timeout_seconds: float = 5.0) -> int:
    sandbox.state.clock = runtime.clock  # one clock for DropTrack and CJ
    supplier_id = cj.add(runtime, name, {"api_key": sandbox.api_key, "base_url": sandbox.url,
                                         "pay_from_balance": "1" if pay_from_balance else ""})
    with runtime.db.write() as session:
        row = session.get_one(Supplier, supplier_id)
        row.settings = {**row.settings, "requests_per_second": 0.0,
                        "timeout_seconds": timeout_seconds}
    return supplier_id
