"""SKU mappings as CSV: the owner's spreadsheet in, and back out.

Columns: sku, supplier, supplier_sku, destination_country, backup_supplier, product_id,
variant_id (the store's), supplier_product_id, supplier_variant_id (the supplier's: CJ `vid`,
AliExpress `product_id` + `sku_attr`), max_unit_price (the owner's limit). Only sku and
supplier are required; suppliers by name or id; the later columns may be absent. A bad row is
reported with its line number and the others are imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.countries import is_country_code
from integration.storage.models import SkuMapping, Supplier

COLUMNS = ("sku", "supplier", "supplier_sku", "destination_country", "backup_supplier",
           "product_id", "variant_id", "supplier_product_id", "supplier_variant_id",
           "max_unit_price")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def _supplier_ids(session: Session, only: Collection[int] | None = None) -> dict[str, int]:
    ids: dict[str, int] = {}
    query = select(Supplier) if only is None else select(Supplier).where(Supplier.id.in_(only))
    for supplier in session.scalars(query):
        ids[supplier.name.strip().lower()] = supplier.id
        ids[str(supplier.id)] = supplier.id
    return ids


def import_csv(session: Session, store_id: int, text: str, now: datetime,
               supplier_ids: Collection[int] | None = None) -> ImportReport:
    """`supplier_ids`: the only suppliers rows may name (the embedded admin: the shop's own);
    any other is an unknown supplier. None: every supplier."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"sku", "supplier"} - set(reader.fieldnames or ())
    if missing:
        report.errors.append(f"line 1: missing column(s) {', '.join(sorted(missing))}")
        return report
    suppliers = _supplier_ids(session, supplier_ids)
    seen: set[tuple[str, str]] = set()
    for row in reader:
        line = reader.line_num
        values = {key: (row.get(key) or "").strip() for key in COLUMNS}
        problem = _problem(values, suppliers)
        if problem:
            report.errors.append(f"line {line}: {problem}")
            continue
        country = values["destination_country"].upper()
        if (values["sku"], country) in seen:
            report.errors.append(f"line {line}: duplicate of an earlier row for SKU "
                                 f"{values['sku']!r}{' to ' + country if country else ''}")
            continue
        seen.add((values["sku"], country))
        existing = session.scalar(select(SkuMapping).where(
            SkuMapping.store_id == store_id, SkuMapping.sku == values["sku"],
            SkuMapping.destination_country == country))
        mapping = existing or SkuMapping(store_id=store_id, sku=values["sku"],
                                         destination_country=country, created_at=now)
        mapping.supplier_id = suppliers[values["supplier"].lower()]
        mapping.backup_supplier_id = (suppliers[values["backup_supplier"].lower()]
                                      if values["backup_supplier"] else None)
        mapping.supplier_sku = values["supplier_sku"] or None
        mapping.product_external_id = values["product_id"] or None
        mapping.variant_external_id = values["variant_id"] or None
        mapping.supplier_product_id = values["supplier_product_id"] or None
        mapping.supplier_variant_id = values["supplier_variant_id"] or None
        mapping.max_unit_price = _price(values["max_unit_price"])
        if existing is None:
            session.add(mapping)
            report.created += 1
        else:
            report.updated += 1
    return report


def _problem(values: dict[str, str], suppliers: dict[str, int]) -> str | None:
    if not values["sku"]:
        return "sku is empty"
    if not values["supplier"]:
        return "supplier is empty"
    if values["supplier"].lower() not in suppliers:
        return f"unknown supplier {values['supplier']!r}"
    backup = values["backup_supplier"]
    if backup and backup.lower() not in suppliers:
        return f"unknown backup supplier {backup!r}"
    country = values["destination_country"]
    if country and not is_country_code(country):
        return f"destination_country {country!r} is not a two-letter country code"
    price = values["max_unit_price"]
    if price and _price(price) is None:
        return f"max_unit_price {price!r} is not a positive amount (e.g. 12.50)"
    return None


def _price(value: str) -> Decimal | None:
    try:
        amount = Decimal(value) if value else None
    except InvalidOperation:
        return None
    if amount is None or not amount.is_finite() or amount <= 0 or amount >= 10**10:
        return None
    return amount.quantize(Decimal("0.01"))


def export_csv(session: Session, store_id: int) -> str:
    names = {s.id: s.name for s in session.scalars(select(Supplier))}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    rows: Iterable[SkuMapping] = session.scalars(select(SkuMapping).where(
        SkuMapping.store_id == store_id).order_by(SkuMapping.sku, SkuMapping.destination_country))
    for row in rows:
        writer.writerow((row.sku, names.get(row.supplier_id, row.supplier_id),
                         row.supplier_sku or "", row.destination_country,
                         names.get(row.backup_supplier_id, "") if row.backup_supplier_id else "",
                         row.product_external_id or "", row.variant_external_id or "",
                         row.supplier_product_id or "", row.supplier_variant_id or "",
                         "" if row.max_unit_price is None else str(row.max_unit_price)))
    return buffer.getvalue()
