"""Supplier tokens that expire (AliExpress; any kind with `needs_renewal`/`renew` in
integration/accounts/supplier_kinds.py): renewed before they expire, by one job per supplier
at a time; a token only the owner can fix (revoked, refresh token expired) raises one owner
alert with the action: connect the account again on the Suppliers page.

The sweep only queues. The engine queues a renewal too when a supplier refuses a token in a
call (integration/engine/forwarding.py): the forward waits and goes once renewed.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from connectors.suppliers.base import SupplierAuthError
from core import wording
from integration.accounts.supplier_kinds import RENEW_TOKENS_JOB, kind_of, renewal_key
from integration.jobs import alerts, outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.jobs.timers import ScheduledJob
from integration.kernel.runtime import Runtime
from integration.storage.models import Supplier

log = logging.getLogger(__name__)

SUPPLIER_AUTH = "supplier_auth"  # the owner alert's kind


def queue_token_renewals(runtime: Runtime) -> int:
    """Queue a renewal for every active supplier whose token is due. Only queues."""
    now = runtime.clock.now()
    queued = 0
    with runtime.db.write() as session:
        for supplier in session.scalars(select(Supplier).where(Supplier.active.is_(True))):
            kind = kind_of(supplier.kind)
            if kind.needs_renewal is None or not kind.needs_renewal(runtime, supplier):
                continue
            queued += outbox.enqueue(session, RENEW_TOKENS_JOB, renewal_key(supplier),
                                     {"supplier_id": supplier.id}, now,
                                     serial_key=f"{RENEW_TOKENS_JOB}:{supplier.id}")
    return queued


@job(RENEW_TOKENS_JOB)
def renew_tokens(runtime: Runtime, claimed: ClaimedJob) -> None:
    with runtime.db.read() as session:
        supplier = session.get(Supplier, int(claimed.payload["supplier_id"]))
        if supplier is None:
            return
        session.expunge(supplier)
    kind = kind_of(supplier.kind)
    if kind.renew is None:
        return
    if claimed.payload.get("reason") != "refused" and (
            kind.needs_renewal is None or not kind.needs_renewal(runtime, supplier)):
        return  # renewed by an earlier run
    try:
        kind.renew(runtime, supplier)
    except SupplierAuthError as exc:
        log.warning("supplier %d: %s", supplier.id, exc)
        with runtime.db.write() as session:
            alerts.raise_alert(session, SUPPLIER_AUTH, renewal_key(supplier),
                               wording.reconnect_supplier(supplier.name, kind.label, str(exc)),
                               runtime.clock.now())


SCHEDULED: list[ScheduledJob] = [
    ScheduledJob("supplier.tokens.renew", queue_token_renewals, minutes=30),
]
