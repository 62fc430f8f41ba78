"""Messages DropTrack sends: customers (confirm your address) and the owner (alerts).

Each message has an idempotency key recorded in `sent_notifications`: a duplicate trigger,
a retried job or a second worker never sends it twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connectors.smtp import Email, SmtpSettings, send
from core.status import Reason
from core.wording import alert_title, digest_subject, owner_alert_subject, reason_hint
from integration.engine.orders import CONFIRM_ADDRESS_JOB
from integration.engine.tracking import UNDELIVERED_NOTICE_JOB
from integration.jobs import alerts
from integration.jobs.alerts import OWNER_ALERT_JOB
from integration.jobs.outbox import ClaimedJob, RetryableError
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.insert_once import insert_once
from integration.storage.models import Alert, Order, SentNotification, Shipment, Store
from templates import TEMPLATES_DIR

log = logging.getLogger(__name__)

TEMPLATES = TEMPLATES_DIR / "emails"
_environment = Environment(loader=FileSystemLoader(TEMPLATES),
                           autoescape=select_autoescape(enabled_extensions=("html",)),
                           keep_trailing_newline=True)
UNDELIVERED_TEXT = {
    Reason.INVALID_ADDRESS: "the address could not be found",
    Reason.INCOMPLETE_ADDRESS: "the address is missing details",
    Reason.RECIPIENT_UNAVAILABLE: "nobody was available to receive it",
    Reason.REFUSED: "it was refused",
}


def render(name: str, context: dict[str, Any]) -> tuple[str, str]:
    text = _environment.get_template(f"{name}.txt").render(**context)
    html = _environment.get_template(f"{name}.html").render(**context)
    return text, html


def _smtp(runtime: Runtime) -> SmtpSettings:
    email = runtime.settings.email
    if not email.smtp_host:
        raise RetryableError("e-mail is not configured ([email] smtp_host): the message waits",
                             retry_after_seconds=3600)
    return SmtpSettings(host=email.smtp_host, port=email.smtp_port,
                        username=email.smtp_username, password=email.smtp_password,
                        security=email.security, from_address=email.from_address,
                        timeout_seconds=email.timeout_seconds)


def _address_block(order: Order) -> str:
    lines = [order.ship_name, order.ship_company, order.ship_address1, order.ship_address2,
             " ".join(p for p in (order.ship_zip, order.ship_city) if p),
             " ".join(p for p in (order.ship_province, order.ship_country) if p)]
    return "\n".join(line for line in lines if line)


def deliver_once(runtime: Runtime, email: Email, order_id: int, kind: str,
                 shipment_id: int | None = None) -> bool:
    """Send unless this message was sent before; record it. True when sent now."""
    with runtime.db.read() as session:
        if session.scalar(select(SentNotification.id).where(
                SentNotification.idempotency_key == email.idempotency_key)) is not None:
            return False
    send(_smtp(runtime), email)
    try:
        with runtime.db.write() as session:
            session.add(SentNotification(order_id=order_id, shipment_id=shipment_id,
                                         channel="email", kind=kind,
                                         idempotency_key=email.idempotency_key,
                                         sent_at=runtime.clock.now()))
    except IntegrityError:
        pass  # a concurrent run recorded it first
    log.info("e-mail %s sent for order %d", kind, order_id)
    return True


@job(CONFIRM_ADDRESS_JOB)
def send_confirm_address(runtime: Runtime, claimed: ClaimedJob) -> None:
    with runtime.db.read() as session:
        order = session.get_one(Order, int(claimed.payload["order_id"]))
        store = session.get_one(Store, order.store_id)
        if not order.email:
            return
        text, html = render("confirm_address", {
            "name": order.ship_name, "order_number": order.number, "store_name": store.name,
            "country": order.ship_country, "address": _address_block(order),
            "problems": claimed.payload.get("problems", [])})
        email = Email(to=order.email, subject=f"Please confirm your address for order "
                      f"{order.number}", text=text, html=html,
                      idempotency_key=claimed.idempotency_key)
        order_id = order.id
    deliver_once(runtime, email, order_id, "confirm_address")


@job(UNDELIVERED_NOTICE_JOB)
def send_undelivered(runtime: Runtime, claimed: ClaimedJob) -> None:
    with runtime.db.read() as session:
        shipment = session.get_one(Shipment, int(claimed.payload["shipment_id"]))
        order = session.get_one(Order, shipment.order_id)
        store = session.get_one(Store, order.store_id)
        if not order.email:
            return
        reason = Reason(shipment.reason) if shipment.reason else None
        text, html = render("undelivered", {
            "name": order.ship_name, "order_number": order.number, "store_name": store.name,
            "carrier": shipment.carrier, "tracking_number": shipment.tracking_number,
            "tracking_url": shipment.tracking_url, "address": _address_block(order),
            "reason_text": UNDELIVERED_TEXT.get(reason, "delivery failed")
            if reason else "delivery failed"})
        email = Email(to=order.email, subject=f"We could not deliver order {order.number}",
                      text=text, html=html, idempotency_key=claimed.idempotency_key)
        ids = (order.id, shipment.id)
    deliver_once(runtime, email, ids[0], "undelivered", shipment_id=ids[1])


@job(OWNER_ALERT_JOB)
def send_owner_alert(runtime: Runtime, claimed: ClaimedJob) -> None:
    owner = runtime.settings.email.owner_address
    if not owner:
        return
    with runtime.db.read() as session:
        alert = session.get_one(Alert, int(claimed.payload["alert_id"]))
        if alert.resolved_at is not None and alerts.emails_later(alert):
            return  # resolved before its e-mail went out: nothing to tell any more
        number = session.scalar(select(Order.number).where(Order.id == alert.order_id)) \
            if alert.order_id is not None else None
        text, html = render("owner_alert", {
            "message": alert.message, "hint": _alert_hint(alert.kind),
            "dashboard_url": f"{runtime.settings.app.public_url}/admin"})
        email = Email(to=owner, subject=owner_alert_subject(alert.kind, number), text=text,
                      html=html, idempotency_key=claimed.idempotency_key)
        order_id = alert.order_id
    if order_id is None:
        # Not about one order (a remote down, a job that gave up): this job runs once, and
        # its idempotency key is the e-mail's, so a retry after a lost answer is recognisable.
        send(_smtp(runtime), email)
        log.info("owner alert e-mail %s sent", alert.kind)
        return
    deliver_once(runtime, email, order_id, f"owner_alert:{alert.kind}")


def _alert_hint(kind: str) -> str:
    try:
        return reason_hint(Reason(kind))
    except ValueError:
        return "See the needs-attention list in DropTrack."


@job(alerts.OWNER_DIGEST_JOB)
def send_owner_digest(runtime: Runtime, claimed: ClaimedJob) -> None:
    """Today's one e-mail to the owner: the order alerts that are new and still open after
    their grace period. Each one included is recorded under its own e-mail key, so it is in
    one digest only (and never also e-mailed alone)."""
    owner = runtime.settings.email.owner_address
    if not owner:
        return
    now = runtime.clock.now()
    grace = timedelta(seconds=float(claimed.payload.get("grace_seconds", 0)))
    with runtime.db.read() as session:
        due = alerts.due_for_owner(session, now, grace)
        numbers = dict(session.execute(select(Order.id, Order.number).where(
            Order.id.in_({a.order_id for a in due if a.order_id is not None}))).all())
        items = [{"order_number": numbers.get(a.order_id or 0, ""),
                  "title": alert_title(a.kind), "message": a.message,
                  "hint": _alert_hint(a.kind)} for a in due]
        keys = [(a.order_id, a.shipment_id, alerts.owner_email_key(a)) for a in due]
    if not items:
        return
    text, html = render("owner_digest", {
        "items": items, "dashboard_url": f"{runtime.settings.app.public_url}/admin/attention"})
    send(_smtp(runtime), Email(to=owner, subject=digest_subject(len(items)), text=text,
                               html=html, idempotency_key=claimed.idempotency_key))
    with runtime.db.write() as session:
        for order_id, shipment_id, key in keys:
            if order_id is None:
                continue
            insert_once(session, SentNotification, {
                "order_id": order_id, "shipment_id": shipment_id, "channel": "email",
                "kind": "owner_digest", "idempotency_key": key, "sent_at": now},
                unique=("idempotency_key",))
    log.info("owner digest e-mail sent: %d alerts", len(items))
