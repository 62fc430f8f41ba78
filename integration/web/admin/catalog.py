"""Suppliers and SKU mappings as the dashboard shows and edits them. No Flask here.

Adding suppliers goes through `integration.accounts.suppliers.add_rest_supplier` (URL checked
against SSRF) and `integration.sync.suppliers.csv_exchange.add_csv_supplier`; CSV
import/export through
`integration.engine.mappings`. What lives here: reading them for the pages, editing a supplier,
switching one on or off, and turning import errors into what to fix.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from connectors.url_safety import UnsafeURLError, check_outbound_url
from integration.accounts.audit import record_audit
from integration.accounts.supplier_kinds import kind_of
from integration.engine.actions import ActionError
from integration.engine.mappings import COLUMNS, ImportReport, import_csv
from integration.security.crypto import SecretBox
from integration.storage.models import Order, SkuMapping, Store, Supplier, SupplierOrder
from integration.sync.suppliers.csv_exchange import CsvSupplierError, allowed_folder

MAPPINGS_SHOWN = 500


@dataclass(frozen=True)
class SupplierRow:
    id: int
    name: str
    kind: str
    active: bool
    where: str  # the endpoint or the folders
    mappings: int
    backup_for: int
    without_backup: int  # mappings with this primary and no backup: they stall when inactive
    has_webhook_secret: bool


def store_supplier_ids(session: Session, store_id: int) -> set[int]:
    """The suppliers one store may see and name (the embedded admin's scope): those its SKU
    mappings or its orders use, and those no other store uses yet (so a new shop can map its
    first SKUs). A supplier only another store uses is that store's business: hidden."""
    def used(*where: ColumnElement[bool]) -> set[int]:
        ids = set(session.scalars(select(SkuMapping.supplier_id).where(*where)))
        ids |= {i for i in session.scalars(select(SkuMapping.backup_supplier_id).where(
            *where, SkuMapping.backup_supplier_id.is_not(None))) if i is not None}
        return ids
    here = used(SkuMapping.store_id == store_id)
    elsewhere = used(SkuMapping.store_id != store_id)
    for supplier_id, order_store in session.execute(
            select(SupplierOrder.supplier_id, Order.store_id)
            .join(Order, Order.id == SupplierOrder.order_id).distinct()):
        (here if order_store == store_id else elsewhere).add(supplier_id)
    every = set(session.scalars(select(Supplier.id)))
    return every - (elsewhere - here)


def supplier_rows(session: Session, store_id: int | None = None) -> list[SupplierRow]:
    """Every supplier with its mapping counts; for one store (`store_id`): only the suppliers
    it may see (`store_supplier_ids`), counted over its own mappings."""
    scope = [SkuMapping.store_id == store_id] if store_id is not None else []
    primary = dict(session.execute(select(SkuMapping.supplier_id, func.count(SkuMapping.id))
                                   .where(*scope).group_by(SkuMapping.supplier_id)).all())
    backup = dict(session.execute(
        select(SkuMapping.backup_supplier_id, func.count(SkuMapping.id))
        .where(SkuMapping.backup_supplier_id.is_not(None), *scope)
        .group_by(SkuMapping.backup_supplier_id)).all())
    bare = dict(session.execute(
        select(SkuMapping.supplier_id, func.count(SkuMapping.id))
        .where(SkuMapping.backup_supplier_id.is_(None), *scope)
        .group_by(SkuMapping.supplier_id)).all())
    query = select(Supplier).order_by(Supplier.name)
    if store_id is not None:
        query = query.where(Supplier.id.in_(store_supplier_ids(session, store_id)))
    rows = []
    for supplier in session.scalars(query):
        where = kind_of(supplier.kind).describe(supplier)
        rows.append(SupplierRow(
            id=supplier.id, name=supplier.name, kind=supplier.kind, active=supplier.active,
            where=where, mappings=int(primary.get(supplier.id, 0)),
            backup_for=int(backup.get(supplier.id, 0)),
            without_backup=int(bare.get(supplier.id, 0)),
            has_webhook_secret=supplier.webhook_secret_encrypted is not None))
    return rows


def _supplier(session: Session, supplier_id: int) -> Supplier:
    supplier = session.get(Supplier, supplier_id)
    if supplier is None:
        raise ActionError(f"Supplier {supplier_id} does not exist (it may have been removed).")
    return supplier


def set_active(session: Session, supplier_id: int, active: bool, now: datetime,
               actor: str) -> Supplier:
    """Switch a supplier on or off. While off, new orders go to each mapping's backup
    supplier (see integration/engine/routing.py); orders already sent are not touched."""
    supplier = _supplier(session, supplier_id)
    if supplier.active == active:
        raise ActionError(f"{supplier.name} is already {'active' if active else 'inactive'}.")
    supplier.active = active
    record_audit(session, now, actor, "supplier.activated" if active else
                 "supplier.deactivated", subject=f"{supplier.kind}:{supplier.name}")
    return supplier


@dataclass(frozen=True)
class SupplierEdit:
    name: str
    base_url: str = ""  # REST: empty keeps the current one
    api_key: str = ""  # REST: empty keeps the current one
    webhook_secret: str = ""  # REST: empty keeps the current one
    outbox_dir: str = ""  # spreadsheet: empty keeps the current one
    inbox_dir: str = ""


def _folder(label: str, folder: str, csv_root: str) -> str:
    try:
        path = allowed_folder(csv_root, folder)
    except CsvSupplierError as exc:
        raise ActionError(f"The {label} folder cannot be used: {exc}.") from None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ActionError(f"The {label} folder {path} cannot be created ({exc.strerror}): "
                          "choose a folder DropTrack may write to.") from None
    return str(path)


def edit_supplier(session: Session, secrets: SecretBox, supplier_id: int, edit: SupplierEdit,
                  now: datetime, actor: str, *, allow_loopback_http: bool,
                  csv_root: str = "") -> Supplier:
    """Change a supplier's name, endpoint and keys (REST) or folders (spreadsheet). The URL is
    checked the way `add_rest_supplier` checks it: no private or loopback addresses."""
    supplier = _supplier(session, supplier_id)
    name = edit.name.strip()
    if not name:
        raise ActionError("Enter the supplier's name.")
    if name != supplier.name and session.scalar(
            select(Supplier.id).where(Supplier.name == name, Supplier.id != supplier.id)):
        raise ActionError(f"Another supplier is already called {name!r}: choose another name.")
    changed = ["name"] if name != supplier.name else []
    supplier.name = name
    settings = dict(supplier.settings)
    if supplier.kind == "csv":
        for key, label, value in (("outbox_dir", "orders", edit.outbox_dir),
                                  ("inbox_dir", "tracking", edit.inbox_dir)):
            if value.strip():
                folder = _folder(label, value.strip(), csv_root)
                if folder != settings.get(key):
                    settings[key], changed = folder, [*changed, key]
    else:
        if edit.base_url.strip():
            try:
                url = check_outbound_url(edit.base_url.strip().rstrip("/"),
                                         allow_loopback_http=allow_loopback_http)
            except UnsafeURLError as exc:
                raise ActionError(f"That API address cannot be used: {exc}. Enter the "
                                  "supplier's public https address.") from None
            if url != settings.get("base_url"):
                settings["base_url"], changed = url, [*changed, "base_url"]
        if edit.api_key.strip():
            supplier.credentials_encrypted = secrets.encrypt_json(
                {"api_key": edit.api_key.strip()})
            changed.append("api_key")
        if edit.webhook_secret.strip():
            supplier.webhook_secret_encrypted = secrets.encrypt(edit.webhook_secret.strip())
            changed.append("webhook_secret")
    supplier.settings = settings
    # Field names only: keys and secrets never reach the audit log.
    record_audit(session, now, actor, "supplier.edited", subject=f"{supplier.kind}:{name}",
                 details={"fields": changed})
    return supplier


# --- SKU mappings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MappingRow:
    id: int
    sku: str
    supplier: str
    supplier_active: bool
    supplier_sku: str
    destination_country: str
    backup: str
    product_id: str
    variant_id: str


@dataclass(frozen=True)
class MappingList:
    rows: list[MappingRow]
    total: int


def mapping_rows(session: Session, store_id: int, q: str = "",
                 limit: int = MAPPINGS_SHOWN) -> MappingList:
    suppliers = {s.id: s for s in session.scalars(select(Supplier))}
    where = [SkuMapping.store_id == store_id]
    if q.strip():
        where.append(or_(SkuMapping.sku == q.strip(), SkuMapping.supplier_sku == q.strip()))
    total = session.scalar(select(func.count(SkuMapping.id)).where(*where)) or 0
    rows = []
    for row in session.scalars(select(SkuMapping).where(*where).order_by(
            SkuMapping.sku, SkuMapping.destination_country).limit(limit)):
        primary = suppliers.get(row.supplier_id)
        backup = suppliers.get(row.backup_supplier_id) if row.backup_supplier_id else None
        rows.append(MappingRow(
            id=row.id, sku=row.sku, supplier=primary.name if primary else str(row.supplier_id),
            supplier_active=bool(primary and primary.active),
            supplier_sku=row.supplier_sku or "", destination_country=row.destination_country,
            backup=backup.name if backup else "", product_id=row.product_external_id or "",
            variant_id=row.variant_external_id or ""))
    return MappingList(rows, int(total))


def import_mappings(session: Session, store_id: int, text: str, now: datetime,
                    actor: str, *, own_suppliers: bool = False) -> ImportReport:
    """`own_suppliers`: rows may name only the suppliers this store may see (embedded)."""
    if session.get(Store, store_id) is None:
        raise ActionError("Choose the store the mappings are for.")
    report = import_csv(session, store_id, text, now,
                        store_supplier_ids(session, store_id) if own_suppliers else None)
    record_audit(session, now, actor, "mappings.imported", store_id=store_id,
                 details={"created": report.created, "updated": report.updated,
                          "rejected": len(report.errors)})
    return report


def save_mapping(session: Session, store_id: int, values: dict[str, str], now: datetime,
                 actor: str, *, own_suppliers: bool = False) -> ImportReport:
    """One mapping from the form: written as a one-row CSV, so the form and the spreadsheet
    follow exactly the same rules."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerow([values.get(column, "").strip() for column in COLUMNS])
    return import_mappings(session, store_id, buffer.getvalue(), now, actor,
                           own_suppliers=own_suppliers)


def delete_mapping(session: Session, mapping_id: int, now: datetime, actor: str,
                   store_id: int | None = None) -> str:
    """`store_id`: only that store's mapping (the embedded admin); another's is not found."""
    row = session.get(SkuMapping, mapping_id)
    if row is None or (store_id is not None and row.store_id != store_id):
        raise ActionError("That mapping does not exist any more.")
    sku = row.sku
    record_audit(session, now, actor, "mapping.deleted", store_id=row.store_id,
                 subject=f"sku {sku}", details={"destination_country": row.destination_country})
    session.delete(row)
    return sku


_FIXES = (
    ("missing column", "The first line must name the columns: " + ", ".join(COLUMNS)
     + " (only sku and supplier are required). Download the export for a template."),
    ("unknown backup supplier", "Add that supplier on the Suppliers page first, or write the "
     "backup's exact name (or id) as listed there."),
    ("unknown supplier", "Add that supplier on the Suppliers page first, or write its exact "
     "name (or id) as listed there."),
    ("sku is empty", "Fill in the SKU exactly as it appears in your store's product."),
    ("supplier is empty", "Fill in which supplier ships this SKU (its name or id)."),
    ("country code", "Use a two-letter country code such as US, GB or DE, or leave "
     "destination_country empty for every destination."),
    ("duplicate", "Keep one row per SKU and destination: delete or merge the repeated row."),
)


@dataclass(frozen=True)
class RowProblem:
    line: int | None
    problem: str
    fix: str


def explain(errors: list[str]) -> list[RowProblem]:
    """`line 3: unknown supplier 'X'` -> line 3, the problem, and what to do about it."""
    explained = []
    for error in errors:
        head, _, problem = error.partition(": ")
        number = head.removeprefix("line ")
        line = int(number) if head.startswith("line ") and number.isdigit() else None
        text = problem if line is not None else error
        fix = next((advice for needle, advice in _FIXES if needle in text),
                   "Correct the row and import the file again; the other rows are saved.")
        explained.append(RowProblem(line, text, fix))
    return explained
