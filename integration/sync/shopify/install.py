"""Connecting a Shopify store: the install callback's tokens or a custom app's client
credentials become an active store row with encrypted credentials, then its webhooks are
checked.
"""

from __future__ import annotations

from typing import Any

from connectors.shopify.client import ShopifyAuthError, http_client, renew
from connectors.shopify.settings import StoreSettings, missing_scopes
from connectors.shopify.tokens import GRANT_CLIENT_CREDENTIALS, Credentials
from core.errors import RetryableError
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.storage.models import Store
from integration.sync.connection import CONNECTED_WITH, resume_after_reconnect
from integration.sync.shopify.fulfillment_service import queue_fulfillment_requests
from integration.sync.shopify.reconcile import RECONCILE_JOB
from integration.sync.shopify.store import queue_webhook_check


# ---------------------------------------------------------------------------- connecting
def connect_store(runtime: Runtime, shop: str, credentials: Credentials, *, actor: str,
                  webhook_secret: str, settings: dict[str, Any] | None = None) -> int:
    """Create or re-activate the store row with encrypted credentials, then queue the webhook
    subscriptions. Returns the store id."""
    domain = stores.normalize_shop_domain(shop)
    now = runtime.clock.now()
    with runtime.db.write() as session:
        store = stores.find_shopify_store(session, domain)
        action = "store.reinstalled" if store is not None else "store.installed"
        was_disconnected = store is not None and store.state == stores.DISCONNECTED
        if store is None:
            store = Store(platform=stores.SHOPIFY, domain=domain, name=domain, settings={},
                          created_at=now)
            session.add(store)
        store.state = "active"
        store.credentials_encrypted = runtime.secrets.encrypt_json(credentials.as_dict())
        new_secret = runtime.secrets.encrypt(webhook_secret)
        if store.webhook_secret_encrypted and \
                runtime.secrets.decrypt(store.webhook_secret_encrypted) != webhook_secret:
            store.previous_webhook_secret_encrypted = store.webhook_secret_encrypted
        store.webhook_secret_encrypted = new_secret
        store.settings = {**(store.settings or {}), **(settings or {}),
                          CONNECTED_WITH: credentials.grant}
        store.updated_at = now
        session.flush()
        if was_disconnected:  # what waited runs once: write-backs, deliveries, a reconcile
            resume_after_reconnect(session, store, now)
            outbox.enqueue(session, RECONCILE_JOB, f"shopify-reconcile:{store.id}:resumed:"
                           f"{now.isoformat()}", {"store_id": store.id}, now,
                           store_id=store.id, serial_key=f"shopify-reconcile:{store.id}")
            if StoreSettings.parse(store.settings, allow_override=False).fulfillment_service:
                queue_fulfillment_requests(session, store.id, now)
        record_audit(session, now, actor, action, store_id=store.id, subject=domain,
                     details={"kind": credentials.kind, "scope": credentials.scope})
        queue_webhook_check(session, store.id, now)
        return store.id


def connect_custom_app(runtime: Runtime, shop: str, client_id: str, client_secret: str, *,
                       actor: str = "cli") -> int:
    """A merchant's own custom app: exchange its client credentials for a token (renewed the
    same way whenever it expires), check the scopes, connect the store. The CLI and the
    dashboard's Stores page both come here; a refusal raises StoreError and stores nothing.
    A disconnected store connected again this way resumes its waiting write-backs."""
    domain = stores.normalize_shop_domain(shop)
    if not client_id.strip() or not client_secret.strip():
        raise stores.StoreError("the custom app's client id and secret must not be empty")
    base = runtime.settings.shopify.admin_base_url.rstrip("/") \
        if runtime.settings.loopback_http_allowed else ""
    pending = Credentials.pending(GRANT_CLIENT_CREDENTIALS, client_id.strip(),
                                  client_secret.strip())
    try:
        with http_client(base) as http:
            credentials = renew(http, domain, pending, runtime.clock.now())
    except (ShopifyAuthError, RetryableError) as exc:
        raise stores.StoreError(f"Shopify refused the custom app's credentials: {exc}") from None
    missing = missing_scopes(credentials.scope)
    if missing:
        raise stores.StoreError("the custom app lacks these access scopes: "
                                + ", ".join(missing))
    return connect_store(runtime, domain, credentials, actor=actor,
                         webhook_secret=credentials.client_secret,
                         settings={"admin_base_url": base} if base else {})
