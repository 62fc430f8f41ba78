"""Spreadsheet suppliers: batch forwarded orders into CSV files, read tracking CSVs back.

Exactly once: orders are assigned to a named batch in one transaction before the file is
written; a crash before they are marked forwarded rewrites the same file (same name, same
rows), never a second batch with the same orders.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import ColumnElement, and_, select

from connectors.suppliers.base import SupplierLine, SupplierOrderRequest
from connectors.suppliers.csv import mapper, units
from connectors.suppliers.csv.settings import (
    DEFAULT_ORDER_COLUMNS,
    DEFAULT_TRACKING_COLUMNS,
    CsvSupplierSettings,
)
from core.domain import Address, CarrierEvent
from core.inputs import has_control_characters
from integration.accounts.audit import record_audit
from integration.engine import bindings
from integration.engine.tracking import ParcelUpdate, apply_parcel_update
from integration.jobs import outbox
from integration.jobs.outbox import ClaimedJob
from integration.jobs.registry import job
from integration.kernel.runtime import Runtime
from integration.storage.models import Binding, Order, Store, Supplier, SupplierOrder

log = logging.getLogger(__name__)

CSV = "csv"
BATCH = "csv_batch"
AWAITING_BATCH = "awaiting_batch"
BATCHED = "batched"
REFERENCE_PREFIX = "DT-"


class CsvSupplierError(ValueError):
    """The spreadsheet supplier cannot be set up as asked; the message says why."""


def settings_of(supplier: Supplier) -> CsvSupplierSettings:
    values = supplier.settings
    return CsvSupplierSettings(
        outbox_dir=str(values["outbox_dir"]), inbox_dir=str(values["inbox_dir"]),
        order_columns={**DEFAULT_ORDER_COLUMNS, **values.get("order_columns", {})},
        tracking_columns={**DEFAULT_TRACKING_COLUMNS, **values.get("tracking_columns", {})},
        email_to=str(values.get("email_to", "")),
    )


def allowed_folder(csv_root: str, folder: str) -> Path:
    """`folder` resolved (links followed), when it lies inside `csv_root` (the setting
    `security.csv_root`; empty: the working directory)."""
    root = Path(csv_root or os.getcwd()).expanduser().resolve()
    if has_control_characters(folder):
        raise CsvSupplierError("the folder name has control characters")
    path = Path(folder).expanduser()
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root):
        raise CsvSupplierError(f"folder {path} is outside {root}, the folder spreadsheet "
                               "suppliers may use (security.csv_root)")
    return path


def add_csv_supplier(runtime: Runtime, name: str, outbox_dir: str, inbox_dir: str) -> int:
    folders = {}
    for label, folder in (("outbox", outbox_dir), ("inbox", inbox_dir)):
        path = allowed_folder(runtime.settings.security.csv_root, folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CsvSupplierError(f"{label} folder {path}: {exc.strerror}") from None
        if not os.access(path, os.W_OK):
            raise CsvSupplierError(f"{label} folder {path} is not writable")
        folders[label] = str(path)
    now = runtime.clock.now()
    supplier = Supplier(name=name.strip(), kind=CSV, active=True, created_at=now,
                        settings={"outbox_dir": folders["outbox"],
                                  "inbox_dir": folders["inbox"]})
    with runtime.db.write() as session:
        if session.scalar(select(Supplier.id).where(Supplier.name == supplier.name)):
            raise CsvSupplierError(f"a supplier named {supplier.name!r} already exists")
        session.add(supplier)
        session.flush()
        record_audit(session, now, "cli", "supplier.added", subject=f"{CSV}:{supplier.name}")
    return supplier.id


def reference(supplier_order_id: int) -> str:
    return f"{REFERENCE_PREFIX}{supplier_order_id}"


def _request(order: Order, store: Store, supplier_order: SupplierOrder) -> SupplierOrderRequest:
    lines = [SupplierLine(str(line.get("supplier_sku") or line["line_id"]), int(line["quantity"]))
             for line in supplier_order.lines]
    return SupplierOrderRequest(
        store=store.domain, order_number=order.number, email=order.email, lines=lines,
        recipient=Address(name=order.ship_name, company=order.ship_company,
                          address1=order.ship_address1, address2=order.ship_address2,
                          city=order.ship_city, province=order.ship_province,
                          postcode=order.ship_zip, country=order.ship_country,
                          phone=order.ship_phone))


def _write_atomically(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
        stream.write(text)
    os.replace(temporary, path)


def _csv_suppliers(supplier_id: int | None) -> ColumnElement[bool]:
    """Every spreadsheet supplier, or only this one."""
    if supplier_id is None:
        return Supplier.kind == CSV
    return and_(Supplier.kind == CSV, Supplier.id == supplier_id)


def export_batches(runtime: Runtime, supplier_id: int | None = None) -> list[Path]:
    """Write one CSV per spreadsheet supplier (or just this one) with everything waiting;
    returns the files."""
    now = runtime.clock.now()
    written = []
    with runtime.db.write() as session:
        suppliers = list(session.scalars(select(Supplier).where(_csv_suppliers(supplier_id))))
        for supplier in suppliers:
            waiting = list(session.scalars(select(SupplierOrder).where(
                SupplierOrder.supplier_id == supplier.id,
                SupplierOrder.status == AWAITING_BATCH).order_by(SupplierOrder.id)))
            if not waiting:
                continue
            batch = f"orders-{now:%Y%m%dT%H%M%SZ}-{supplier.id}-{waiting[0].id}"
            for supplier_order in waiting:
                supplier_order.status = BATCHED
                bindings.bind(session, bindings.SUPPLIER, supplier.id, BATCH,
                              f"{batch}:{supplier_order.id}", supplier_order.id, now)
    # Batches whose file may not exist yet (including ones a crash left half done).
    with runtime.db.read() as session:
        pending = session.execute(
            select(SupplierOrder, Binding.external_id, Supplier)
            .join(Binding, (Binding.internal_id == SupplierOrder.id) & (Binding.kind == BATCH))
            .join(Supplier, Supplier.id == SupplierOrder.supplier_id)
            .where(SupplierOrder.status == BATCHED,
                   _csv_suppliers(supplier_id))
            .order_by(SupplierOrder.id)).all()
        files: dict[tuple[int, str], list[mapper.BatchEntry]] = {}
        settings_by_supplier: dict[int, CsvSupplierSettings] = {}
        for supplier_order, external_id, supplier in pending:
            order = session.get_one(Order, supplier_order.order_id)
            store = session.get_one(Store, order.store_id)
            entry = mapper.BatchEntry(reference(supplier_order.id),
                                      _request(order, store, supplier_order))
            files.setdefault((supplier.id, external_id.rsplit(":", 1)[0]), []).append(entry)
            settings_by_supplier[supplier.id] = settings_of(supplier)
    for (supplier_id, batch), entries in files.items():
        settings = settings_by_supplier[supplier_id]
        path = Path(settings.outbox_dir) / f"{batch}.csv"
        _write_atomically(path, mapper.build_batch(entries, settings.order_columns))
        written.append(path)
        ids = [int(entry.reference.removeprefix(REFERENCE_PREFIX)) for entry in entries]
        with runtime.db.write() as session:
            for supplier_order in session.scalars(select(SupplierOrder).where(
                    SupplierOrder.id.in_(ids))):
                supplier_order.status, supplier_order.forwarded_at = "forwarded", now
        log.info("wrote %s with %d orders", path, len(entries))
    return written


@dataclass
class TrackingImport:
    applied: int = 0
    errors: list[str] = field(default_factory=list)


def import_tracking(runtime: Runtime, supplier_id: int, text: str) -> TrackingImport:
    """Apply a supplier's tracking CSV; bad rows are reported by line, the rest applied."""
    result = TrackingImport()
    with runtime.db.write() as session:
        supplier = session.get(Supplier, supplier_id)
        if supplier is None or supplier.kind != CSV:
            raise CsvSupplierError(f"supplier {supplier_id} is not a spreadsheet supplier")
        parsed = mapper.parse_tracking(text, settings_of(supplier).tracking_columns)
        result.errors.extend(parsed.errors)
        now = runtime.clock.now()
        for row in parsed.rows:
            raw_id = row.reference.removeprefix(REFERENCE_PREFIX)
            supplier_order = session.get(SupplierOrder, int(raw_id)) if raw_id.isdigit() else None
            if supplier_order is None or supplier_order.supplier_id != supplier_id:
                result.errors.append(f"line {row.line}: unknown reference {row.reference!r}")
                continue
            events = [CarrierEvent(f"csv:{row.tracking_number}:shipped", units.SHIPPED,
                                   row.shipped_at)] if row.shipped_at else []
            apply_parcel_update(session, ParcelUpdate(
                supplier_order.id, f"csv:{row.tracking_number}", row.tracking_number,
                carrier=row.carrier, events=events), now)
            result.applied += 1
    result.errors.sort(key=_line_number)
    return result


