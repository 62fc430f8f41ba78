"""Shopify access tokens: renewed before they expire, forgotten after `app/uninstalled`.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from connectors.shopify.client import ShopifyAuthError, http_client, renew
from connectors.shopify.settings import StoreSettings
from connectors.shopify.tokens import Credentials
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.engine import alerts
from integration.kernel.runtime import Runtime
from integration.storage.models import Store
from integration.sync.writeback import store_access

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------- tokens
def renew_expiring_tokens(runtime: Runtime) -> None:
    """Renew every token that expires within the refresh margin (before a job hits a 401)."""
    now = runtime.clock.now()
    with runtime.db.read() as session:
        rows = list(session.scalars(select(Store).where(
            Store.platform == stores.SHOPIFY, Store.state == "active")))
        session.expunge_all()
    for store in rows:
        access = store_access(runtime, store)
        credentials = Credentials.from_dict(access.credentials)
        if not credentials.needs_refresh(now):
            continue
        settings = StoreSettings.parse(access.settings, allow_override=access.allow_loopback_http)
        try:
            with http_client(settings.admin_base_url) as http:
                access.save_credentials(renew(http, store.domain, credentials, now).as_dict())
        except ShopifyAuthError as exc:
            log.warning("store %d: %s", store.id, exc)
            with runtime.db.write() as session:
                alerts.raise_alert(session, "shopify_token", f"{store.id}:{credentials.expires_at}",
                                   f"{store.domain}: DropTrack can no longer renew its access "
                                   "token; open the app in Shopify to reinstall it.", now,
                                   store_id=store.id)
        except Exception:  # one store's failure must not stop the others; retried next sweep
            log.exception("store %d: token renewal failed", store.id)


def forget_uninstalled_tokens(runtime: Runtime) -> None:
    """After app/uninstalled (the store is marked uninstalled): stop work and drop the tokens.
    The webhook secret stays, so the compliance webhooks Shopify sends later still verify."""
    now = runtime.clock.now()
    with runtime.db.write() as session:
        for store in session.scalars(select(Store).where(
                Store.platform == stores.SHOPIFY, Store.state == "uninstalled",
                Store.credentials_encrypted.is_not(None))):
            store.credentials_encrypted = None
            store.updated_at = now
            record_audit(session, now, "scheduler", "store.tokens_revoked", store_id=store.id,
                         subject=store.domain)
