"""Calculated query cost and the per app+shop leaky bucket of the GraphQL Admin API.

Shopify's documented rules: scalars and enums cost 0, objects 1, a connection 2 plus `first`
(or `last`) times the cost of one node, a mutation 10 (the objects it returns are included;
objects nested beneath them add their own cost). A single query may cost at most 1000.
Requested cost is computed before execution from the arguments; actual cost afterwards from the
returned data (connections charged for the nodes they really returned), and the difference is
refunded to the bucket, as Shopify does.

Live recordings (shared/contracts) show Shopify now charges connections sub-linearly in
`first` (e.g. `locations(first: 20) { nodes { id } }` is 7, not 22), so these documented rules
are an upper bound: a client that fits under them fits under Shopify's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)

from core.clock import Clock

MAX_SINGLE_QUERY_COST = 1000
MUTATION_COST = 10
MUTATION_COSTS = {"fulfillmentTrackingInfoUpdate": 50, "fulfillmentTrackingInfoUpdateV2": 50}
"""Mutations live Shopify charges more than the documented 10: every dated recording since
2026-05 (harry-test-heelo, API 2025-01 and 2026-04) charges 50 for fulfillmentTrackingInfoUpdate
(+1 per object returned, as any mutation). An undated capture on another store charged 10: the
sandbox follows the higher, newer price (tests/sandbox/test_shopify_recordings.py)."""


def mutation_cost(field: str) -> int:
    return MUTATION_COSTS.get(field, MUTATION_COST)
CONNECTION_BASE_COST = 2
BUCKET_SIZE_PER_RESTORE_RATE = 20


def is_connection(type_: GraphQLNamedType) -> bool:
    return (isinstance(type_, GraphQLObjectType) and type_.name.endswith("Connection")
            and ("edges" in type_.fields or "nodes" in type_.fields))


class CostCalculator:
    """Walks one operation's selections against a schema (sandbox or Shopify's real one)."""

    def __init__(self, schema: GraphQLSchema, operation: OperationDefinitionNode,
                 fragments: dict[str, FragmentDefinitionNode],
                 variables: dict[str, Any] | None) -> None:
        self.schema = schema
        self.operation = operation
        self.fragments = fragments
        self.variables = variables or {}

    # --------------------------------------------------------------- requested cost
    def requested(self) -> int:
        root = self._root_type()
        if self.operation.operation == OperationType.MUTATION:
            return sum(mutation_cost(field.name.value) + self._payload_cost(field, root)
                       for field in self._fields(self.operation.selection_set, root))
        return self._selection_cost(self.operation.selection_set, root)

    def _root_type(self) -> GraphQLObjectType:
        root = (self.schema.mutation_type if self.operation.operation == OperationType.MUTATION
                else self.schema.query_type)
        assert root is not None
        return root

    def _fields(self, selection_set: SelectionSetNode,
                parent: GraphQLNamedType) -> list[FieldNode]:
        found: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                found.extend(self._fields(selection.selection_set, parent))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    found.extend(self._fields(fragment.selection_set, parent))
        return found

    def _field_type(self, parent: GraphQLNamedType, node: FieldNode) -> GraphQLOutputType | None:
        if not isinstance(parent, GraphQLObjectType) or node.name.value.startswith("__"):
            return None
        field = parent.fields.get(node.name.value)
        return field.type if field is not None else None

    def _payload_cost(self, node: FieldNode, root: GraphQLObjectType) -> int:
        """A mutation's returned objects are part of its 10; what is nested beneath them is not."""
        payload_type = self._field_type(root, node)
        if payload_type is None or node.selection_set is None:
            return 0
        payload = get_named_type(payload_type)
        total = 0
        for child in self._fields(node.selection_set, payload):
            child_type = self._field_type(payload, child)
            if child_type is None or child.selection_set is None:
                continue
            named = get_named_type(child_type)
            if is_connection(named):
                total += self._field_cost(child, payload)
            else:
                total += self._selection_cost(child.selection_set, named)
        return total

    def _selection_cost(self, selection_set: SelectionSetNode,
                        parent: GraphQLNamedType) -> int:
        return sum(self._field_cost(node, parent) for node in self._fields(selection_set, parent))

    def _field_cost(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        field_type = self._field_type(parent, node)
        if field_type is None:
            return 0
        named = get_named_type(field_type)
        if is_leaf_type(named) or node.selection_set is None:
            return 0
        if is_connection(named):
            size = self.page_size(node)
            return CONNECTION_BASE_COST + size * self._node_cost(node, named)
        return 1 + self._selection_cost(node.selection_set, named)

    def _node_cost(self, node: FieldNode, connection: GraphQLNamedType) -> int:
        """Cost of one node of a connection: the most expensive of `edges.node` / `nodes`."""
        assert isinstance(connection, GraphQLObjectType) and node.selection_set is not None
        best = 0
        for child in self._fields(node.selection_set, connection):
            name = child.name.value
            if child.selection_set is None:
                continue
            if name == "nodes":
                item = get_named_type(connection.fields["nodes"].type)
                best = max(best, 1 + self._selection_cost(child.selection_set, item))
            elif name == "edges":
                edge = get_named_type(connection.fields["edges"].type)
                assert isinstance(edge, GraphQLObjectType)
                for edge_child in self._fields(child.selection_set, edge):
                    if edge_child.name.value == "node" and edge_child.selection_set is not None:
                        item = get_named_type(edge.fields["node"].type)
                        best = max(best, 1 + self._selection_cost(edge_child.selection_set,
                                                                  item))
        return best

    def page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = value_from_ast_untyped(argument.value, self.variables)
                if isinstance(value, int):
                    return value
        return 0

    # --------------------------------------------------------------- actual cost
    def actual(self, data: dict[str, Any] | None) -> int:
        if data is None:
            return 0
        root = self._root_type()
        if self.operation.operation == OperationType.MUTATION:
            total = 0
            for node in self._fields(self.operation.selection_set, root):
                key = node.alias.value if node.alias else node.name.value
                payload_type = self._field_type(root, node)
                total += mutation_cost(node.name.value)
                value = data.get(key)
                if isinstance(value, dict) and payload_type is not None and node.selection_set:
                    payload = get_named_type(payload_type)
                    for child in self._fields(node.selection_set, payload):
                        total += self._actual_field(child, payload, value, nested_free=True)
            return total
        return self._actual_selection(self.operation.selection_set, root, data)

    def _actual_selection(self, selection_set: SelectionSetNode, parent: GraphQLNamedType,
                          value: dict[str, Any]) -> int:
        return sum(self._actual_field(node, parent, value)
                   for node in self._fields(selection_set, parent))

    def _actual_field(self, node: FieldNode, parent: GraphQLNamedType, container: dict[str, Any],
                      *, nested_free: bool = False) -> int:
        field_type = self._field_type(parent, node)
        if field_type is None or node.selection_set is None:
            return 0
        named = get_named_type(field_type)
        if is_leaf_type(named):
            return 0
        key = node.alias.value if node.alias else node.name.value
        value = container.get(key)
        if value is None:
            return 0
        if is_connection(named) and isinstance(value, dict):
            assert isinstance(named, GraphQLObjectType)
            nodes = value.get("nodes")
            if nodes is None:
                nodes = [edge.get("node") for edge in value.get("edges") or []]
            per_node = 0
            for child in self._fields(node.selection_set, named):
                if child.name.value == "nodes" and child.selection_set is not None:
                    item = get_named_type(named.fields["nodes"].type)
                    per_node = sum(1 + self._actual_selection(child.selection_set, item, n)
                                   for n in nodes if isinstance(n, dict))
            return CONNECTION_BASE_COST + max(per_node, len(nodes))
        own = 0 if nested_free else 1
        items = value if isinstance(value, list) else [value]
        return sum(own + self._actual_selection(node.selection_set, named, item)
                   for item in items if isinstance(item, dict))


@dataclass
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    restore_rate: float

    def as_json(self) -> dict[str, float | int]:
        return {"maximumAvailable": _number(self.maximum_available),
                "currentlyAvailable": _number(self.currently_available),
                "restoreRate": _number(self.restore_rate)}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 1)


class LeakyBucket:
    """Points available to one app on one shop; refills continuously from the injected clock."""

    def __init__(self, clock: Clock, restore_rate: int) -> None:
        self.clock = clock
        self.restore_rate = float(restore_rate)
        self.maximum = float(restore_rate * BUCKET_SIZE_PER_RESTORE_RATE)
        self._available = self.maximum
        self._as_of: datetime = clock.now()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock.now()
        elapsed = max((now - self._as_of).total_seconds(), 0.0)
        self._available = min(self.maximum, self._available + elapsed * self.restore_rate)
        self._as_of = now

    def try_take(self, points: int) -> bool:
        with self._lock:
            self._refill()
            if points > self._available:
                return False
            self._available -= points
            return True

    def refund(self, points: int) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + points)

    def drain(self) -> None:
        with self._lock:
            self._refill()
            self._available = 0.0

    def status(self) -> ThrottleStatus:
        with self._lock:
            self._refill()
            return ThrottleStatus(self.maximum, int(self._available), self.restore_rate)