def _line_number(message: str) -> int:
    number = message.removeprefix("line ").partition(":")[0]
    return int(number) if number.isdigit() else 0


def import_inbox(runtime: Runtime, supplier_id: int | None = None) -> int:
    """Import every CSV dropped in a spreadsheet supplier's (or this one's) inbox folder,
    then file it away."""
    with runtime.db.read() as session:
        suppliers = [(s.id, settings_of(s)) for s in session.scalars(
            select(Supplier).where(_csv_suppliers(supplier_id)))]
    imported = 0
    for supplier_id, settings in suppliers:
        inbox = Path(settings.inbox_dir)
        done = inbox / "imported"
        for path in sorted(inbox.glob("*.csv")):
            result = import_tracking(runtime, supplier_id, path.read_text(encoding="utf-8-sig"))
            done.mkdir(exist_ok=True)
            os.replace(path, done / path.name)
            if result.errors:
                (done / f"{path.stem}.errors.txt").write_text("\n".join(result.errors) + "\n")
            imported += result.applied
    return imported


# -- the exchange as jobs -----------------------------------------------------------------------

EXCHANGE_JOB = "csv.exchange"


def queue_exchanges(runtime: Runtime) -> int:
    """One exchange job per spreadsheet supplier per interval: the scheduler only queues, and
    the folders need to exist only where the jobs run. Returns how many were queued."""
    now = runtime.clock.now()
    bucket = int(now.timestamp() // (runtime.settings.scheduler.csv_interval_minutes * 60))
    queued = 0
    with runtime.db.write() as session:
        for supplier_id in list(session.scalars(select(Supplier.id).where(_csv_suppliers(None)))):
            queued += outbox.enqueue(
                session, EXCHANGE_JOB, f"{EXCHANGE_JOB}:{supplier_id}:{bucket}",
                {"supplier_id": supplier_id}, now, serial_key=f"{EXCHANGE_JOB}:{supplier_id}")
    return queued


@job(EXCHANGE_JOB)
def exchange(runtime: Runtime, claimed: ClaimedJob) -> None:
    """Write the supplier's waiting orders out and read its tracking files in."""
    supplier_id = int(claimed.payload["supplier_id"])
    written = export_batches(runtime, supplier_id)
    applied = import_inbox(runtime, supplier_id)
    if written or applied:
        log.info("csv supplier %d: %d batch files written, %d tracking rows applied",
                 supplier_id, len(written), applied)
