"""Pytest fixtures for the AliExpress sandbox (sandboxes.aliexpress).

* ``aliexpress``: the sandbox over real HTTP on a loopback port (one server per session, a
  fresh state before each test on a frozen clock), with ``.url``, ``.state``, ``.clock``.
* ``authorized(aliexpress)``: tokens for the sandbox's owner account, through the real OAuth
  code flow (authorize page -> code -> /auth/token/create).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connectors.request_limits import InProcessRequestLimiter
from connectors.suppliers.aliexpress.client import AliExpressClient
from connectors.suppliers.aliexpress.connector import AliExpress
from connectors.suppliers.aliexpress.mapper import Tokens
from connectors.suppliers.aliexpress.settings import AliExpressSettings
from core.clock import FrozenClock
from sandboxes.aliexpress import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, AliExpressState, build
from sandboxes.server import BackgroundServer

EPOCH = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CALLBACK = "https://droptrack.example/admin/suppliers/aliexpress/callback"


@dataclass
class AliExpressSandbox:
    server: BackgroundServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def state(self) -> AliExpressState:
        state: AliExpressState = self.server.app.extensions["sandbox"]
        return state

    @property
    def clock(self) -> FrozenClock:
        clock = self.state.clock
        assert isinstance(clock, FrozenClock)
        return clock

    def fresh(self, clock: FrozenClock | None = None, **options: Any) -> None:
        self.server.app.extensions["sandbox"] = AliExpressState(
            clock or FrozenClock(EPOCH), apps={DEFAULT_APP_KEY: DEFAULT_APP_SECRET}, **options)

    def settings(self, access_token: str = "", **changes: Any) -> AliExpressSettings:
        values: dict[str, Any] = {"app_key": DEFAULT_APP_KEY, "app_secret": DEFAULT_APP_SECRET,
                                  "access_token": access_token, "base_url": self.url,
                                  "timeout_seconds": 5.0, "requests_per_second": 0.0} | changes
        return AliExpressSettings(**values)

    def connector(self, access_token: str = "", **changes: Any) -> AliExpress:
        settings = self.settings(access_token, **changes)
        limiter = InProcessRequestLimiter()
        clock = self.state.clock
        client = AliExpressClient(settings, limiter,
                                  clock_ms=lambda: int(clock.now().timestamp() * 1000))
        return AliExpress(settings, limiter, client)

    def on_sandbox_time(self, connector: AliExpress) -> list[float]:
        """The connector's limiter waits on the sandbox's frozen clock (a wait advances it):
        the waits it made are returned, as a list that fills as it goes."""
        waits: list[float] = []
        limiter = connector.client.limiter
        assert isinstance(limiter, InProcessRequestLimiter)

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            self.clock.advance(timedelta(seconds=seconds))

        limiter.sleep = sleep
        limiter.now = lambda: self.clock.now().timestamp()
        return waits

    def authorize(self, account: str = "owner@example.com") -> str:
        """The owner approving the app on the authorize page: the code from the redirect."""
        connector = self.connector()
        page = requests.get(connector.authorize_url(CALLBACK, "st4te"), timeout=5)
        assert page.status_code == 200 and "Authorize" in page.text
        answer = requests.post(f"{self.url}/oauth/authorize", allow_redirects=False, data={
            "client_id": DEFAULT_APP_KEY, "redirect_uri": CALLBACK, "state": "st4te",
            "response_type": "code", "account": account}, timeout=5)
        assert answer.status_code == 302
        location = urlsplit(answer.headers["Location"])
        query = parse_qs(location.query)
        assert location.path.endswith("/callback") and query["state"] == ["st4te"]
        return query["code"][0]

    def tokens(self) -> Tokens:
        connector = self.connector()
        try:
            return connector.exchange_code(self.authorize())
        finally:
            connector.close()


@pytest.fixture(scope="session")
def _aliexpress_server() -> Iterator[AliExpressSandbox]:
    with BackgroundServer(build(FrozenClock(EPOCH))) as server:
        yield AliExpressSandbox(server)


@pytest.fixture
def aliexpress(_aliexpress_server: AliExpressSandbox) -> AliExpressSandbox:
    _aliexpress_server.fresh()
    return _aliexpress_server
