"""Behind a reverse proxy everyone is 127.0.0.1, unless DropTrack is told which proxies to
trust: then limits and /metrics see the real client, and a spoofed header proves nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from integration.base.config import Settings
from integration.kernel.runtime import Runtime, build_runtime
from integration.storage import migrate
from integration.web.app import create_app
from tests.conftest import make_settings

PROXY, VISITOR, OTHER, STRANGER = "127.0.0.1", "203.0.113.5", "203.0.113.6", "198.51.100.7"


@pytest.fixture
def app_with(database_url: str) -> Iterator[Callable[..., Flask]]:
    """The app with some settings (closed after the test)."""
    runtimes: list[Runtime] = []

    def build(**sections: dict[str, Any]) -> Flask:
        settings: Settings = make_settings(database_url, **sections)
        runtime = build_runtime(settings)
        runtimes.append(runtime)
        migrate.upgrade(runtime.db)
        app = create_app(runtime=runtime)
        app.config["TESTING"] = True
        return app

    yield build
    for runtime in runtimes:
        runtime.close()


def lookup(app: Flask, peer: str, forwarded: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return app.test_client().post("/track.json", json={"order": "#1", "email": "a@b.c"},
                                  headers=headers, environ_base={"REMOTE_ADDR": peer}
                                  ).status_code


def test_track_limits_count_each_client_behind_a_trusted_proxy(
        app_with: Callable[..., Flask]) -> None:
    app = app_with(server={"trusted_proxies": ["127.0.0.1/32"]},
                   admin={"tracking_lookups_per_window": 2})
    assert [lookup(app, PROXY, VISITOR) for _ in range(3)] == [404, 404, 429]
    assert lookup(app, PROXY, OTHER) == 404  # another visitor behind the same proxy
    assert lookup(app, PROXY, f"{VISITOR}, {PROXY}") == 429  # a chain of our own proxies
    # A caller that is not our proxy cannot pick an address by sending the header.
    assert [lookup(app, STRANGER, OTHER) for _ in range(3)] == [404, 404, 429]
    assert lookup(app, PROXY, OTHER) == 404


def test_proxy_hops_take_the_address_the_last_proxy_saw(app_with: Callable[..., Flask]) -> None:
    app = app_with(server={"proxy_hops": 1},
                   admin={"tracking_lookups_per_window": 1})
    assert lookup(app, PROXY, f"10.9.9.9, {VISITOR}") == 404
    assert lookup(app, PROXY, f"10.1.1.1, {VISITOR}") == 429  # the spoofable left part differs
    assert lookup(app, PROXY, OTHER) == 404


def metrics(app: Flask, peer: str, forwarded: str | None = None, token: str = "") -> int:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return app.test_client().get("/metrics", headers=headers,
                                 environ_base={"REMOTE_ADDR": peer}).status_code


def test_loopback_is_not_trusted_when_published_without_a_proxy_setting(
        app_with: Callable[..., Flask]) -> None:
    app = app_with(app={"public_url": "https://droptrack.example.com"},
                   metrics={"token": "scrape-token"})
    assert metrics(app, PROXY) == 401  # a local proxy would make every visitor look local
    assert metrics(app, PROXY, token="scrape-token") == 200


def test_metrics_behind_a_trusted_proxy_use_the_client_address(
        app_with: Callable[..., Flask]) -> None:
    app = app_with(app={"public_url": "https://droptrack.example.com"},
                   server={"trusted_proxies": ["127.0.0.1/32"]})
    assert metrics(app, PROXY, VISITOR) == 401
    assert metrics(app, PROXY, f"{VISITOR}, 127.0.0.1") == 401
    assert metrics(app, PROXY) == 200  # a scraper on this machine, not through the proxy


def test_loopback_scrapes_stay_free_on_a_loopback_install(
        app_with: Callable[..., Flask]) -> None:
    app = app_with()  # public_url http://127.0.0.1:8080
    assert metrics(app, PROXY) == 200
    assert metrics(app, STRANGER) == 401
