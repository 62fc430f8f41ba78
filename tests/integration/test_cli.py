"""The droptrack command line: init, stores, keys rotate, jobs, and serve as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from sqlalchemy import select

from integration.base.config import Settings, load_settings
from integration.cli.main import main
from integration.jobs import outbox
from integration.kernel.runtime import build_runtime
from integration.security.crypto import SecretBox
from integration.storage.models import Store
from tests.helpers.served import start_droptrack_serve


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "DROPTRACK_DATABASE_URL": settings.database.url,
        "DROPTRACK_SECURITY_SECRET_KEY": settings.security.secret_key,
        "DROPTRACK_SECURITY_ENCRYPTION_KEYS": ",".join(settings.security.encryption_keys),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_writes_private_config_with_fresh_secrets_and_never_overwrites() -> None:
    first = run("init")
    assert first.exit_code == 0, first.output
    config = Path("config.toml")
    assert config.stat().st_mode & 0o777 == 0o600
    data = tomllib.loads(config.read_text())
    assert len(data["security"]["secret_key"]) >= 32
    settings = load_settings(config, environ={})
    assert settings.security.encryption_keys == data["security"]["encryption_keys"]
    before = config.read_text()
    second = CliRunner().invoke(main, ["init"])
    assert second.exit_code != 0
    assert "already exists" in second.output
    assert config.read_text() == before
    Path("other").mkdir()
    os.chdir("other")
    assert run("init").exit_code == 0
    assert Path("config.toml").read_text() != before


def test_missing_secrets_stop_the_start_with_the_key_named() -> None:
    result = CliRunner().invoke(main, ["stores", "list"])
    assert result.exit_code != 0
    assert "security.secret_key: required outside demo mode" in result.output


def test_stores_add_prints_the_id_last_and_list_shows_them(
        cli_env: dict[str, str], runtime: object) -> None:
    shopify = run("stores", "add-shopify", "--shop", "My-Shop.myshopify.com",
                  "--token", "shpat_abc", "--webhook-secret", "s1")
    assert shopify.exit_code == 0
    assert shopify.output.strip().splitlines()[-1] == "1"
    woo = run("stores", "add-woocommerce", "--url", "https://Woo.Example/", "--key", "ck_1",
              "--secret", "cs_1", "--webhook-secret", "s2")
    assert woo.exit_code == 0
    assert woo.output.strip().splitlines()[-1] == "2"
    assert "/webhooks/woocommerce/2" in woo.output
    listing = run("stores", "list").output
    assert "1\tshopify\tmy-shop.myshopify.com\tactive" in listing
    assert "2\twoocommerce\thttps://woo.example\tactive" in listing
    assert "shpat_abc" not in listing and "cs_1" not in listing


@pytest.mark.parametrize(("args", "message"), [
    (["add-shopify", "--shop", "evil.com", "--token", "t", "--webhook-secret", "s"],
     "is not a shop domain"),
    (["add-shopify", "--shop", "a.myshopify.com", "--token", " ", "--webhook-secret", "s"],
     "access token must not be empty"),
    (["add-shopify", "--shop", "a.myshopify.com", "--client-id", "id", "--client-secret",
      " "], "client id and secret must not be empty"),
    (["add-shopify", "--shop", "a.myshopify.com", "--client-id", "id", "--token", "t"],
     "give either --client-id and --client-secret"),
    (["add-shopify", "--shop", "a.myshopify.com"], "give either --client-id"),
    (["add-shopify", "--shop", "evil.com", "--client-id", "i", "--client-secret", "s"],
     "is not a shop domain"),
    (["add-woocommerce", "--url", "ftp://x", "--key", "k", "--secret", "s",
      "--webhook-secret", "w"], "must start with https://"),
    (["add-woocommerce", "--url", "https://u:p@x.example", "--key", "k", "--secret", "s",
      "--webhook-secret", "w"], "not in the URL"),
])
def test_bad_store_input_gets_a_clear_error(cli_env: dict[str, str], runtime: object,
                                            args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["stores", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "no stores connected" in run("stores", "list").output


def test_adding_the_same_store_twice_is_refused(cli_env: dict[str, str],
                                                runtime: object) -> None:
    args = ["stores", "add-shopify", "--shop", "a.myshopify.com", "--token", "t",
            "--webhook-secret", "s"]
    assert run(*args).exit_code == 0
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1
    assert "already connected" in again.output


def test_credentials_are_encrypted_at_rest(cli_env: dict[str, str], settings: Settings,
                                           runtime: object) -> None:
    run("stores", "add-shopify", "--shop", "a.myshopify.com", "--token", "shpat_secret_token",
        "--webhook-secret", "hook-secret")
    rt = build_runtime(settings)
    with rt.db.read() as session:
        store = session.scalars(select(Store)).one()
    rt.close()
    stored = " ".join(str(v) for v in (store.credentials_encrypted,
                                        store.webhook_secret_encrypted))
    assert "shpat_secret_token" not in stored and "hook-secret" not in stored
    box = SecretBox(settings.security.encryption_keys)
    assert box.decrypt_json(store.credentials_encrypted or "") == {
        "access_token": "shpat_secret_token"}


def test_keys_rotate_reencrypts_everything_under_a_new_key(
        settings: Settings, runtime: object, monkeypatch: pytest.MonkeyPatch) -> None:
    config = Path("config.toml")
    config.write_text(
        "# my comment survives\n[database]\n"
        f'url = "{settings.database.url}"\n[security]\n'
        f'secret_key = "{settings.security.secret_key}"\n'
        f'encryption_keys = ["{settings.security.encryption_keys[0]}"]\n'
    )
    run("stores", "add-shopify", "--shop", "a.myshopify.com", "--token", "tok",
        "--webhook-secret", "hook")
    old_key = settings.security.encryption_keys[0]
    result = run("keys", "rotate", "--retire-old")
    assert result.exit_code == 0, result.output
    assert "re-encrypted 2 secrets" in result.output
    rotated = tomllib.loads(config.read_text())["security"]["encryption_keys"]
    assert len(rotated) == 1 and rotated[0] != old_key
    assert "# my comment survives" in config.read_text()
    new_only = build_runtime(load_settings(config, environ={}))
    with new_only.db.read() as session:
        store = session.scalars(select(Store)).one()
    new_only.close()
    assert SecretBox(rotated).decrypt_json(store.credentials_encrypted or "") == {
        "access_token": "tok"}
    with pytest.raises(Exception, match="cannot be decrypted"):
        SecretBox([old_key]).decrypt(store.webhook_secret_encrypted or "")


def test_jobs_list_and_replay(cli_env: dict[str, str], settings: Settings,
                              runtime: object) -> None:
    rt = build_runtime(settings)
    now = rt.clock.now()
    with rt.db.write() as session:
        outbox.enqueue(session, "inbox.process", "dead-job", {}, now, max_attempts=1)
    with rt.db.write() as session:
        [claimed] = outbox.claim_due(session, "w", now, timedelta(seconds=5), 1)
        outbox.fail(session, claimed, outbox.PermanentError("bad data"), now, 1, 1)
    rt.close()
    listing = run("jobs", "list", "--state", "dead")
    assert "1\tdead\tinbox.process\tattempts=1" in listing.output
    assert "PermanentError: bad data" in listing.output
    assert run("jobs", "replay", "1").exit_code == 0
    assert "1\tpending\tinbox.process\tattempts=0" in run("jobs", "list").output
    missing = CliRunner().invoke(main, ["jobs", "replay", "99"])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_commands_refuse_an_unmigrated_database(cli_env: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPTRACK_DATABASE_URL", "sqlite:///fresh.db")
    add = CliRunner().invoke(main, ["stores", "add-shopify", "--shop", "a.myshopify.com",
                                    "--token", "t", "--webhook-secret", "hook"])
    assert add.exit_code == 1
    assert "run `droptrack db upgrade` first" in add.output
    assert run("db", "upgrade").exit_code == 0
    assert run("stores", "add-shopify", "--shop", "a.myshopify.com", "--token", "t",
               "--webhook-secret", "hook").exit_code == 0


@pytest.mark.slow
def test_serve_starts_answers_health_and_processes_webhooks(cli_env: dict[str, str]) -> None:
    assert run("db", "upgrade").exit_code == 0
    assert run("stores", "add-shopify", "--shop", "a.myshopify.com", "--token", "t",
               "--webhook-secret", "hook").exit_code == 0
    served = start_droptrack_serve(
        [sys.executable, "-m", "integration.cli"],
        env={**os.environ, "DROPTRACK_DISPATCHER_POLL_INTERVAL_SECONDS": "0.1"},
        stderr=subprocess.PIPE)
    process, base = served.process, served.url
    try:
        from tests.helpers.webhook_fixtures import shopify_headers, shopify_order_body

        body = shopify_order_body()
        headers = shopify_headers(body, secret="hook", shop="a.myshopify.com")
        assert requests.post(f"{base}/webhooks/shopify", data=body, headers=headers,
                             timeout=5).json()["status"] == "stored"
        deadline = time.monotonic() + 30
        while requests.get(f"{base}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "serve never became ready"
            time.sleep(0.2)
        deadline = time.monotonic() + 30
        while "\tdone\tinbox.process" not in run("jobs", "list").output:
            assert time.monotonic() < deadline, "the delivery was never processed"
            time.sleep(0.2)
    finally:
        _, errors = served.stop(signal.SIGTERM, 30)
    assert process.returncode == 0, errors
    assert "hook" not in errors.replace("webhook", "")
