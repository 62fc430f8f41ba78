"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when configured).

Set TEST_POSTGRES_URL (an admin URL of a throwaway server; scripts/test starts one)
and TEST_DATABASE_BACKEND=postgresql to run the suite on PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from integration.base.config import Settings, load_settings
from integration.kernel.runtime import Runtime, build_runtime
from integration.security.crypto import generate_key
from integration.storage import migrate
from integration.web.app import create_app
from sandboxes.server import BackgroundServer

# Property tests check behaviour, never speed: a busy CI machine must not fail them.
hypothesis_settings.register_profile("droptrack", deadline=None,
                                     suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("droptrack")

pytest_plugins = [
    "tests.helpers.webhook_fixtures",
    "tests.helpers.browser",
    "tests.helpers.sandbox_shopify",
    "tests.helpers.sandbox_woocommerce",
    "tests.helpers.sandbox_supplier",
    "tests.helpers.sandbox_17track",
    "tests.helpers.sandbox_aliexpress",
    "tests.helpers.sandbox_cj",
    "tests.helpers.sandbox_trackers",
    "tests.helpers.smtp",
    "tests.helpers.redis_server",
    "tests.helpers.woocommerce_connector",
    "tests.helpers.woo_backends",
    "tests.helpers.shopify_connector",
]

BACKEND = os.environ.get("TEST_DATABASE_BACKEND", "sqlite")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "")
CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "shared" / "contracts"
TEMPLATE_DB = "droptrack_test_template"
_template_lock = threading.Lock()
_template_ready = False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that gets a database (through the database_url fixture) `database`:
    scripts/test runs only those a second time, on PostgreSQL. Tests that reach the database
    another way carry the marker themselves."""
    for item in items:
        if "database_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.database)


def _postgres_url(database: str) -> str:
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


def _ensure_postgres_template() -> None:
    """Migrate a template database once; each test copies it (fast) instead of migrating."""
    global _template_ready
    with _template_lock:
        if _template_ready:
            return
        admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}"))
            connection.execute(text(f"CREATE DATABASE {TEMPLATE_DB}"))
        admin.dispose()
        runtime = build_runtime(make_settings(_postgres_url(TEMPLATE_DB)))
        migrate.upgrade(runtime.db)
        runtime.close()
        _template_ready = True


def make_settings(database_url: str, **sections: dict[str, Any]) -> Settings:
    overrides: dict[str, dict[str, Any]] = {
        "database": {"url": database_url},
        "security": {"secret_key": secrets.token_urlsafe(40),
                     "encryption_keys": [generate_key()]},
        "dispatcher": {"poll_interval_seconds": 0.05, "backoff_base_seconds": 0.05,
                       "backoff_max_seconds": 0.2, "lease_seconds": 30},
    }
    for section, values in sections.items():
        overrides[section] = {**overrides.get(section, {}), **values}
    return load_settings(None, environ={}, overrides=overrides)


@pytest.fixture(autouse=True)
def _isolated_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes a config.toml or droptrack.db of the developer's checkout."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("DROPTRACK_"):
            monkeypatch.delenv(name)


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    if BACKEND == "sqlite":
        yield f"sqlite:///{tmp_path / 'droptrack.db'}"
        return
    if not POSTGRES_ADMIN_URL:
        pytest.fail("TEST_DATABASE_BACKEND=postgresql needs TEST_POSTGRES_URL")
    _ensure_postgres_template()
    name = f"droptrack_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    try:
        yield _postgres_url(name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = build_runtime(settings)
    migrate.upgrade(rt.db)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    application = create_app(runtime=runtime)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The app served over real HTTP on an ephemeral loopback port (stopped cleanly: requests
    still in flight finish before the server closes)."""
    with BackgroundServer(app) as server:
        yield server.url


@pytest.fixture
def contracts_dir() -> Path:
    if not CONTRACTS_DIR.is_dir():
        pytest.skip(f"platform contract data not found at {CONTRACTS_DIR} (shared/ is absent)")
    return CONTRACTS_DIR
