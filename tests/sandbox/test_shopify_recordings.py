"""The Shopify sandbox replays every live recording and answers as Shopify did.

Real artefact: ../shared/contracts/shopify/live_graphql_recordings_draft_proxy/ (live Admin API
exchanges with two real stores, API 2025-01 and 2026-04). Each recording file is one case: its
exchanges are sent in order to the sandbox over HTTP (the 2025-01 ones at 2025-10, the oldest
version Shopify still serves and the sandbox speaks) and the answer is compared with the
recorded one: data, userErrors, top-level errors and cost. Ids are aligned as answers come in
(recorded gid -> the sandbox's gid of the same object).

What the sandbox does not reproduce is written below with its reason (EXPLAINED rules and
EXPLAINED_CASES); any other difference fails the test.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import build_schema

from sandboxes.shopify.schema import sandbox_schema
from sandboxes.shopify.state import AccessToken
from tests.helpers.recordings import (
    GID,
    RECORDINGS,
    Exchange,
    IdMap,
    cost,
    drop_paths,
    exchanges,
    load,
    prune,
    recording_files,
    root_field,
    synthesize,
    top_errors,
    unused_variables,
    user_errors,
    without_variables,
)
from tests.helpers.sandbox_shopify import CONTRACTS_DIR, SeededStore

pytestmark = pytest.mark.skipif(not RECORDINGS.is_dir(), reason="shared/contracts is absent")

FILES = recording_files()
REAL_SCHEMA_PATH = CONTRACTS_DIR / "shopify" / "admin_graphql" / "admin-2026-07.schema.graphql"
SCOPES = ("read_orders,write_orders,write_merchant_managed_fulfillment_orders,"
          "write_third_party_fulfillment_orders,write_assigned_fulfillment_orders,"
          "write_fulfillments,read_fulfillments,write_shipping,read_shipping,read_locations")
VERSION_REPLAYED = {"2025-01": "2025-10", "2026-04": "2026-04"}

# Why an exchange is not compared value for value. Each reason is checked: the sandbox's
# answer must show it (e.g. an unmodelled root field is refused as Shopify refuses one).
NO_QUERY = ("recorded without its query text (the capture tool kept only a `documentPath` to "
            "a document that is not part of the recordings) and its answer does not name one "
            "root field to rebuild it from")
OUT_OF_SURFACE = ("a root field outside what the sandbox models (DropTrack never sends it); "
                  "the sandbox refuses it as Shopify refuses an unknown field")
UNMODELLED = ("selects fields of Shopify's schema the sandbox does not model (DropTrack never "
              "selects them); the sandbox refuses them as Shopify refuses unknown fields")
DEPENDS = ("acts on an object that an exchange outside the sandbox's surface created or "
           "changed (its id could not be aligned)")
SETUP = ("a setup exchange (orderCreate, orderCancel) the harness reproduces through the "
         "sandbox's own store actions: only the ids are aligned")
INTROSPECTION = ("introspection: the sandbox describes its own schema (the subset DropTrack "
                 "uses), not all of Shopify's")
LIVE_CURSOR = ("pages with a cursor the live store issued (opaque, and the sandbox's own "
               "cursors are tested in test_shopify_admin_api.py)")
CLEANUP = "cleanup of the live store after the capture"
READ_COST = ("a read: the sandbox charges Shopify's documented upper bound (connections "
             "2 + first x node), live Shopify charges connections sub-linearly; the sandbox "
             "is never cheaper")

WEBHOOK_EXTRAS = ("webhook subscription filters and cloud destinations (EventBridge, Pub/Sub) "
                  "with their own format rules: DropTrack subscribes HTTPS JSON webhooks "
                  "without filters, and the sandbox does not validate filters or cloud rules")
PRE_EXISTING = ("acts on an order that existed in the live store before the capture (its "
                "creation is not in the recording), so the sandbox has no such object")
LOCATION_NAME = ("names the live store's own location (store configuration, e.g. \"My Custom "
                 "Location\"); the sandbox's shop has one location, \"Shop location\"")
SPLIT_MOVE = ("reads the order's fulfillment orders after fulfillmentOrderSplit / "
              "fulfillmentOrderMove (two fulfillment orders, at the live store's own "
              "locations), which the sandbox does not model: DropTrack never splits or moves "
              "fulfillment orders")
UNALIGNED_NUMBER = ("the same userError, naming an id the recording's orderCreate answer did "
                    "not list (so the harness cannot map it to the sandbox's)")
UPSTREAM_EARLIER = ("a read the capture tool made before the fulfillments the recording lists "
                    "ahead of it (upstream calls are appended at the end): live still had the "
                    "quantity open; the replay reads after them")
CREATE_COST = ("fulfillmentCreate with this selection: the sandbox's requested cost is 2-6 "
               "points above live's (it charges each nested connection's upper bound) and its "
               "actual cost up to 4 below; DropTrack budgets by requested cost, which is never "
               "lower than live's")
TRACKING_COST = ("fulfillmentTrackingInfoUpdate: live charged 50-51 points in the recordings "
                 "made for it (fulfillment-tracking-info-update-*, the known behaviour) but 11 "
                 "here (28 with events selected); what makes live add the 40 is not in the "
                 "recordings, so the sandbox keeps the higher figure (never cheaper)")
CLOSED = ("`closed` follows the live store's order archiving setting (a fully fulfilled paid "
          "order archived, a cancelled one not); the sandbox closes an order when it is "
          "cancelled and never on fulfillment")
EXPLAINED_CASES: dict[tuple[str, str], str] = {
    ("fulfillment-cancel-parity", "/setup/fulfillmentCreate"): PRE_EXISTING,
    ("fulfillment-tracking-info-update-parity", "/setup/fulfillmentCreate"): PRE_EXISTING,
    ("fulfillment-order-request-lifecycle", "/rejectFulfillmentRequest"): PRE_EXISTING,
    ("fulfillment-top-level-reads", "*"): (
        "reads an order, fulfillments and closed fulfillment orders that existed in the live "
        "store before the capture (none is created in the recording)"),
    ("webhook-subscription-conformance", "*"): WEBHOOK_EXTRAS,
    ("webhook-subscription-topic-format-name-validation", "*"): WEBHOOK_EXTRAS,
    ("fulfillment-service-callback-url-update-protocol-validation", "*"): (
        "the live capture app's allowed callback hosts are not recorded; the sandbox app "
        "allows only its own hosts, so its setup service is refused and what follows differs"),
    ("webhook-subscription-api-version-projection", "/lifecycle/create"): (
        "cost 11 against live 10: the sandbox charges the ApiVersion object nested in the "
        "returned subscription (Shopify's documented rule), live does not; never cheaper"),
    # Compared since orders are aligned (the alignment query used to exceed 1,000 points and
    # was refused, so every exchange after an orderCreate counted as "depends").
    **{("fulfillment-create-multi-group", path): SPLIT_MOVE for path in (
        "/setup/differentLocation/read", "/setup/valid/read", "/upstreamCalls/2",
        "/upstreamCalls/3", "/upstreamCalls/14", "/upstreamCalls/15",
        "/cases/validMultiGroup/downstreamRead")},
    ("fulfillment-create-multi-group", "/cases/differentOrderLater"): UNALIGNED_NUMBER,
    ("fulfillment-create-preconditions", "/cases/cancelled"): UNALIGNED_NUMBER,
    ("fulfillment-create-preconditions", "/cases/closed"): UNALIGNED_NUMBER,
    ("fulfillment-order-hold-validation", "/setup/hydrate"): LOCATION_NAME,
    ("fulfillment-order-release-hold-selective", "/setup/hydrate"): LOCATION_NAME,
    ("fulfillment-order-release-hold-selective", "/workflows/selectiveRelease/afterReleaseRead"): (
        "reads the order after fulfillmentOrderHold / fulfillmentOrderReleaseHold, which the "
        "sandbox does not model (ON_HOLD): DropTrack never holds fulfillment orders"),
    ("fulfillment-multi-tracking-info", "/upstreamCalls/0"): UPSTREAM_EARLIER,
    ("fulfillment-create-name", "/upstreamCalls/0"): UPSTREAM_EARLIER,
    ("fulfillment-create-preconditions", "/upstreamCalls/8"): UPSTREAM_EARLIER,
    ("fulfillment-create-name", "/firstFulfillmentCreate"): CREATE_COST,
    ("fulfillment-create-name", "/secondFulfillmentCreate"): CREATE_COST,
    ("fulfillment-create-preconditions", "/cases/closed/setup/firstFulfillmentCreate"):
        CREATE_COST,
    ("fulfillment-detail-events-lifecycle", "/setup/fulfillmentCreate"): CREATE_COST,
    ("fulfillment-event-create-validation", "/setup/fulfillmentCreate"): CREATE_COST,
    ("fulfillment-cancel-parity", "/setup/fulfillmentTrackingInfoUpdate"): TRACKING_COST,
    ("fulfillment-detail-events-lifecycle", "/fulfillmentTrackingInfoUpdate"): TRACKING_COST,
    ("fulfillment-cancel-parity", "/setup/hydrateBeforeCancel"): CLOSED,
    ("fulfillment-create-preconditions", "/cases/cancelled/setup/hydrate"): CLOSED,
    ("fulfillment-create-preconditions", "/cases/happyPath"): (
        "recorded without its document: the query rebuilt from the answer selects a connection "
        "without `first`, which the lost document gave (the sandbox refuses it, as Shopify "
        "refuses an unbounded connection)"),
    ("fulfillment-event-create-validation", "/invalidStatusVariable"): (
        "both refuse the invalid enum value in the variables before execution; Shopify's "
        "wording (GraphQL-Ruby's) differs from the sandbox's (graphql-core's)"),
}
"""(recording file stem, exchange path) -> why the sandbox's answer differs there."""

