"""Alerts for the owner: derived from state, raised once per dedupe key, resolved when fixed.

E-mail to the owner: an alert about the shop as a whole (a remote down, a job that gave up)
is e-mailed at once. An alert about an order waits out a grace period first (`[alerts]
email_grace_hours`): one that resolves itself in that time (the parcel scans again, the payment
arrives) never e-mails. After the grace period the owner gets either one daily digest of what is
new (`owner_emails = "digest"`, the default) or one e-mail per alert (`"each"`); see
`queue_owner_emails`, run by the alerts sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.jobs import outbox
from integration.storage.models import Alert, SentNotification

OWNER_ALERT_JOB = "notify.owner_alert"
OWNER_DIGEST_JOB = "notify.owner_digest"
DIGEST = "digest"
EACH = "each"
# Order alerts e-mailed at once all the same: a job that gave up (dispatcher.DEAD_JOB_ALERT).
EMAIL_AT_ONCE = frozenset({"job_failed"})

PAYMENT_ISSUE = "payment_issue"
OUT_OF_STOCK = "out_of_stock"
ADDRESS = "address_needs_confirmation"
UNMAPPED_SKU = "unmapped_sku"
NO_TRACKING = "no_tracking"
STUCK_IN_TRANSIT = "stuck_in_transit"
UNDELIVERED = "undelivered"
SUPPLIER_REJECTED = "supplier_rejected"


def raise_alert(session: Session, kind: str, dedupe_key: str, message: str, now: datetime,
                store_id: int | None = None, order_id: int | None = None,
                shipment_id: int | None = None) -> bool:
    """Open an alert unless one with this key exists (open or resolved). True when new."""
    key = f"{kind}:{dedupe_key}"
    if session.scalar(select(Alert.id).where(Alert.dedupe_key == key)) is not None:
        return False
    alert = Alert(kind=kind, dedupe_key=key, message=message, created_at=now,
                  store_id=store_id, order_id=order_id, shipment_id=shipment_id)
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return False
    if not emails_later(alert):
        # Tell the owner by e-mail too (the job does nothing when no owner address is set).
        outbox.enqueue(session, OWNER_ALERT_JOB, owner_email_key(alert), {"alert_id": alert.id},
                       now, store_id=store_id)
    return True


def emails_later(alert: Alert) -> bool:
    """True for an order's alert: e-mailed after its grace period, by `queue_owner_emails`."""
    return alert.order_id is not None and alert.kind not in EMAIL_AT_ONCE


def owner_email_key(alert: Alert) -> str:
    """The idempotency key of the owner's e-mail about `alert`, whether sent alone or in a
    digest (recorded in sent_notifications): switching modes never e-mails an alert twice."""
    return f"owner-alert:{alert.dedupe_key}"


def due_for_owner(session: Session, now: datetime, grace: timedelta,
                  limit: int = 500) -> list[Alert]:
    """Order alerts still open after their grace period whose owner e-mail is not sent yet."""
    sent = select(SentNotification.id).where(
        SentNotification.idempotency_key == "owner-alert:" + Alert.dedupe_key)
    rows = session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None), Alert.order_id.is_not(None),
                            Alert.kind.not_in(EMAIL_AT_ONCE), Alert.created_at <= now - grace,
                            ~sent.exists())
        .order_by(Alert.created_at, Alert.id).limit(limit))
    return list(rows)


def digest_key(now: datetime) -> str:
    """At most one digest a (UTC) day: the day is the digest job's idempotency key."""
    return f"owner-digest:{now:%Y-%m-%d}"


def queue_owner_emails(session: Session, now: datetime, grace: timedelta, mode: str) -> int:
    """Queue the owner's e-mails for order alerts past their grace period: today's digest
    (once a day, when something is new) or one e-mail per alert. Returns jobs queued."""
    due = due_for_owner(session, now, grace)
    if not due:
        return 0
    if mode == DIGEST:
        return int(outbox.enqueue(session, OWNER_DIGEST_JOB, digest_key(now),
                                  {"grace_seconds": grace.total_seconds()}, now))
    return sum(outbox.enqueue(session, OWNER_ALERT_JOB, owner_email_key(alert),
                              {"alert_id": alert.id}, now, store_id=alert.store_id)
               for alert in due)


def resolve_alerts(session: Session, order_id: int, kinds: tuple[str, ...],
                   now: datetime) -> int:
    """Mark an order's open alerts of these kinds resolved (the cause went away): one UPDATE,
    no Alert loaded (alerts already in the session are updated in place)."""
    result = session.execute(update(Alert).where(
        Alert.order_id == order_id, Alert.kind.in_(kinds), Alert.resolved_at.is_(None))
        .values(resolved_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


def open_alerts(session: Session, order_id: int) -> list[Alert]:
    return list(session.scalars(select(Alert).where(
        Alert.order_id == order_id, Alert.resolved_at.is_(None)).order_by(Alert.id)))
