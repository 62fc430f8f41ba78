"""One Shopify store as the sync jobs see it: the active row, its Admin API client, and the
webhook check every change of its set-up queues.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from connectors.shopify.client import ShopifyClient
from connectors.shopify.connector import client_for
from integration.accounts import stores
from integration.jobs import outbox
from integration.kernel.runtime import Runtime
from integration.limits.choice import shopify_environment
from integration.storage.models import Store
from integration.sync.writeback import store_access

ENSURE_WEBHOOKS_JOB = "shopify.webhooks.ensure"


def admin_client(runtime: Runtime, store: Store) -> ShopifyClient:
    """The store's Admin API client, on the cost budget this process shares."""
    return client_for(store_access(runtime, store), shopify_environment(runtime.settings))


def active_store(runtime: Runtime, store_id: int) -> Store | None:
    with runtime.db.read() as session:
        store = stores.find_store(session, stores.SHOPIFY, store_id)
        if store is None or store.state != "active":
            return None
        session.expunge(store)
        return store


def queue_webhook_check(session: Session, store_id: int, now: datetime) -> None:
    outbox.enqueue(session, ENSURE_WEBHOOKS_JOB,
                   f"shopify-webhooks:{store_id}:{now.strftime('%Y%m%d%H%M')}",
                   {"store_id": store_id}, now, store_id=store_id,
                   serial_key=f"shopify-webhooks:{store_id}")
