"""How one spreadsheet supplier is configured."""

from __future__ import annotations

from dataclasses import dataclass, field

# DropTrack's field -> the supplier's column header. Owners change the right-hand side.
DEFAULT_ORDER_COLUMNS = {
    "reference": "Reference", "order_number": "Order", "name": "Name", "company": "Company",
    "address1": "Address 1", "address2": "Address 2", "city": "City", "province": "State",
    "postcode": "Postcode", "country": "Country", "phone": "Phone", "email": "Email",
    "supplier_sku": "SKU", "quantity": "Quantity",
}
DEFAULT_TRACKING_COLUMNS = {
    "reference": "Reference", "tracking_number": "Tracking number", "carrier": "Carrier",
    "shipped_at": "Shipped at",
}


@dataclass(frozen=True)
class CsvSupplierSettings:
    outbox_dir: str
    inbox_dir: str
    order_columns: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ORDER_COLUMNS))
    tracking_columns: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_TRACKING_COLUMNS))
    email_to: str = ""
