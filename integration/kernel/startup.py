"""Checks run before DropTrack starts working: each failure is one line saying what to fix.

* the database opens (a missing folder, a file that is not a database, a server that refuses
  the login: said plainly, not as a traceback);
* the configured encryption keys open the secrets already stored (a valid key that is not the
  one they were encrypted with would otherwise surface later, as failing jobs);
* production with `security.allow_loopback_http` is warned about loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url

from integration.kernel.runtime import Runtime
from integration.security.crypto import SecretDecryptionError
from integration.storage.models import Store, Supplier

log = logging.getLogger("droptrack")


class StartupError(Exception):
    """DropTrack must not start; the message is the one line to show."""


def database_label(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def check_database(runtime: Runtime) -> None:
    try:
        runtime.db.ping()
    except Exception as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        raise StartupError(f"the database {database_label(runtime.db.url)} cannot be opened: "
                           f"{reason}") from None


def check_encryption_keys(runtime: Runtime) -> None:
    """Decrypt one stored secret of each kind; none stored yet is fine."""
    with runtime.db.read() as session:
        tables = set(inspect(session.connection()).get_table_names())
        if not {"stores", "suppliers"} <= tables:
            return  # a new database: nothing stored yet
        samples = [session.scalar(select(column).where(column.is_not(None)).limit(1))
                   for column in (Store.webhook_secret_encrypted, Store.credentials_encrypted,
                                  Supplier.credentials_encrypted,
                                  Supplier.webhook_secret_encrypted)]
    for token in samples:
        if token:
            try:
                runtime.secrets.decrypt(token)
            except SecretDecryptionError:
                raise StartupError(
                    "security.encryption_keys cannot decrypt the secrets stored in the "
                    "database: put back the key they were encrypted with (new keys go first, "
                    "old ones stay listed)") from None


def warn_about_settings(runtime: Runtime, say: Callable[[str], None]) -> None:
    settings = runtime.settings
    if not settings.demo and settings.security.allow_loopback_http:
        message = ("WARNING: security.allow_loopback_http is on in production: DropTrack will "
                   "call plain-http loopback URLs (meant for the sandboxes only). Turn it off.")
        log.warning(message)
        say(message)


def check_startup(runtime: Runtime, say: Callable[[str], None]) -> None:
    check_database(runtime)
    check_encryption_keys(runtime)
    warn_about_settings(runtime, say)
