"""Which supplier ships which line: SKU (or product/variant id) mappings, per destination.

Pure: the caller loads the store's mappings; this decides. A destination-specific mapping
beats the store-wide one; a backup supplier takes over when the primary is unavailable.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from core.domain import OrderLine


@dataclass(frozen=True)
class Mapping:
    supplier_id: int
    sku: str
    supplier_sku: str | None = None
    product_id: str | None = None
    variant_id: str | None = None
    destination_country: str = ""  # "" = every destination
    backup_supplier_id: int | None = None
    supplier_product_id: str | None = None  # the supplier's ids (CJ vid, AliExpress sku)
    supplier_variant_id: str | None = None
    max_unit_price: Decimal | None = None


@dataclass(frozen=True)
class RoutedLine:
    line: OrderLine
    supplier_sku: str
    supplier_product_id: str = ""
    supplier_variant_id: str = ""
    max_unit_price: Decimal | None = None

    def payload(self) -> dict[str, object]:
        """The line as a supplier order and its forward job store it (JSON)."""
        return {"line_id": self.line.external_id, "supplier_sku": self.supplier_sku,
                "quantity": self.line.quantity,
                "supplier_product_id": self.supplier_product_id,
                "supplier_variant_id": self.supplier_variant_id,
                "max_unit_price": None if self.max_unit_price is None
                else str(self.max_unit_price)}


@dataclass
class Routing:
    by_supplier: dict[int, list[RoutedLine]] = field(default_factory=dict)
    unmapped: list[OrderLine] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unmapped and bool(self.by_supplier)


def _matches(line: OrderLine, mapping: Mapping) -> bool:
    """By SKU; else by variant id; else by product id when no variant tells them apart."""
    if line.sku and mapping.sku == line.sku:
        return True
    if line.variant_id and mapping.variant_id == line.variant_id:
        return True
    same_product = bool(line.product_id) and mapping.product_id == line.product_id
    return same_product and not (mapping.variant_id and line.variant_id)


def _candidates(line: OrderLine, mappings: Iterable[Mapping]) -> list[Mapping]:
    return [mapping for mapping in mappings if _matches(line, mapping)]


def choose(line: OrderLine, mappings: Iterable[Mapping], country: str) -> Mapping | None:
    """The mapping for a line: destination-specific first, then the store-wide one."""
    candidates = _candidates(line, mappings)
    for wanted in (country.upper(), ""):
        for mapping in candidates:
            if mapping.destination_country.upper() == wanted:
                return mapping
    return None


def route(lines: Iterable[OrderLine], mappings: Collection[Mapping], country: str,
          unavailable: Collection[int] = ()) -> Routing:
    """Group lines by supplier; `unavailable` suppliers hand their lines to the backup."""
    routing = Routing()
    for line in lines:
        mapping = choose(line, mappings, country)
        if mapping is None:
            routing.unmapped.append(line)
            continue
        supplier_id = mapping.supplier_id
        if supplier_id in unavailable and mapping.backup_supplier_id is not None:
            supplier_id = mapping.backup_supplier_id
        if supplier_id in unavailable:
            routing.unmapped.append(line)
            continue
        supplier_sku = mapping.supplier_sku or mapping.sku
        # The supplier's own ids belong to the primary's catalogue: a backup goes by SKU.
        own = supplier_id == mapping.supplier_id
        routing.by_supplier.setdefault(supplier_id, []).append(RoutedLine(
            line, supplier_sku,
            supplier_product_id=(mapping.supplier_product_id or "") if own else "",
            supplier_variant_id=(mapping.supplier_variant_id or "") if own else "",
            max_unit_price=mapping.max_unit_price if own else None))
    return routing
