"""Pure build_/parse_ functions for spreadsheet suppliers; problems are reported per line."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from connectors.parsing import timestamp
from connectors.suppliers.base import SupplierOrderRequest


@dataclass(frozen=True)
class BatchEntry:
    reference: str  # DropTrack's reference for one supplier order, echoed back with tracking
    request: SupplierOrderRequest


@dataclass(frozen=True)
class TrackingRow:
    line: int
    reference: str
    tracking_number: str
    carrier: str | None
    shipped_at: datetime | None


@dataclass
class TrackingFile:
    rows: list[TrackingRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def build_batch(entries: Sequence[BatchEntry], columns: Mapping[str, str]) -> str:
    """One CSV row per order line, the recipient repeated (what suppliers' sheets expect)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([columns[key] for key in columns])
    for entry in entries:
        recipient = entry.request.recipient
        common = {
            "reference": entry.reference, "order_number": entry.request.order_number,
            "name": recipient.name, "company": recipient.company,
            "address1": recipient.address1, "address2": recipient.address2,
            "city": recipient.city, "province": recipient.province,
            "postcode": recipient.postcode, "country": recipient.country,
            "phone": recipient.phone, "email": entry.request.email,
        }
        for line in entry.request.lines:
            values = {**common, "supplier_sku": line.supplier_sku, "quantity": str(line.quantity)}
            writer.writerow([_safe_cell(values.get(key, "")) for key in columns])
    return buffer.getvalue()


def _safe_cell(value: str) -> str:
    # A cell starting with = + - @ runs as a formula in spreadsheet apps: keep it text.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def parse_tracking(text: str, columns: Mapping[str, str]) -> TrackingFile:
    result = TrackingFile()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    headers = {h.strip().lower(): h for h in reader.fieldnames or ()}
    wanted = {key: headers.get(columns[key].strip().lower()) for key in columns}
    missing = [columns[key] for key in ("reference", "tracking_number") if wanted[key] is None]
    if missing:
        result.errors.append(f"line 1: missing column(s) {', '.join(missing)}")
        return result
    for row in reader:
        line = reader.line_num

        def cell(key: str, current: dict[str, str | None] = row) -> str:
            header = wanted.get(key)
            return (current.get(header) or "").strip() if header else ""

        reference, number = cell("reference"), cell("tracking_number")
        if not reference:
            result.errors.append(f"line {line}: reference is empty")
            continue
        if not number:
            result.errors.append(f"line {line}: tracking number is empty")
            continue
        shipped_raw = cell("shipped_at")
        shipped_at = timestamp(shipped_raw) if shipped_raw else None
        if shipped_raw and shipped_at is None:
            result.errors.append(f"line {line}: shipped at {shipped_raw!r} is not a date "
                                 "(use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS)")
            continue
        result.rows.append(TrackingRow(line, reference, number, cell("carrier") or None,
                                       shipped_at))
    return result
