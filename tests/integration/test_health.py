"""/healthz and /readyz: database reachable, migrations current, dispatcher alive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask.testing import FlaskClient

from core.clock import FrozenClock
from integration.base.config import Settings
from integration.jobs.dispatcher import Dispatcher
from integration.kernel.runtime import Runtime, build_runtime
from integration.web.app import create_app
from tests.conftest import make_settings


@contextmanager
def client_for(settings: Settings, migrate_first: bool = True) -> Iterator[FlaskClient]:
    runtime = build_runtime(settings)
    if migrate_first:
        from integration.storage import migrate

        migrate.upgrade(runtime.db)
    yield create_app(runtime=runtime).test_client()
    runtime.close()


def test_healthz_answers_while_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/missing/dir/droptrack.db")
    with client_for(settings, migrate_first=False) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json is not None and ready.json["checks"]["database"] == "unreachable"


def test_readyz_reports_pending_migrations(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/fresh.db")
    with client_for(settings, migrate_first=False) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json is not None
        assert ready.json["checks"]["migrations"] == "pending"


def test_readyz_needs_a_live_dispatcher(client: FlaskClient, runtime: Runtime) -> None:
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json is not None
    assert not_ready.json["checks"] == {"database": "ok", "migrations": "ok",
                                        "dispatcher": "not running"}
    dispatcher = Dispatcher(runtime)
    dispatcher.start()
    try:
        for _ in range(100):
            if client.get("/readyz").status_code == 200:
                break
            dispatcher._stop.wait(0.05)
        assert client.get("/readyz").json == {
            "status": "ready",
            "checks": {"database": "ok", "migrations": "ok", "dispatcher": "ok"},
        }
    finally:
        dispatcher.stop()


def test_readyz_without_an_embedded_dispatcher(database_url: str) -> None:
    settings = make_settings(database_url, dispatcher={"enabled": False})
    with client_for(settings) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json is not None and ready.json["checks"]["dispatcher"] == "disabled"


def test_readyz_is_right_under_a_simulated_clock(client: FlaskClient, runtime: Runtime) -> None:
    """The demo's clock runs days ahead in seconds: the dispatcher beating now is alive."""
    clock = FrozenClock(datetime(2026, 11, 26, 10, 0, tzinfo=UTC))
    runtime.clock = clock
    dispatcher = Dispatcher(runtime)
    dispatcher.start()
    try:
        for _ in range(100):
            if client.get("/readyz").status_code == 200:
                break
            dispatcher._stop.wait(0.05)
        clock.advance(timedelta(days=3))  # the demo jumps ahead
        assert client.get("/readyz").status_code == 200
    finally:
        dispatcher.stop()