LIVE_STORE_HAD_MORE = ("lists what the live store held besides the capture's own objects "
                       "(other fulfillment services or webhook subscriptions of the store and "
                       "of the capture tool's earlier runs)")
INLINE_ARGUMENTS = ("recorded without its document (documentPath only): the document may set "
                    "trackingSupport / inventoryManagement / requiresShippingMethod inline, "
                    "which the rebuilt query cannot know; those fields are not compared there")
EXPLAINED_DATA: dict[str, str] = {
    "fulfillment-service-lifecycle": LIVE_STORE_HAD_MORE,
    "shipping-service-mutation-first-hydration": LIVE_STORE_HAD_MORE,
    "webhook-subscription-list-connection": LIVE_STORE_HAD_MORE,
    "webhook-subscription-metafield-namespaces-resolution": LIVE_STORE_HAD_MORE,
    "webhook-subscription-metafields-lifecycle": LIVE_STORE_HAD_MORE,
    "webhook-subscription-address-byte-size-validation": (
        "reads the live shop's own settings (its time zone, America/New_York)"),
    "webhook-subscription-api-version-projection": (
        "a subscription's apiVersion is the live app's webhook API version setting (2026-07, "
        "then a release candidate); the sandbox gives it the version of the request"),
}
"""Recording file stem -> why the sandbox's data (only) differs there; userErrors, top-level
errors and cost are still compared."""


