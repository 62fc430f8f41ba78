"""Write a parcel's tracking into its store, so the customer sees it on the store's order page.

The job builds a `ShipmentSnapshot` from DropTrack's tables and hands it to the store's
connector; the connector's answer (e.g. Shopify's fulfillment id) is bound to the shipment so
the next write updates instead of creating. A write that would change nothing is skipped.
"""

from __future__ import annotations

import importlib
import logging
from contextlib import nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, null, select
from sqlalchemy.orm import Session

from connectors.carriers.detect import detect
from connectors.store_base import (
    ShipmentSnapshot,
    ShippedLine,
    SiblingParcel,
    StoreAccess,
    StoreConnector,
)
from connectors.url_safety import UnsafeURLError, check_outbound_url
from core import budget
from core.errors import CredentialsRefused
from core.status import Reason, Status
from core.wording import customer_note
from integration.accounts import stores
from integration.engine import bindings, eta
from integration.engine.orders import ORDER
from integration.engine.tracking import WRITEBACK_JOB
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob, PermanentError, RetryableError
from integration.jobs.registry import job
from integration.kernel.connector_cache import store_key
from integration.kernel.runtime import Runtime
from integration.limits.circuits import tag
from integration.storage.models import (
    Order,
    OutboxJob,
    Shipment,
    Store,
    SupplierOrder,
    TrackingEvent,
)
from integration.sync.connection import disconnect

log = logging.getLogger(__name__)

FULFILLMENT = bindings.FULFILLMENT
# platform -> module with `build(access: StoreAccess) -> StoreConnector`
STORE_CONNECTORS = {
    "shopify": "connectors.shopify.connector",
    "woocommerce": "connectors.woocommerce.connector",
}


def store_access(runtime: Runtime, store: Store) -> StoreAccess:
    store_id = store.id

    def save_credentials(credentials: dict[str, str]) -> None:
        with runtime.db.write() as session:
            row = session.get_one(Store, store_id)
            row.credentials_encrypted = runtime.secrets.encrypt_json(credentials)
            row.updated_at = runtime.clock.now()

    def save_settings(settings: dict[str, object]) -> None:
        with runtime.db.write() as session:
            row = session.get_one(Store, store_id)
            row.settings = {**row.settings, **settings}
            row.updated_at = runtime.clock.now()

    credentials = runtime.secrets.decrypt_json(store.credentials_encrypted or "")
    return StoreAccess(
        store_id=store.id, platform=store.platform, domain=store.domain,
        credentials={key: str(value) for key, value in credentials.items()},
        settings=dict(store.settings), save_credentials=save_credentials,
        save_settings=save_settings,
        allow_loopback_http=runtime.settings.loopback_http_allowed,
    )


def store_connector(runtime: Runtime, store: Store) -> StoreConnector:
    """This process's connector for `store`, kept open for the next job (HTTP keep-alive)."""
    if store.platform == "woocommerce":  # checked on every use: the site may resolve elsewhere
        try:
            check_outbound_url(store.domain,
                               allow_loopback_http=runtime.settings.loopback_http_allowed)
        except UnsafeURLError as unsafe:
            raise PermanentError(f"store {store.id}: {unsafe}") from None
    key = store_key(store.id, store.platform, store.domain, store.credentials_encrypted,
                    dict(store.settings))
    return runtime.connectors.get(store.id, key, lambda: build_store_connector(runtime, store))


def build_store_connector(runtime: Runtime, store: Store) -> StoreConnector:
    module_name = STORE_CONNECTORS.get(store.platform)
    if module_name is None:
        raise PermanentError(f"store {store.id}: no connector for platform {store.platform!r}")
    module = importlib.import_module(module_name)
    from integration.limits.choice import share_store_limits

    share_store_limits(store.platform, runtime.settings)
    connector: StoreConnector = module.build(store_access(runtime, store))
    return connector


def snapshot(session: Session, shipment: Shipment, *,
             store_state_known: bool = False) -> ShipmentSnapshot:
    order = session.get_one(Order, shipment.order_id)
    supplier_order = (session.get(SupplierOrder, shipment.supplier_order_id)
                      if shipment.supplier_order_id else None)
    lines: list[dict[str, Any]] = list(shipment.lines or (supplier_order.lines
                                                          if supplier_order else []))
    status = Status(shipment.status)
    reason = Reason(shipment.reason) if shipment.reason else None
    detection = detect(shipment.tracking_number, stated_carrier=shipment.carrier or None)
    since = shipment.status_happened_at
    first_event, earlier_same_status = session.execute(select(
        func.min(TrackingEvent.happened_at),
        func.count(case((and_(TrackingEvent.status == shipment.status,
                              TrackingEvent.happened_at < since), 1)) if since else null()),
    ).where(TrackingEvent.shipment_id == shipment.id)).one()
    return ShipmentSnapshot(
        shipment_id=shipment.id,
        order_external_id=bindings.external_id_of(
            session, bindings.STORE, order.store_id, ORDER, order.id) or "",
        order_number=order.number,
        lines=[ShippedLine(str(line["line_id"]), int(line["quantity"])) for line in lines],
        carrier=shipment.carrier, shopify_company=detection.carrier.shopify_company
        if detection.carrier else None,
        tracking_number=shipment.tracking_number, tracking_url=shipment.tracking_url,
        status=status, reason=reason, status_happened_at=shipment.status_happened_at,
        estimated_delivery_at=promised_delivery(session, shipment, order, supplier_order,
                                                first_event),
        customer_note=customer_note(status, reason, shipment.carrier or None,
                                    shipment.tracking_number or None),
        fulfillment_external_id=bindings.external_id_of(
            session, bindings.STORE, order.store_id, FULFILLMENT, shipment.id),
        written_status=Status(shipment.written_status) if shipment.written_status else None,
        written_tracking_number=shipment.written_tracking_number,
        store_state_known=store_state_known,
        status_reached_before=since is None or bool(earlier_same_status),
        order_status=Status(order.status),
        order_reason=Reason(order.reason) if order.reason else None,
        siblings=sibling_parcels(session, shipment),
    )


