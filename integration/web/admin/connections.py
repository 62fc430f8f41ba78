"""Connected stores as the dashboard shows them: state, connection and webhook health, last
sync; and the per-store write-back choices that really take effect. No Flask here.

Where the health comes from:
- WooCommerce: `settings["woocommerce"]["health"]` ({ok, problem, at}, written by the webhook
  health job and by any job that hit a permanent error), `settings["woocommerce"]
  ["reconciled_until"]` (the reconciliation watermark) and `["last_gap"]`.
- Shopify: there is no health record; it is derived from the store's state and credentials,
  its latest `shopify.webhooks.ensure` job (a dead job means the subscriptions could not be
  checked), open `shopify_token` alerts, and `settings["reconciled_until"]` (top level).
- Both: the last webhook delivery received for the store and failures in the last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.shopify.settings import StoreSettings as ShopifySettings
from connectors.woocommerce.settings import SETTINGS_KEY as WOO_KEY
from connectors.woocommerce.settings import StoreSettings as WooSettings
from connectors.woocommerce.settings import merged
from core import wording
from integration.accounts import stores
from integration.accounts.audit import record_audit
from integration.engine.actions import ActionError
from integration.jobs import outbox
from integration.storage.models import Alert, InboxDelivery, OutboxJob, Store
from integration.sync.connection import CONNECTED_WITH
from integration.sync.shopify.reconcile import WATERMARK as SHOPIFY_WATERMARK
from integration.sync.shopify.store import ENSURE_WEBHOOKS_JOB
from integration.sync.woocommerce.webhooks import WEBHOOK_HEALTH_JOB

RECENT = timedelta(days=1)


def _moment(raw: object) -> datetime | None:
    if not isinstance(raw, str) or not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class StoreHealth:
    id: int
    name: str
    domain: str
    platform: str
    state: str
    connected: bool  # credentials present and the store active
    connection: str  # in words
    healthy: bool
    webhooks: str  # in words
    problem: str
    checked_at: datetime | None
    last_sync: datetime | None
    last_webhook: datetime | None
    failed_webhooks: int
    advice: str


def _shopify(store: Store, job: OutboxJob | None, token_alert: Alert | None
             ) -> tuple[bool, str, str, datetime | None]:
    """(healthy, webhooks in words, problem, checked at)."""
    if token_alert is not None:
        return False, "Unknown", token_alert.message, token_alert.created_at
    if job is None:
        return True, "Not checked yet", "", None
    if job.state == outbox.DEAD:
        return (False, "Check failed", job.last_error or "The webhook check failed.",
                job.finished_at or job.updated_at)
    if job.state == outbox.DONE:
        return True, "Subscribed", "", job.finished_at or job.updated_at
    if job.last_error:
        return False, "Check retrying", job.last_error, job.updated_at
    return True, "Check queued", "", None


def _woocommerce(section: dict[str, Any]) -> tuple[bool, str, str, datetime | None]:
    health = section.get("health")
    if not isinstance(health, dict):
        return True, "Not checked yet", "", None
    at = _moment(health.get("at"))
    if health.get("ok"):
        return True, "Active", "", at
    return False, "Problem", str(health.get("problem") or "unknown problem"), at


def store_health(session: Session, now: datetime) -> list[StoreHealth]:
    """Every store with its health; a fixed number of queries however many stores."""
    last_webhook = dict(session.execute(
        select(InboxDelivery.store_id, func.max(InboxDelivery.received_at))
        .where(InboxDelivery.store_id.is_not(None)).group_by(InboxDelivery.store_id)).all())
    failed = dict(session.execute(
        select(InboxDelivery.store_id, func.count(InboxDelivery.id))
        .where(InboxDelivery.store_id.is_not(None), InboxDelivery.state == "failed",
               InboxDelivery.received_at >= now - RECENT)
        .group_by(InboxDelivery.store_id)).all())
    latest_jobs: dict[int, OutboxJob] = {}
    newest = (select(OutboxJob.store_id, func.max(OutboxJob.id).label("id"))
              .where(OutboxJob.kind.in_((ENSURE_WEBHOOKS_JOB, WEBHOOK_HEALTH_JOB)))
              .group_by(OutboxJob.store_id).subquery())
    for job in session.scalars(select(OutboxJob).join(newest, newest.c.id == OutboxJob.id)):
        if job.store_id is not None:
            latest_jobs[job.store_id] = job
    token_alerts = {alert.store_id: alert for alert in session.scalars(
        select(Alert).where(Alert.kind == "shopify_token", Alert.resolved_at.is_(None)))}
    rows = []
    for store in session.scalars(select(Store).order_by(Store.id)):
        settings = store.settings or {}
        active = store.state == "active"
        has_keys = store.credentials_encrypted is not None
        connected = active and has_keys
        if store.platform == stores.WOOCOMMERCE:
            section = settings.get(WOO_KEY)
            section = dict(section) if isinstance(section, dict) else {}
            healthy, webhooks, problem, checked = _woocommerce(section)
            last_sync = _moment(section.get("reconciled_until"))
            advice = ("Check the store's REST API keys and that WooCommerce can reach "
                      "DropTrack; connect it again below to issue new keys."
                      if not healthy else "")
        else:
            healthy, webhooks, problem, checked = _shopify(
                store, latest_jobs.get(store.id), token_alerts.get(store.id))
            last_sync = _moment(settings.get(SHOPIFY_WATERMARK))
            advice = ("Open DropTrack from the store's Shopify admin (or connect it again "
                      "below) so Shopify issues a new access token." if not healthy else "")
        if store.state == "uninstalled":
            connection = "Uninstalled: the app was removed from the store"
            advice = advice or "Install it again to resume tracking."
        elif store.state == stores.DISCONNECTED:
            connection = wording.STORE_DISCONNECTED
            advice = wording.reconnect_store_advice(str(settings.get(CONNECTED_WITH, "")))
        elif not has_keys:
            connection = "Not connected: no API credentials"
            advice = advice or "Connect the store again below."
        elif not active:
            connection = f"Paused ({store.state})"
        else:
            connection = "Connected"
        rows.append(StoreHealth(
            id=store.id, name=store.name or store.domain, domain=store.domain,
            platform=store.platform, state=store.state, connected=connected,
            connection=connection, healthy=healthy and connected, webhooks=webhooks,
            problem=problem, checked_at=checked, last_sync=last_sync,
            last_webhook=last_webhook.get(store.id), failed_webhooks=int(failed.get(store.id, 0)),
            advice=advice))
    return rows


# --- write-back choices -----------------------------------------------------------------------


@dataclass(frozen=True)
class WriteBackChoice:
    store_id: int
    name: str
    platform: str
    complete_on: str = ""  # WooCommerce
    status_updates: str = ""  # WooCommerce
    notify_customer: bool = True  # Shopify
    problem: str = ""


def write_back_choices(session: Session, store_id: int | None = None) -> list[WriteBackChoice]:
    """Every store's choices, or one store's (`store_id`: the embedded admin)."""
    choices = []
    query = select(Store).order_by(Store.id)
    if store_id is not None:
        query = query.where(Store.id == store_id)
    for store in session.scalars(query):
        name = store.name or store.domain
        if store.platform == stores.WOOCOMMERCE:
            try:
                woo = WooSettings.from_store(store.settings or {})
            except ValueError as exc:
                choices.append(WriteBackChoice(store.id, name, store.platform,
                                               complete_on="shipped",
                                               status_updates="batched", problem=str(exc)))
                continue
            choices.append(WriteBackChoice(store.id, name, store.platform,
                                           complete_on=woo.complete_on,
                                           status_updates=woo.status_updates))
        elif store.platform == stores.SHOPIFY:
            shop = ShopifySettings.parse(store.settings or {}, allow_override=False)
            choices.append(WriteBackChoice(store.id, name, store.platform,
                                           notify_customer=shop.notify_customer))
    return choices


def save_write_back(session: Session, store_id: int, values: dict[str, str], now: datetime,
                    actor: str) -> str:
    """Store one store's write-back choices where its connector reads them. Returns the
    store's name."""
    store = session.get(Store, store_id)
    if store is None:
        raise ActionError("That store does not exist any more.")
    if store.platform == stores.WOOCOMMERCE:
        complete_on = values.get("complete_on", "")
        status_updates = values.get("status_updates", "")
        if complete_on not in ("shipped", "delivered"):
            raise ActionError("Choose when orders become Completed: when shipped or when "
                              "delivered.")
        if status_updates not in ("batched", "immediate"):
            raise ActionError("Choose how statuses are sent: batched or immediately.")
        store.settings = merged(store.settings or {}, complete_on=complete_on,
                                status_updates=status_updates)
        details: dict[str, Any] = {"complete_on": complete_on, "status_updates": status_updates}
    elif store.platform == stores.SHOPIFY:
        notify = values.get("notify_customer") == "yes"
        store.settings = {**(store.settings or {}), "notify_customer": notify}
        details = {"notify_customer": notify}
    else:
        raise ActionError(f"Stores on {store.platform} have no write-back choices.")
    store.updated_at = now
    record_audit(session, now, actor, "store.settings_changed", store_id=store.id,
                 subject=f"{store.platform}:{store.domain}", details=details)
    return store.name or store.domain
