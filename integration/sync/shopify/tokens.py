"""Shopify access tokens: renewed before they expire, forgotten after `app/uninstalled`.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from connectors.shopify.tokens import Credentials
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Store
from integration.sync.connection import refusal_disconnects
from integration.sync.shopify.store import active_store, admin_client

log = logging.getLogger(__name__)


RENEW_TOKEN_JOB = "shopify.tokens.renew"  # noqa: S105 (a job kind, not a secret)


def queue_token_renewals(runtime: Runtime) -> int:
    """Queue a renewal for every store whose token expires within the refresh margin (before
    a job hits a 401). Only queues: the call to Shopify is the job's. Returns how many."""
    now = runtime.clock.now()
    queued = 0
    with runtime.db.write() as session:
        for store in session.scalars(select(Store).where(
                Store.platform == stores.SHOPIFY, Store.state == "active",
                Store.credentials_encrypted.is_not(None))):
            credentials = Credentials.from_dict(
                runtime.secrets.decrypt_json(store.credentials_encrypted or ""))
            if credentials.needs_refresh(now):
                queued += outbox.enqueue(
                    session, RENEW_TOKEN_JOB,
                    f"shopify-token:{store.id}:{now.strftime('%Y%m%d%H%M')}",
                    {"store_id": store.id}, now, store_id=store.id,
                    serial_key=f"shopify-token:{store.id}")
    return queued


@job(RENEW_TOKEN_JOB)
def renew_token(runtime: Runtime, claimed: ClaimedJob) -> None:
    """Renew one store's token if it still needs it (a job queued twice renews once). A token
    Shopify refuses to renew (invalid client, app removed: a 4xx from the token endpoint)
    disconnects the store with the owner's alert; any other failure is retried."""
    store = active_store(runtime, int(claimed.payload["store_id"]))
    if store is None:
        return
    client = admin_client(runtime, store)
    try:
        if not client.credentials.needs_refresh(runtime.clock.now()):
            return
        with refusal_disconnects(runtime, store):  # a network error is retried
            client.renew_token()  # the one renewal path (a 401 in any job takes it too)
    finally:
        client.close()


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
