"""Routing order lines to suppliers."""

from __future__ import annotations

from core.domain import OrderLine
from integration.engine.routing import Mapping, route

LAMP = OrderLine("1", 1, sku="LAMP-1", product_id="10", variant_id="100")
MUG = OrderLine("2", 2, sku="MUG-1", product_id="20", variant_id="200")
DELETED = OrderLine("3", 1, sku=None, product_id="30", variant_id="300")
MAPPINGS = [
    Mapping(supplier_id=1, sku="LAMP-1", supplier_sku="CN-LAMP", backup_supplier_id=3),
    Mapping(supplier_id=2, sku="LAMP-1", destination_country="US"),
    Mapping(supplier_id=1, sku="MUG-1"),
    Mapping(supplier_id=2, sku="OLD-SKU", variant_id="300"),
]


def test_lines_are_grouped_by_supplier_with_supplier_skus() -> None:
    routing = route([LAMP, MUG], MAPPINGS, "FR")
    assert routing.complete
    assert [(r.line.external_id, r.supplier_sku) for r in routing.by_supplier[1]] == [
        ("1", "CN-LAMP"), ("2", "MUG-1")]


def test_destination_specific_mapping_wins() -> None:
    routing = route([LAMP, MUG], MAPPINGS, "us")
    assert sorted(routing.by_supplier) == [1, 2]
    assert [r.line.external_id for r in routing.by_supplier[2]] == ["1"]


def test_line_without_sku_falls_back_to_variant_id() -> None:
    routing = route([DELETED], MAPPINGS, "FR")
    assert [r.supplier_sku for r in routing.by_supplier[2]] == ["OLD-SKU"]


def test_unmapped_lines_are_reported() -> None:
    unknown = OrderLine("9", 1, sku="NOPE")
    routing = route([LAMP, unknown], MAPPINGS, "FR")
    assert routing.unmapped == [unknown]
    assert not routing.complete


def test_backup_supplier_takes_over_when_primary_unavailable() -> None:
    routing = route([LAMP, MUG], MAPPINGS, "FR", unavailable={1})
    assert [r.line.external_id for r in routing.by_supplier[3]] == ["1"]
    assert routing.unmapped == [MUG]
