"""Configuration: file, environment overrides, validation that names the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from integration.base.config import ConfigError, Settings, load_settings
from integration.security.crypto import generate_key

REPO = Path(__file__).resolve().parents[2]
SECRETS = {"DROPTRACK_SECURITY_SECRET_KEY": "s" * 40,
           "DROPTRACK_SECURITY_ENCRYPTION_KEYS": generate_key()}


def test_example_config_documents_every_key_with_its_default() -> None:
    example = tomllib.loads((REPO / "config.example.toml").read_text())
    defaults = Settings().model_dump()
    assert set(example) == set(defaults)
    for section, values in defaults.items():
        assert set(example[section]) == set(values), section
        for key, default in values.items():
            assert example[section][key] == default, f"{section}.{key}"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[dispatcher]\nthreads = 2\n[database]\nurl = "sqlite:///a.db"\n')
    settings = load_settings(path, environ={**SECRETS, "DROPTRACK_DISPATCHER_THREADS": "7",
                                            "DROPTRACK_DISPATCHER_ENABLED": "false"})
    assert settings.dispatcher.threads == 7
    assert settings.dispatcher.enabled is False
    assert settings.database.url == "sqlite:///a.db"
    assert len(settings.security.encryption_keys) == 1


def test_config_path_comes_from_droptrack_config(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("[server]\nport = 9999\n")
    settings = load_settings(None, environ={**SECRETS, "DROPTRACK_CONFIG": str(path)})
    assert settings.server.port == 9999


def test_postgres_urls_use_psycopg3() -> None:
    settings = load_settings(None, environ={**SECRETS,
                                            "DROPTRACK_DATABASE_URL": "postgres://u@h/db"})
    assert settings.database.url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(("environ", "message"), [
    ({"DROPTRACK_DISPATCHER_THREADS": "many"}, "dispatcher.threads"),
    ({"DROPTRACK_SERVER_PORT": "70000"}, "server.port"),
    ({"DROPTRACK_DATABASE_URL": "mysql://x"}, "database.url"),
    ({"DROPTRACK_APP_MODE": "staging"}, "app.mode"),
    ({"DROPTRACK_SECURITY_SECRET_KEY": "short"}, "security.secret_key: Value error, must be"),
    ({"DROPTRACK_SECURITY_ENCRYPTION_KEYS": "not-a-key"}, "security.encryption_keys"),
    ({"DROPTRACK_NOT_A_THING": "1"}, "DROPTRACK_NOT_A_THING: unknown setting"),
])
def test_invalid_values_name_the_key_and_reason(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, environ={**SECRETS, **environ})


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[dispatcher]\nthread = 2\n")
    with pytest.raises(ConfigError, match=r"dispatcher\.thread: unknown setting"):
        load_settings(path, environ=SECRETS)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[dispatcher\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(path, environ=SECRETS)


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_secrets_are_required_outside_demo_mode() -> None:
    with pytest.raises(ConfigError, match=r"security\.secret_key: required"):
        load_settings(None, environ={"DROPTRACK_SECURITY_ENCRYPTION_KEYS": generate_key()})
    with pytest.raises(ConfigError, match=r"security\.encryption_keys: required"):
        load_settings(None, environ={"DROPTRACK_SECURITY_SECRET_KEY": "s" * 40})
    demo = load_settings(None, environ={"DROPTRACK_APP_MODE": "demo"})
    assert demo.demo and demo.security.encryption_keys == []