def sibling_parcels(session: Session, shipment: Shipment) -> list[SiblingParcel]:
    """The other parcels of the same supplier order."""
    if shipment.supplier_order_id is None:
        return []
    others = session.scalars(select(Shipment).where(
        Shipment.supplier_order_id == shipment.supplier_order_id,
        Shipment.id != shipment.id).order_by(Shipment.id))
    return [SiblingParcel(other.tracking_number, Status(other.status),
                          Reason(other.reason) if other.reason else None)
            for other in others if other.tracking_number]


def promised_delivery(session: Session, shipment: Shipment, order: Order,
                      supplier_order: SupplierOrder | None,
                      first_event: datetime | None = None) -> datetime | None:
    """The supplier's date when it gave one, else the end of the learned delivery window
    (counted from the parcel's first event, `first_event` when the caller has read it)."""
    if shipment.estimated_delivery_at is not None or supplier_order is None:
        return shipment.estimated_delivery_at
    dispatched = first_event or session.scalar(select(func.min(TrackingEvent.happened_at)).where(
        TrackingEvent.shipment_id == shipment.id)) or shipment.created_at
    return eta.estimate(session, supplier_order.supplier_id, order.ship_country, dispatched)


def no_attempt_since_last_write(session: Session, claimed: ClaimedJob) -> bool:
    """True when nothing can have reached the store since the parcel's last recorded write:
    this is the job's first attempt and no other write-back of the parcel (same serial key)
    has started without finishing (pending after a failure, running, or dead-lettered)."""
    serial_key = f"shipment:{int(claimed.payload['shipment_id'])}"
    if claimed.attempt != 1:
        return False
    unfinished = session.scalar(select(OutboxJob.id).where(
        OutboxJob.serial_key == serial_key, OutboxJob.id != claimed.id,
        OutboxJob.state != outbox.DONE, OutboxJob.attempts > 0).limit(1))
    return unfinished is None


@job(WRITEBACK_JOB)
def write_back(runtime: Runtime, claimed: ClaimedJob) -> None:
    shipment_id = int(claimed.payload["shipment_id"])
    with runtime.db.read() as session:
        shipment = session.get_one(Shipment, shipment_id)
        order = session.get_one(Order, shipment.order_id)
        store = session.get_one(Store, order.store_id)
        session.expunge(store)
        current = snapshot(session, shipment,
                           store_state_known=no_attempt_since_last_write(session, claimed))
    if store.state == stores.DISCONNECTED:  # waits: queued again when it is reconnected
        log.info("order %s: store %d is disconnected; the write-back waits",
                 current.order_number, store.id)
        return
    if store.state != stores.ACTIVE:
        return
    if (current.written_status, current.written_tracking_number) == (
            current.status, current.tracking_number):
        return  # the store already shows exactly this
    connector = store_connector(runtime, store)
    try:
        # Nothing has been written anywhere yet: if the store's budget cannot pay for the
        # first call now, the job is handed back (core.budget) instead of holding a thread.
        with budget.deferrable() if runtime.settings.dispatcher.budget_aware else nullcontext():
            result = connector.write_shipment(current)
    except RetryableError as exc:  # the store is (maybe) down: its circuit counts this
        tag(exc, f"store:{store.id}")
        raise
    except CredentialsRefused as exc:  # for good: disconnected, this write-back waits
        disconnect(runtime, store, exc)
        return
    with runtime.db.write() as session:
        row = session.get_one(Shipment, shipment_id)
        row.written_status, row.written_tracking_number = current.status, current.tracking_number
        if result.fulfillment_external_id and current.fulfillment_external_id is None:
            bindings.bind(session, bindings.STORE, store.id, FULFILLMENT,
                          result.fulfillment_external_id, shipment_id, runtime.clock.now())
    log.info("order %s: store now shows %s (%s)", current.order_number, current.status.value,
             current.tracking_number)