COMPARED: set[str] = set()
"""Every exchange compared value for value in this run (the last test checks the known ones)."""


@pytest.fixture(scope="module")
def real_schema() -> Any:
    return build_schema(REAL_SCHEMA_PATH.read_text())


def _send(http: httpx.Client, store: SeededStore, token: AccessToken, version: str, query: str,
          variables: dict[str, Any]) -> dict[str, Any]:
    response = http.post(f"https://{store.domain}/admin/api/{version}/graphql.json",
                         json={"query": query, "variables": variables},
                         headers={"X-Shopify-Access-Token": token.token})
    answer: dict[str, Any] = response.json()
    return answer


# Within the 1,000-point limit of a single query (first 50 inside first 10 cost 1,085 and
# was refused, so no order was aligned): the recorded orders have a few lines each.
ALIGN_ORDER = """query Align($id: ID!) { order(id: $id) { id
  lineItems(first: 50) { nodes { id } }
  fulfillmentOrders(first: 5) {
    nodes { id lineItems(first: 25) { nodes { id lineItem { id } } } } }
} }"""


def _place_order(store: SeededStore, variables: dict[str, Any]) -> int:
    order = variables.get("order") or variables.get("input") or {}
    items = [{"title": str(item.get("title") or "Item"), "quantity": int(item.get("quantity", 1)),
              "price": str(((item.get("priceSet") or {}).get("shopMoney") or {}).get("amount")
                           or item.get("price") or "10.00"),
              "sku": item.get("sku"), "requires_shipping": item.get("requiresShipping", True)}
             for item in order.get("lineItems") or [{}]]
    paid = any(t.get("kind") == "SALE" and t.get("status") == "SUCCESS"
               for t in order.get("transactions") or [])
    placed = store.sandbox.state.place_order(store.domain, items=items, paid=paid,
                                             email=order.get("email") or "c@example.com",
                                             note=order.get("note"), tags=order.get("tags") or (),
                                             test=bool(order.get("test")))
    return placed.id


