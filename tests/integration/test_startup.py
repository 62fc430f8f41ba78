"""Start-up and files: a key that cannot open the stored secrets, or a database that cannot be
opened, stops DropTrack with one line; the database files are private; loud warnings; every
page carries the security headers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from integration.accounts import stores
from integration.kernel import startup
from integration.kernel.runtime import Runtime, build_runtime
from integration.security.crypto import generate_key
from integration.storage import migrate
from tests.conftest import BACKEND, make_settings

DROPTRACK = str(Path(sys.executable).with_name("droptrack"))


def serve(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """`droptrack serve`, which must give up at once (a server that starts fails the test
    by running past the timeout)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DROPTRACK_")}
    return subprocess.run([DROPTRACK, "serve", "--port", "0"],
                          env={**clean, **env}, cwd=cwd, capture_output=True, text=True,
                          timeout=60, check=False)


def env_for(runtime: Runtime, **extra: str) -> dict[str, str]:
    settings = runtime.settings
    return {"DROPTRACK_DATABASE_URL": settings.database.url,
            "DROPTRACK_SECURITY_SECRET_KEY": settings.security.secret_key,
            "DROPTRACK_SECURITY_ENCRYPTION_KEYS": ",".join(settings.security.encryption_keys),
            "DROPTRACK_SCHEDULER_ENABLED": "false", **extra}


def test_a_valid_key_that_does_not_open_the_stored_secrets_stops_start_up(
        runtime: Runtime, tmp_path: Path) -> None:
    stores.add_shopify_store(runtime, "keys.myshopify.com", "shpat_x", "secret")
    result = serve(env_for(runtime, DROPTRACK_SECURITY_ENCRYPTION_KEYS=generate_key()),
                   tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "encryption_keys cannot decrypt the secrets stored" in line


@pytest.mark.parametrize("kind", ["missing folder", "not a database"])
def test_a_database_that_cannot_be_opened_stops_start_up_in_one_line(
        runtime: Runtime, tmp_path: Path, kind: str) -> None:
    if kind == "missing folder":
        url = f"sqlite:///{tmp_path / 'no-such-folder' / 'droptrack.db'}"
    else:
        garbage = tmp_path / "garbage.db"
        garbage.write_bytes(b"this is not a database file, just some text" * 100)
        url = f"sqlite:///{garbage}"
    result = serve(env_for(runtime, DROPTRACK_DATABASE_URL=url), tmp_path)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "cannot be opened" in line and "Traceback" not in result.stderr


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite files only")
def test_the_database_and_its_wal_are_private(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        runtime = build_runtime(make_settings(f"sqlite:///{tmp_path / 'private.db'}"))
        try:
            migrate.upgrade(runtime.db)
            with runtime.db.write() as session:
                session.execute(text("SELECT 1"))
            files = [tmp_path / "private.db", tmp_path / "private.db-wal"]
            assert all(path.exists() for path in files)
            assert [oct(path.stat().st_mode & 0o777) for path in files] == ["0o600", "0o600"]
        finally:
            runtime.close()
    finally:
        os.umask(previous)


def test_production_with_loopback_http_warns_loudly(runtime: Runtime) -> None:
    said: list[str] = []
    runtime.settings = runtime.settings.model_copy(update={
        "security": runtime.settings.security.model_copy(update={"allow_loopback_http": True})})
    startup.warn_about_settings(runtime, said.append)
    assert len(said) == 1 and said[0].startswith("WARNING") and "allow_loopback_http" in said[0]


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/shopify/install", "/no-such-page",
                                  "/woocommerce/connect", "/track", "/admin/login"])
def test_every_page_carries_the_security_headers(client: FlaskClient, path: str) -> None:
    answer = client.get(path)
    assert answer.headers.get("X-Content-Type-Options") == "nosniff", path
    assert answer.headers.get("Referrer-Policy"), path
    if answer.mimetype == "text/html":
        assert "default-src 'none'" in answer.headers.get("Content-Security-Policy", ""), path
