"""Tables for who may use DropTrack: owner accounts, per-store API tokens, rate-limit counters.

Kept apart from models.py (same `Base`, same naming convention) so that access control has one
home. Secrets are never stored in the clear: passwords as argon2 hashes, API tokens as SHA-256
digests, TOTP seeds encrypted with the runtime's secret box.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integration.storage.models import Base


class User(Base):
    """A store owner (or a member of their team) who signs in to the dashboard."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Bumped on password change or "sign out everywhere": older session cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    # The last accepted TOTP time step: a code is good once, even within its 30 s window.
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for the JSON API, good for one store only."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters of the token, to tell tokens apart in lists (not enough to use one).
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class RateLimit(Base):
    """A fixed-window counter per key (login per IP and account, tracking lookups per IP).

    In the database so that every web worker shares it.
    """

    __tablename__ = "rate_limits"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]