def _schema_fields(schema: Any, kind: str) -> set[str]:
    root = schema.mutation_type if kind == "mutation" else schema.query_type
    return set(root.fields)


def _seen_before(value: Any, earlier: set[str]) -> list[str]:
    return [g for g in GID.findall(json.dumps(value)) and
            [m.group(0).split("?", 1)[0] for m in GID.finditer(json.dumps(value))]
            if g in earlier]


def _mapped_numbers(value: Any, ids: IdMap) -> Any:
    """Numeric ids inside messages ("Multiple orders with ids [1, 2]") in the sandbox's terms."""
    numbers = ids.numeric()
    text = json.dumps(value)
    return json.loads(re.sub(r"\b\d{9,}\b", lambda m: numbers.get(m.group(0), m.group(0)), text))


def replay(path: Path, http: httpx.Client, store: SeededStore, token: AccessToken,
           real_schema: Any) -> tuple[list[tuple[str, str, str]], Counter[str]]:
    """Replays one recording; (unexplained differences, how many exchanges per outcome)."""
    recording = load(path)
    version = VERSION_REPLAYED[path.parent.parent.name]
    found = exchanges(recording)
    sandbox_roots = {kind: _schema_fields(sandbox_schema(), kind) for kind in ("query",
                                                                               "mutation")}
    ids = IdMap()
    earlier: set[str] = set()
    tainted: set[str] = set()  # ids an exchange the sandbox did not perform touched
    outcomes: Counter[str] = Counter()
    unexplained: list[tuple[str, str, str]] = []
    by_root: dict[str, list[Exchange]] = {}
    for exchange in found:
        data = exchange.payload.get("data")
        if exchange.query is None and isinstance(data, dict) and len(data) == 1:
            by_root.setdefault(next(iter(data)), []).append(exchange)

    for exchange in found:
        recorded = exchange.payload
        query = exchange.query
        synthesized = False
        data = recorded.get("data")
        if query is None and isinstance(data, dict) and len(data) == 1:
            root = next(iter(data))
            kind = "mutation" if root in _schema_fields(real_schema, "mutation") else "query"
            query = synthesize(real_schema, root, kind, exchange.variables,
                               [(e.payload.get("data") or {}).get(root) for e in by_root[root]])
            synthesized = True
        if query is None:
            outcomes["no query: " + NO_QUERY] += 1
            continue
        root, kind = root_field(query), exchange.kind if exchange.query else (
            "mutation" if root_field(query) in _schema_fields(real_schema, "mutation")
            else "query")
        where = f"{path.stem}{exchange.path}"
        if "cleanup" in exchange.path.lower() or root in (
                "orderDelete",):
            outcomes["cleanup"] += 1
            continue
        if root in ("orderCreate", "orderCancel"):
            order_data = ((data or {}).get(root) or {}).get("order") if isinstance(data, dict) \
                else None
            if root == "orderCreate" and isinstance(order_data, dict):
                order_id = _place_order(store, exchange.variables)
                ours = _send(http, store, token, version, ALIGN_ORDER,
                             {"id": f"gid://shopify/Order/{order_id}"})
                ids.learn(order_data, (ours.get("data") or {}).get("order"))
            elif root == "orderCancel":
                target = ids.apply(exchange.variables.get("orderId"))
                match = GID.fullmatch(str(target))
                if match and int(match.group(2)) in store.sandbox.state.orders:
                    store.sandbox.state.cancel_order(
                        int(match.group(2)), str(exchange.variables.get("reason") or "CUSTOMER"))
            earlier |= {m.group(0).split("?", 1)[0] for m in GID.finditer(json.dumps(data))}
            outcomes["setup"] += 1
            continue
        answer = _send(http, store, token, version, ids.apply(query),
                       ids.apply(exchange.variables))
        earlier_ids = [m.group(0).split("?", 1)[0]
                       for m in GID.finditer(json.dumps(exchange.variables) + query)]
        if any(isinstance(exchange.variables.get(k), str) for k in ("after", "before")):
            outcomes["live cursor"] += 1  # LIVE_CURSOR
        elif root.startswith("__") or re.search(r"\b__(schema|type)\b", query):
            outcomes["introspection"] += 1  # INTROSPECTION
        elif root not in sandbox_roots[kind]:
            assert answer.get("errors") and not (answer.get("data") or {}).get(root), where
            outcomes["out of surface"] += 1
        elif answer.get("errors") and "data" not in answer and (
                data is not None or not recorded.get("errors") or all(
                    code == "undefinedField" for _, code in top_errors(recorded))):
            # refused before execution: fields or arguments outside the sandbox's model
            assert all("doesn't exist" in str(e.get("message")) or "required" in str(
                e.get("message")) or "must" in str(e.get("message")) or "Unknown" in str(
                e.get("message")) or "cannot" in str(e.get("message")).lower()
                for e in answer["errors"]), (where, answer["errors"])
            pruned = prune(sandbox_schema(), ids.apply(query)) if data is not None else None
            if pruned is None or any(len(p) == 1 for p in pruned.removed):
                outcomes["unmodelled fields"] += 1
            else:
                text = without_variables(pruned.query, unused_variables(pruned.query))
                answer = _send(http, store, token, version, text, ids.apply(exchange.variables))
                if "data" not in answer:
                    outcomes["unmodelled fields"] += 1
                elif any(g in tainted or (g in earlier and g not in ids.known)
                         for g in earlier_ids):
                    outcomes["depends"] += 1
                else:
                    outcomes["compared without unmodelled fields"] += 1
                    COMPARED.add(f"{path.stem}{exchange.path}")
                    trimmed = {**recorded, "data": drop_paths(data, pruned.removed)}
                    unexplained.extend(_compare(path.stem, exchange, kind, trimmed, answer, ids,
                                                cost_comparable=not (pruned.removed_objects
                                                                     or synthesized),
                                                synthesized=synthesized))
                    ids.learn(data, answer.get("data"))
                    earlier |= {m.group(0).split("?", 1)[0]
                                for m in GID.finditer(json.dumps(data))}
                    continue
        elif any(g in tainted or (g in earlier and g not in ids.known) for g in earlier_ids) \
                or any(m.group(0).split("?", 1)[0] in tainted
                       for m in GID.finditer(json.dumps(data))):
            outcomes["depends"] += 1
        else:
            outcomes["compared"] += 1
            COMPARED.add(f"{path.stem}{exchange.path}")
            unexplained.extend(_compare(path.stem, exchange, kind, recorded, answer, ids,
                                        cost_comparable=not synthesized,
                                        synthesized=synthesized))
            ids.learn(data, answer.get("data"))
            earlier |= {m.group(0).split("?", 1)[0] for m in GID.finditer(json.dumps(data))}
            continue
        tainted |= {m.group(0).split("?", 1)[0]
                    for m in GID.finditer(json.dumps([exchange.variables, data]))}
        earlier |= {m.group(0).split("?", 1)[0] for m in GID.finditer(json.dumps(data))}
    return unexplained, outcomes


