"""Contract: the GraphQL order is the webhook's order.

Real artefact: ../shared/contracts/shopify/webhooks/docs_samples_2026-07/orders__create.json,
the body Shopify's documentation publishes for orders/create. Below is the same order as the
GraphQL Admin API answers DropTrack's selection (connectors/shopify/graphql.py ORDER_FIELDS),
written out by hand from Shopify's field names: both must map to the same StoreOrder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from graphql import FieldNode, OperationDefinitionNode, SelectionSetNode, parse

from connectors.shopify import graphql as ops
from connectors.shopify.mapper import parse_graphql_order, parse_order
from tests.helpers.sandbox_shopify import validate_against_real_schema

SAMPLE = (Path(__file__).resolve().parents[3] / "shared" / "contracts" / "shopify" / "webhooks"
          / "docs_samples_2026-07" / "orders__create.json")


def _line(legacy: int, sku: str, name: str, price: str, product: int | None) -> dict[str, Any]:
    return {"id": f"gid://shopify/LineItem/{legacy}", "sku": sku, "name": name, "quantity": 1,
            "requiresShipping": True, "originalUnitPriceSet": {"shopMoney": {"amount": price}},
            "product": None if product is None else {"id": f"gid://shopify/Product/{product}"},
            "variant": None}


GRAPHQL_NODE: dict[str, Any] = {
    "id": "gid://shopify/Order/820982911946154508",
    "legacyResourceId": "820982911946154508",
    "name": "#9999",
    "email": "jon@example.com",
    "createdAt": "2022-01-01T00:00:00Z",
    "updatedAt": "2022-01-01T00:00:00Z",
    "cancelledAt": "2022-01-01T00:00:00Z",
    "displayFinancialStatus": "VOIDED",
    "currencyCode": "USD",
    "totalPriceSet": {"shopMoney": {"amount": "404.95"}},
    "shippingAddress": {
        "name": "Steve Shipper", "firstName": "Steve", "lastName": "Shipper",
        "company": "Shipping Company", "address1": "123 Shipping Street", "address2": None,
        "city": "Shippington", "province": "Kentucky", "provinceCode": "KY", "zip": "40003",
        "countryCodeV2": "US", "phone": "555-555-SHIP"},
    "customer": {"firstName": "John", "lastName": "Smith"},
    "lineItems": {"nodes": [
        _line(487817672276298554, "SKU2006-001", "Aviator sunglasses", "89.99",
              788032119674292922),
        _line(789012345678901234, "LENS-PROTECT-2YR", "Lens Protection Plan (2 Year)", "19.99",
              None),
        _line(890123456789012345, "CASE-LEATHER-PREM", "Premium Leather Case", "24.99", None),
        _line(976318377106520349, "SKU2006-020", "Mid-century lounger", "159.99",
              788032119674292922),
        _line(315789986012684393, "SKU2006-035", "Coffee table", "119.99", 788032119674292922),
    ], "pageInfo": {"hasNextPage": False, "endCursor": "eyJsYXN0X2lkIjozMTU3ODk5ODYwMTI2ODQzOTN9"}},
}


def _sample() -> dict[str, Any]:
    if not SAMPLE.is_file():
        pytest.skip(f"Shopify's docs sample not found at {SAMPLE} (shared/ is absent)")
    body: dict[str, Any] = json.loads(SAMPLE.read_text())
    return body


def test_the_docs_webhook_and_the_graphql_node_map_to_equal_orders() -> None:
    from_webhook, webhook_problems = parse_order(_sample())
    from_graphql, graphql_problems = parse_graphql_order(GRAPHQL_NODE)
    assert webhook_problems == [] and graphql_problems == []
    assert from_webhook is not None and from_graphql is not None
    assert from_graphql == from_webhook
    # What the GraphQL side used to miss: the customer's name and the product ids.
    assert from_graphql.customer_name == "John Smith"
    assert [line.product_id for line in from_graphql.lines] == [
        "788032119674292922", None, None, "788032119674292922", "788032119674292922"]


def _leaf_paths(value: Any, prefix: str = "") -> set[str]:
    if isinstance(value, list):
        return set().union(*(_leaf_paths(item, prefix) for item in value))
    if not isinstance(value, dict):
        return {prefix}
    return set().union(set(), *(_leaf_paths(item, f"{prefix}.{key}" if prefix else key)
                                for key, item in value.items()))


def _selected_paths(selection: SelectionSetNode, prefix: str = "") -> set[str]:
    found: set[str] = set()
    for field in selection.selections:
        assert isinstance(field, FieldNode)
        path = f"{prefix}.{field.name.value}" if prefix else field.name.value
        found |= (_selected_paths(field.selection_set, path) if field.selection_set
                  else {path})
    return found


def test_the_node_above_is_exactly_what_the_selection_asks_for() -> None:
    operation = parse(ops.ORDERS_MODIFIED.text).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    [orders] = operation.selection_set.selections
    assert isinstance(orders, FieldNode) and orders.selection_set is not None
    [nodes] = [f for f in orders.selection_set.selections
               if isinstance(f, FieldNode) and f.name.value == "nodes"]
    assert isinstance(nodes, FieldNode) and nodes.selection_set is not None
    # null objects (a line without product) show their selection through another line
    assert _selected_paths(nodes.selection_set) == _leaf_paths(GRAPHQL_NODE) - {
        "lineItems.nodes.variant", "lineItems.nodes.product"} | {"lineItems.nodes.variant.id"}
    assert validate_against_real_schema(ops.ORDERS_MODIFIED.text) == []


def test_an_order_whose_lines_go_on_past_the_page_is_a_problem_not_a_partial_order() -> None:
    truncated = {**GRAPHQL_NODE, "lineItems": {**GRAPHQL_NODE["lineItems"],
                                               "pageInfo": {"hasNextPage": True,
                                                            "endCursor": "abc"}}}
    order, problems = parse_graphql_order(truncated)
    assert order is None
    assert problems == ["line_items: more lines than one page and the rest were not read"]
