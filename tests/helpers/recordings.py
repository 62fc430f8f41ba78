"""Reading the live Shopify recordings
(shared/contracts/shopify/live_graphql_recordings_draft_proxy) as a sequence of GraphQL
exchanges, and comparing a sandbox answer with the recorded one.

The recordings were captured by another project's tool; their files have several layouts. Every
dict with a recorded answer (`response`, `payload` or `mutation.response`) is one exchange, in
document order; its query is its own (`query`, `request.query`), its parent's (top-level
`query` + `mutation`), or, for cases recorded without query text, built from the root field's
arguments and the recorded answers' shape (`synthesize`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema, get_named_type

RECORDINGS = (Path(__file__).resolve().parents[3] / "shared" / "contracts" / "shopify"
              / "live_graphql_recordings_draft_proxy")
GID = re.compile(r"gid://shopify/(\w+)/(\d+)(\?[^\s\"']*)?")
ROOT = re.compile(r"\b(mutation|query)\b[^{]*\{\s*(?:\w+\s*:\s*)?(\w+)", re.S)
ANONYMOUS = re.compile(r"^\s*(?:#graphql\s*)?\{\s*(?:\w+\s*:\s*)?(\w+)", re.S)


@dataclass
class Exchange:
    path: str
    query: str | None
    variables: dict[str, Any]
    payload: dict[str, Any]
    root: str = ""

    @property
    def kind(self) -> str:
        return operation_kind(self.query) if self.query else "?"


FRAGMENT = re.compile(r"fragment\s+\w+\s+on\s+\w+\s*"
                      r"\{(?:[^{}]|\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\})*\}")


def operation_kind(query: str) -> str:
    body = FRAGMENT.sub("", query.replace("#graphql", ""))
    match = re.search(r"\b(mutation|query)\b|\{", body)
    return "mutation" if match and match.group(1) == "mutation" else "query"


def _payload(container: Any) -> dict[str, Any] | None:
    if not isinstance(container, dict):
        return None
    for key in ("payload", "body"):
        if isinstance(container.get(key), dict):
            return dict(container[key])
    if "data" in container or "errors" in container:
        return container
    return None


def root_field(query: str) -> str:
    body = FRAGMENT.sub("", query.replace("#graphql", ""))
    match = ROOT.search(body) or ANONYMOUS.search(body)
    return match.group(match.lastindex or 1) if match else "?"


def exchanges(recording: dict[str, Any]) -> list[Exchange]:
    found: list[Exchange] = []

    def walk(node: Any, path: str, parent: dict[str, Any] | None) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}/{index}", None)
            return
        if not isinstance(node, dict):
            return
        raw_request = node.get("request")
        request: dict[str, Any] = raw_request if isinstance(raw_request, dict) else {}
        answer = _payload(node.get("response")) or (
            _payload(node) if isinstance(node.get("payload"), dict) and (
                "data" in node["payload"] or "errors" in node["payload"]) else None)
        if answer is not None and path.split("/")[-1] != "response":
            for key, item in node.items():  # its own setup comes first
                if key not in ("response", "request", "variables", "query", "payload"):
                    walk(item, f"{path}/{key}", node)
            query = node.get("query") if isinstance(node.get("query"), str) else request.get(
                "query")
            variables = node.get("variables", request.get("variables"))
            if query is None and parent is not None and isinstance(parent.get("query"), str) \
                    and path.endswith("/mutation"):
                query, variables = parent["query"], parent.get("variables", variables)
            found.append(Exchange(path, query, dict(variables or {}), answer,
                                  root=root_field(query) if query else ""))
            return
        for key, item in node.items():
            if key in ("response", "payload") and answer is None and _payload(item):
                continue
            walk(item, f"{path}/{key}", node)

    walk(recording, "", None)
    return found


def recording_files() -> list[Path]:
    return sorted(RECORDINGS.glob("*/*/*/*.json"))


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


# ------------------------------------------------------------------------- synthesized queries
def _selection(values: list[Any]) -> str:
    """A selection set that every one of the recorded `values` (dicts) answers."""
    keys: dict[str, list[Any]] = {}
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                for key, sub in item.items():
                    keys.setdefault(key, []).append(sub)
    parts = []
    for key, subs in keys.items():
        def objects(value: Any) -> bool:
            return isinstance(value, dict) or (isinstance(value, list) and any(
                isinstance(item, dict) for item in value))

        nested = [s for s in subs if objects(s)]
        inner = _selection(nested) if nested else ""
        if not inner and any(isinstance(s, dict) or s == [] for s in subs) and not any(
                isinstance(s, list) and s and not objects(s) for s in subs):
            inner = "{ __typename }"
        parts.append(f"{key} {inner}".strip())
    return "{ " + " ".join(parts) + " }" if parts else ""


def synthesize(schema: GraphQLSchema, root: str, kind: str, variables: dict[str, Any],
               answers: list[Any]) -> str | None:
    """The query a case recorded without its text must have sent: the root field with the
    recorded variables as its arguments and the selection of the recorded answers."""
    parent = schema.mutation_type if kind == "mutation" else schema.query_type
    assert isinstance(parent, GraphQLObjectType)
    field_def = parent.fields.get(root)
    if field_def is None:
        return None
    definitions = ", ".join(f"${name}: {field_def.args[name].type}" for name in variables
                            if name in field_def.args)
    arguments = ", ".join(f"{name}: ${name}" for name in variables if name in field_def.args)
    selection = _selection(answers) if not isinstance(get_named_type(field_def.type),
                                                          type(None)) else ""
    header = f"{kind} Synthesized" + (f"({definitions})" if definitions else "")
    call = root + (f"({arguments})" if arguments else "")
    return f"{header} {{ {call} {selection} }}"


# ------------------------------------------------------------------------- comparing answers
@dataclass
class IdMap:
    """Recorded gid -> the sandbox's gid for the same object, learnt from aligned answers."""

    known: dict[str, str] = field(default_factory=dict)

    def learn(self, recorded: Any, ours: Any) -> None:
        if isinstance(recorded, dict) and isinstance(ours, dict):
            for key, value in recorded.items():
                if key in ours:
                    self.learn(value, ours[key])
        elif isinstance(recorded, list) and isinstance(ours, list):
            for left, right in zip(recorded, ours, strict=False):
                self.learn(left, right)
        elif isinstance(recorded, str) and isinstance(ours, str) and GID.fullmatch(recorded) \
                and GID.fullmatch(ours):
            self.known.setdefault(recorded, ours)
            self.known.setdefault(recorded.split("?", 1)[0], ours.split("?", 1)[0])

    def apply(self, value: Any) -> Any:
        """`value` with every recorded gid (and its numeric id inside messages) replaced."""
        if isinstance(value, dict):
            return {key: self.apply(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.apply(item) for item in value]
        if isinstance(value, str):
            def swap(match: re.Match[str]) -> str:
                return self.known.get(match.group(0),
                                      self.known.get(match.group(0).split("?", 1)[0],
                                                     match.group(0)))
            return GID.sub(swap, value)
        return value

    def numeric(self) -> dict[str, str]:
        return {GID.fullmatch(k).group(2): GID.fullmatch(v).group(2)  # type: ignore[union-attr]
                for k, v in self.known.items() if GID.fullmatch(k) and GID.fullmatch(v)}


def user_errors(data: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("serErrors") and isinstance(value, list):
                found.extend({"field": e.get("field"), "message": e.get("message")}
                             for e in value if isinstance(e, dict))
            else:
                found.extend(user_errors(value))
    elif isinstance(data, list):
        for item in data:
            found.extend(user_errors(item))
    return found


def top_errors(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    errors = payload.get("errors")
    if isinstance(errors, str):
        return [(errors, None)]
    return [(str(e.get("message")), (e.get("extensions") or {}).get("code"))
            for e in errors or [] if isinstance(e, dict)]


def cost(payload: dict[str, Any]) -> tuple[int | None, int | None]:
    found = ((payload.get("extensions") or {}).get("cost") or {})
    return found.get("requestedQueryCost"), found.get("actualQueryCost")


# ------------------------------------------------------------------------- pruning
@dataclass
class Pruned:
    query: str
    removed: list[tuple[str, ...]]  # response paths (aliases) of the removed fields
    removed_objects: bool  # some removed field had a selection (it had a cost)


def prune(schema: GraphQLSchema, query: str) -> Pruned | None:
    """`query` without the fields (and arguments) `schema` does not have, or None when
    nothing would be left to ask or it does not parse."""
    from graphql import (
        REMOVE,
        ArgumentNode,
        FieldNode,
        TypeInfo,
        TypeInfoVisitor,
        Visitor,
        parse,
        print_ast,
        visit,
    )

    try:
        document = parse(query)
    except Exception:
        return None
    removed: list[tuple[str, ...]] = []
    objects: list[bool] = []
    path: list[str] = []
    arguments: list[str] = []
    type_info = TypeInfo(schema)

    class Pruner(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> Any:
            key = node.alias.value if node.alias else node.name.value
            if node.name.value != "__typename" and type_info.get_field_def() is None:
                removed.append((*path, key))
                objects.append(node.selection_set is not None)
                return REMOVE
            path.append(key)
            return None

        def leave_field(self, node: FieldNode, *_: Any) -> Any:
            key = path.pop()
            if node.selection_set is not None and not node.selection_set.selections:
                removed.append((*path, key))
                objects.append(True)
                return REMOVE
            return None

        def enter_argument(self, node: ArgumentNode, *_: Any) -> Any:
            if type_info.get_argument() is None:
                arguments.append(node.name.value)
                return REMOVE
            return None

    pruned = visit(document, TypeInfoVisitor(type_info, Pruner()))
    text = print_ast(pruned)
    if arguments or "{" not in text.split("{", 1)[1]:
        return None  # an argument the sandbox lacks changes what is asked: not comparable
    return Pruned(text, removed, any(objects))


def drop_paths(value: Any, paths: list[tuple[str, ...]]) -> Any:
    """`value` (recorded data) without the keys at `paths` (lists are walked through)."""
    if not paths:
        return value
    if isinstance(value, list):
        return [drop_paths(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    here = {p[0] for p in paths if len(p) == 1}
    result = {}
    for key, item in value.items():
        if key in here:
            continue
        result[key] = drop_paths(item, [p[1:] for p in paths if len(p) > 1 and p[0] == key])
    return result


def unused_variables(query: str) -> set[str]:
    """Variables the operation defines but no longer uses (after pruning)."""
    from graphql import OperationDefinitionNode, VariableNode, Visitor, parse, visit

    document = parse(query)
    counts: dict[str, int] = {}
    defined: set[str] = set()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            defined |= {v.variable.name.value for v in definition.variable_definitions or ()}

    class Counter(Visitor):
        def enter_variable(self, node: VariableNode, *_: Any) -> None:
            counts[node.name.value] = counts.get(node.name.value, 0) + 1

    visit(document, Counter())
    return {name for name in defined if counts.get(name, 0) <= 1}


def without_variables(query: str, names: set[str]) -> str:
    from graphql import REMOVE, VariableDefinitionNode, Visitor, parse, print_ast, visit

    class Dropper(Visitor):
        def enter_variable_definition(self, node: VariableDefinitionNode, *_: Any) -> Any:
            return REMOVE if node.variable.name.value in names else None

    return print_ast(visit(parse(query), Dropper()))