def _difference(theirs: Any, mine: Any, where: str = "") -> str:
    """The first place where the live answer and the sandbox's differ."""
    if isinstance(theirs, dict) and isinstance(mine, dict):
        for key in sorted(set(theirs) | set(mine)):
            if theirs.get(key, "<absent>") != mine.get(key, "<absent>"):
                return _difference(theirs.get(key, "<absent>"), mine.get(key, "<absent>"),
                                   f"{where}.{key}")
    if isinstance(theirs, list) and isinstance(mine, list) and len(theirs) == len(mine):
        for index, (left, right) in enumerate(zip(theirs, mine, strict=True)):
            if left != right:
                return _difference(left, right, f"{where}[{index}]")
    return f"{where or '.'}: live {json.dumps(theirs)[:200]} / sandbox {json.dumps(mine)[:200]}"


TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
ORDER_NAME = re.compile(r"^#\d+(\.\d+)?$")
FULFILLMENT_NAME = re.compile(r"^#\d+(-F\d+)$")  # its order's name, then which fulfillment
CURSORS = frozenset({"cursor", "startCursor", "endCursor"})


def _normal(value: Any, key: str = "") -> Any:
    """Values that differ between any two runs (moments, order numbers, the opaque cursors
    each server makes of its own ids) as their kind."""
    if isinstance(value, dict):
        return {k: _normal(item, k) for k, item in value.items()}
    if isinstance(value, list):
        return [_normal(item, key) for item in value]
    if isinstance(value, str):
        if key in CURSORS:
            return "<cursor>"
        if TIMESTAMP.match(value):
            return "<moment>"
        if ORDER_NAME.match(value):
            return "<order name>"
        if (fulfillment := FULFILLMENT_NAME.match(value)) is not None:
            return "<order name>" + fulfillment.group(1)
    return value


