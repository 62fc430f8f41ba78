"""`app/uninstalled` is confirmed with Shopify before DropTrack acts on it.

The delivery is signed with the app's secret, which every shop of the app shares, and its
shop header is unsigned: a captured uninstall of one shop could be replayed against another.
So the inbox job only queues this check; it asks Shopify, with the store's own token, who
the shop is. A token Shopify refuses means the app really is gone: the store is marked
uninstalled (the tokens are dropped by the next sweep). A token that still works means the
delivery was not genuine: nothing changes, and the audit log says so.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from connectors.shopify.client import ShopifyAuthError
from connectors.shopify.connector import client_for
from connectors.shopify.graphql import SHOP_IDENTITY
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.limits.choice import shopify_environment
from integration.storage.models import Store
from integration.sync.writeback import store_access

log = logging.getLogger(__name__)

CONFIRM_UNINSTALL_JOB = "shopify.uninstall.confirm"


def queue_confirmation(session: Session, store: Store, inbox_id: int, now: datetime) -> None:
    outbox.enqueue(session, CONFIRM_UNINSTALL_JOB, f"shopify.uninstall:{inbox_id}",
                   {"store_id": store.id}, now, store_id=store.id,
                   serial_key=f"{CONFIRM_UNINSTALL_JOB}:{store.id}")


@job(CONFIRM_UNINSTALL_JOB)
def confirm_uninstall(runtime: Runtime, claimed: ClaimedJob) -> None:
    store_id = int(claimed.payload["store_id"])
    with runtime.db.read() as session:
        store = stores.find_store(session, stores.SHOPIFY, store_id)
        if store is None or store.state != "active" or store.credentials_encrypted is None:
            return
        session.expunge(store)
    client = client_for(store_access(runtime, store), shopify_environment(runtime.settings))
    try:
        client.execute(SHOP_IDENTITY)
    except ShopifyAuthError:
        still_installed = False
    else:
        still_installed = True
    finally:
        client.close()
    now = runtime.clock.now()
    with runtime.db.write() as session:
        row = session.get(Store, store_id)
        if row is None or row.state != "active":
            return
        if still_installed:
            log.warning("store %d: app/uninstalled not confirmed by Shopify (the token still "
                        "works): ignored", store_id)
            record_audit(session, now, "shopify", "store.uninstall_not_confirmed",
                         store_id=store_id, subject=row.domain)
            return
        row.state, row.updated_at = "uninstalled", now
        record_audit(session, now, "shopify", "store.uninstalled", store_id=store_id,
                     subject=row.domain)
