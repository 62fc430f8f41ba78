"""The owner's actions on an order, an alert, a job or a parcel: one table both dashboards
serve. The standalone `/admin` (cookie login + CSRF, `admin/views.py`) and the embedded admin
inside Shopify (session token, `web/embedded.py`) register the same rules from `ACTIONS` and run
the same engine call; only how they authenticate and answer differs.

`store_of` says which store an action's subject belongs to, so the embedded admin refuses an
order, alert, job or parcel of another shop before anything runs (same transaction).
No Flask here besides the form mapping the views hand in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core import wording
from integration.engine import actions
from integration.kernel.runtime import Runtime
from integration.storage.models import Alert, Order, OutboxJob, Shipment

ORDER, ALERT, JOB, SHIPMENT = "order", "alert", "job", "shipment"

Run = Callable[[Session, int, Mapping[str, str], datetime, str], object]


@dataclass(frozen=True)
class OwnerAction:
    name: str  # the endpoint's name in either blueprint
    rule: str  # URL rule under the blueprint's prefix; its one variable is `subject_id`
    subject: str
    run: Run
    success: str  # core/wording.py, with {result}

    def message(self, result: object, rt: Runtime) -> str:
        text = self.success.format(result=result)
        if self.name == "resend_message" and not rt.settings.email.smtp_host:
            text += wording.OWNER_EMAIL_WAITS
        return text


def _field(form: Mapping[str, str], name: str, limit: int | None = None) -> str:
    return str(form.get(name, ""))[:limit]


def _address(db: Session, order_id: int, form: Mapping[str, str], now: datetime,
             actor: str) -> object:
    fix = actions.AddressFix(**{name: _field(form, name, 255) for name in actions.ADDRESS_FIELDS})
    return actions.correct_address(db, order_id, fix, now, actor)


def _tracking(db: Session, shipment_id: int, form: Mapping[str, str], now: datetime,
              actor: str) -> object:
    return actions.correct_tracking(db, shipment_id, _field(form, "tracking_number"),
                                    _field(form, "carrier", 100), now, actor).tracking_number


ACTIONS: tuple[OwnerAction, ...] = (
    OwnerAction("forward_again", "/orders/<int:subject_id>/forward", ORDER,
                lambda db, i, form, now, actor: actions.forward_again(db, i, now, actor),
                wording.OWNER_DONE_FORWARD_AGAIN),
    OwnerAction("recheck", "/orders/<int:subject_id>/recheck", ORDER,
                lambda db, i, form, now, actor: actions.recheck(db, i, now, actor),
                wording.OWNER_DONE_RECHECK),
    OwnerAction("correct_address", "/orders/<int:subject_id>/address", ORDER, _address,
                wording.OWNER_DONE_ADDRESS),
    OwnerAction("switch_to_backup", "/orders/<int:subject_id>/backup", ORDER,
                lambda db, i, form, now, actor: actions.switch_to_backup(db, i, now, actor),
                wording.OWNER_DONE_BACKUP),
    OwnerAction("dismiss", "/alerts/<int:subject_id>/dismiss", ALERT,
                lambda db, i, form, now, actor: actions.dismiss_alert(
                    db, i, _field(form, "note"), now, actor),
                wording.OWNER_DONE_DISMISS),
    OwnerAction("resend_message", "/alerts/<int:subject_id>/resend", ALERT,
                lambda db, i, form, now, actor: actions.resend_message(db, i, now, actor),
                wording.OWNER_DONE_RESEND),
    OwnerAction("note_outcome", "/alerts/<int:subject_id>/outcome", ALERT,
                lambda db, i, form, now, actor: actions.note_outcome(
                    db, i, _field(form, "outcome"), _field(form, "note"), now, actor),
                wording.OWNER_DONE_OUTCOME),
    OwnerAction("replay", "/jobs/<int:subject_id>/replay", JOB,
                lambda db, i, form, now, actor: actions.replay_job(db, i, now, actor),
                wording.OWNER_DONE_REPLAY),
    OwnerAction("correct_tracking", "/shipments/<int:subject_id>/tracking", SHIPMENT, _tracking,
                wording.OWNER_DONE_TRACKING),
)


def store_of(session: Session, subject: str, subject_id: int) -> int | None:
    """The store the subject belongs to; None when it does not exist or belongs to no store."""
    query: Select[Any]
    if subject == ORDER:
        query = select(Order.store_id).where(Order.id == subject_id)
    elif subject == ALERT:
        query = select(Alert.store_id).where(Alert.id == subject_id)
    elif subject == JOB:
        query = select(OutboxJob.store_id).where(OutboxJob.id == subject_id)
    else:
        query = (select(Order.store_id).join(Shipment, Shipment.order_id == Order.id)
                 .where(Shipment.id == subject_id))
    found = session.scalar(query)
    return int(found) if found is not None else None
