"""Accounts: argon2 hashes, password rules, one-time TOTP codes, hashed API tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest

from integration.accounts import owners as accounts
from integration.kernel.runtime import build_runtime
from integration.security.crypto import SecretBox, generate_key
from integration.storage import migrate
from integration.storage.accounts import User
from tests.conftest import make_settings

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_passwords_are_stored_as_argon2_hashes() -> None:
    hashed = accounts.hash_password("a long enough password")
    assert hashed.startswith("$argon2id$") and "a long enough password" not in hashed


@pytest.mark.parametrize("password", ["short", " padded password "])
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(accounts.AccountError):
        accounts.check_password_strength(password)


def test_users_totp_and_tokens(tmp_path: Path) -> None:
    runtime = build_runtime(make_settings(f"sqlite:///{tmp_path / 'a.db'}"))
    migrate.upgrade(runtime.db)
    box = SecretBox([generate_key()])
    try:
        with runtime.db.write() as session:
            user_id = accounts.create_user(session, " Owner@Example.com ", "x" * 12, NOW)
            with pytest.raises(accounts.AccountError, match="already exists"):
                accounts.create_user(session, "owner@example.com", "y" * 12, NOW)
            assert accounts.verify_password(session, "OWNER@example.com", "x" * 12) is not None
            assert accounts.verify_password(session, "owner@example.com", "wrong") is None
            assert accounts.verify_password(session, "nobody@example.com", "x" * 12) is None

            secret = accounts.new_totp_secret()
            totp = pyotp.TOTP(secret)
            assert not accounts.enable_totp(session, box, user_id, secret, "000000", NOW, "t")
            assert accounts.enable_totp(session, box, user_id, secret, totp.at(NOW), NOW, "t")
            user = session.get_one(User, user_id)
            assert user.totp_secret_encrypted and secret not in user.totp_secret_encrypted
            later = NOW + timedelta(seconds=60)
            code = totp.at(later)
            assert accounts.verify_totp(session, box, user_id, code, later)
            assert not accounts.verify_totp(session, box, user_id, code, later)  # used once
            assert not accounts.verify_totp(session, box, user_id, totp.at(NOW), later)

            with pytest.raises(accounts.AccountError, match="no store"):
                accounts.create_token(session, 42, "x", NOW)
    finally:
        runtime.close()
