"""Owner accounts and API tokens: argon2 password hashes, TOTP, hashed per-store tokens.

Domain code: no Flask. The web layer calls these and decides what to show.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.accounts.audit import record_audit
from integration.security.crypto import SecretBox
from integration.storage.accounts import ApiToken, User
from integration.storage.models import Store

MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "dt_"  # noqa: S105 (a marker that starts every token, not a secret)
TOTP_ISSUER = "DropTrack"

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong
# password and response times do not tell which accounts exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """An account or token cannot be created or changed as asked; the message says why."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise AccountError("the password must not start or end with spaces")


def create_user(session: Session, email: str, password: str, now: datetime,
                actor: str = "cli") -> int:
    address = normalize_email(email)
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        raise AccountError(f"{email!r} is not an e-mail address")
    check_password_strength(password)
    user = User(email=address, password_hash=hash_password(password), session_version=0,
                disabled=False, created_at=now)
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError:
        raise AccountError(f"an account for {address} already exists") from None
    record_audit(session, now, actor, "user.created", subject=address)
    return user.id


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def verify_password(session: Session, email: str, password: str) -> User | None:
    """The enabled user with this e-mail and password, or None (same cost either way)."""
    user = find_user(session, email)
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def set_password(session: Session, user_id: int, password: str, now: datetime,
                 actor: str = "cli") -> None:
    check_password_strength(password)
    user = session.get_one(User, user_id)
    user.password_hash = hash_password(password)
    user.session_version += 1  # signs out every existing session
    record_audit(session, now, actor, "user.password_changed", subject=user.email)


# --- second factor ----------------------------------------------------------------------------

def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, email: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def enable_totp(session: Session, box: SecretBox, user_id: int, secret: str, code: str,
                now: datetime, actor: str) -> bool:
    """Turn the second factor on once the user proves their app has the secret."""
    totp = pyotp.TOTP(secret)
    if not totp.verify(code.strip(), for_time=now, valid_window=1):
        return False
    user = session.get_one(User, user_id)
    user.totp_secret_encrypted = box.encrypt(secret)
    user.totp_last_step = totp.timecode(now)
    user.session_version += 1
    record_audit(session, now, actor, "user.totp_enabled", subject=user.email)
    return True


def verify_totp(session: Session, box: SecretBox, user_id: int, code: str,
                now: datetime) -> bool:
    """Check a code from the user's app; each code is accepted once."""
    user = session.get_one(User, user_id)
    if user.totp_secret_encrypted is None:
        return False
    totp = pyotp.TOTP(box.decrypt(user.totp_secret_encrypted))
    code = code.strip().replace(" ", "")
    for offset in (0, -1, 1):  # the current 30 s step, then its neighbours (clock drift)
        step = totp.timecode(now) + offset
        if user.totp_last_step is not None and step <= user.totp_last_step:
            continue
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected, code):
            user.totp_last_step = step
            return True
    return False


# --- API tokens -------------------------------------------------------------------------------

@dataclass(frozen=True)
class IssuedToken:
    id: int
    store_id: int
    token: str  # shown once, never stored


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, store_id: int, name: str, now: datetime,
                 actor: str = "cli") -> IssuedToken:
    if session.get(Store, store_id) is None:
        raise AccountError(f"there is no store {store_id}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(store_id=store_id, name=name.strip()[:100], token_hash=_digest(token),
                   prefix=token[:10], created_at=now)
    session.add(row)
    session.flush()
    record_audit(session, now, actor, "api_token.created", store_id=store_id,
                 subject=f"token {row.id} ({row.prefix}...)")
    return IssuedToken(row.id, store_id, token)


def resolve_token(session: Session, token: str) -> ApiToken | None:
    """The live token row for a presented bearer token, or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_token(session: Session, token_id: int, now: datetime, actor: str = "cli") -> bool:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    record_audit(session, now, actor, "api_token.revoked", store_id=row.store_id,
                 subject=f"token {row.id} ({row.prefix}...)")
    return True


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count(User.id))) or 0)