SYNTHESIZED_COST = ("a query rebuilt from the recorded answers selects less than the lost "
                    "document did (a null object shows no sub-selection), so its cost is not "
                    "the recorded one and is not compared")
INLINE_SET = frozenset({"trackingSupport", "inventoryManagement", "requiresShippingMethod",
                        "permitsSkuSharing"})


def _without(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(item, keys) for item in value]
    return value


def _compare(stem: str, exchange: Exchange, kind: str, recorded: dict[str, Any],
             ours: dict[str, Any], ids: IdMap,
             cost_comparable: bool = True,
             synthesized: bool = False) -> list[tuple[str, str, str]]:
    differences: list[tuple[str, str, str]] = []

    def differ(aspect: str, theirs: Any, mine: Any) -> None:
        if (stem, exchange.path) not in EXPLAINED_CASES and (stem, "*") not in EXPLAINED_CASES:
            differences.append((f"{stem}{exchange.path}", aspect,
                                _difference(theirs, mine)))

    ids.learn(recorded.get("data"), ours.get("data"))  # objects this exchange created
    theirs_data, mine_data = _normal(ids.apply(recorded.get("data"))), _normal(ours.get("data"))
    if synthesized:  # INLINE_ARGUMENTS: what the lost document may have set inline
        theirs_data, mine_data = (_without(theirs_data, INLINE_SET),
                                  _without(mine_data, INLINE_SET))
    if theirs_data != mine_data and stem not in EXPLAINED_DATA:
        differ("data", theirs_data, mine_data)
    theirs_errors = _mapped_numbers(ids.apply(user_errors(recorded.get("data"))), ids)
    mine_errors = user_errors(ours.get("data"))
    if theirs_errors != mine_errors:
        differ("userErrors", theirs_errors, mine_errors)
    if top_errors(recorded) != top_errors(ours):
        differ("errors", top_errors(recorded), top_errors(ours))
    (live_requested, live_actual), (our_requested, our_actual) = cost(recorded), cost(ours)
    mutation_differs = kind == "mutation" and (live_requested, live_actual) != (
        our_requested, our_actual)
    query_cheaper = kind == "query" and (our_requested or 0) < (live_requested or 0)
    if live_requested is not None and cost_comparable and (mutation_differs or query_cheaper):
        differ("cost", (live_requested, live_actual), (our_requested, our_actual))
    return differences


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(RECORDINGS)))
def test_the_sandbox_answers_every_recording_as_shopify_did(
        path: Path, shopify_store: SeededStore, shopify_http: httpx.Client,
        real_schema: Any) -> None:
    state = shopify_store.sandbox.state
    app = state.create_app(scopes=SCOPES, redirect_urls=["https://droptrack.example/cb"])
    token = state.install(shopify_store.domain, app)
    if path.parents[2].name.startswith("harry-test-heelo"):
        shop = state.shops[shopify_store.domain]  # as the recorded store is
        shop.currency, shop.email = "CAD", "harry@harry.me"
    unexplained, outcomes = replay(path, shopify_http, shopify_store, token, real_schema)
    print(dict(outcomes))
    assert unexplained == []


KNOWN_LIVE_BEHAVIOURS = (
    # fulfillmentTrackingInfoUpdate costs 50 live
    "fulfillment-unknown-not-found/fulfillmentTrackingInfoUpdate",
    # Shopify's wording of missing or invalid arguments and variables
    "fulfillment-tracking-info-update-inline-missing-id/mutation",
    "fulfillment-tracking-info-update-inline-null-id/mutation",
    "fulfillment-tracking-info-update-missing-id/mutation",
    # an unknown (first) fulfillment order is a userError in 2026-04
    "fulfillment-create-preconditions/cases/missingFulfillmentOrder",
    # handle collision and reserved names refused; service ids keep `?id=true`
    "fulfillment-service-uniqueness/handleCollisionDuplicateCreate",
    "fulfillment-service-uniqueness/reservedGiftCardCreate",
    "fulfillment-service-uniqueness/createDiacriticPunctuation",
)


def test_the_known_live_behaviours_were_compared_value_for_value() -> None:
    """Runs after the replay above (same module): the exchanges behind the fixes were compared,
    not explained away."""
    if len(COMPARED) == 0:
        pytest.skip("run with the replay test (it fills COMPARED)")
    assert set(KNOWN_LIVE_BEHAVIOURS) <= COMPARED
