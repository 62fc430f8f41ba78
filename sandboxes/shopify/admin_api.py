"""`POST /admin/api/<version>/graphql.json`: auth, validation, cost, throttling, execution."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLResolveInfo,
    Node,
    OperationDefinitionNode,
    Visitor,
    default_field_resolver,
    execute,
    parse,
    print_ast,
    validate,
    visit,
)
from graphql.execution.values import get_variable_values

from sandboxes.shopify.cost import MAX_SINGLE_QUERY_COST, CostCalculator
from sandboxes.shopify.resolvers import RequestContext, resolve_root
from sandboxes.shopify.sandbox import ShopifySandbox
from sandboxes.shopify.schema import sandbox_schema

UNAUTHORIZED_MESSAGE = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)")
RATE_LIMITS_DOCS = "https://shopify.dev/api/usage/rate-limits"
UNDEFINED_FIELD = re.compile(r"Cannot query field '(\w+)' on type '(\w+)'\.")

admin_api = Blueprint("shopify_admin_api", __name__)


def sandbox() -> ShopifySandbox:
    found: ShopifySandbox = current_app.extensions["sandbox"]
    return found


def shop_from_request(path_shop: str | None) -> str | None:
    """The shop a request addresses: path prefix, X-Sandbox-Shop, or the Host header."""
    if path_shop:
        return path_shop
    explicit = request.headers.get("X-Sandbox-Shop")
    if explicit:
        return explicit
    host = (request.host or "").split(":", 1)[0].lower()
    return host if host.endswith(".myshopify.com") else None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


MISSING_ARGUMENT = re.compile(
    r"Argument '\w+\.(\w+)\((\w+):\)' of type '[^']+' is required, but it was not provided\.")
NULL_LITERAL = re.compile(r"Expected value of non-null type '([^']+)' not to be None\.")
VARIABLE_PROBLEM = re.compile(r"Variable '\$(\w+)' has invalid value: (.*)")


def _argument_of(document: DocumentNode | None, value: Node | None) -> tuple[str, str] | None:
    """(field name, argument name) of the argument whose value is `value` in `document`."""
    if document is None or value is None:
        return None
    found: list[tuple[str, str]] = []

    class Finder(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            found.extend((node.name.value, argument.name.value)
                         for argument in node.arguments or () if argument.value is value)

    visit(document, Finder())
    return found[0] if found else None


def _variable_type(document: DocumentNode | None, name: str) -> str:
    for definition in (document.definitions if document else ()):
        if isinstance(definition, OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                if variable.variable.name.value == name:
                    return print_ast(variable.type)
    return "?"


def _shopify_error(error: GraphQLError, document: DocumentNode | None = None) -> dict[str, Any]:
    """graphql-core's error in the words and codes Shopify's GraphQL Ruby uses (recorded in
    shared/contracts/shopify/live_graphql_recordings_draft_proxy)."""
    formatted: dict[str, Any] = dict(error.formatted)
    match = UNDEFINED_FIELD.match(error.message)
    missing = MISSING_ARGUMENT.match(error.message)
    null = NULL_LITERAL.match(error.message)
    variable = VARIABLE_PROBLEM.match(error.message)
    argument = _argument_of(document, error.nodes[0] if error.nodes else None) if null else None
    if missing:
        formatted["message"] = (f"Field '{missing.group(1)}' is missing required arguments: "
                                f"{missing.group(2)}")
        formatted["extensions"] = {"code": "missingRequiredArguments", "className": "Field",
                                   "name": missing.group(1), "arguments": missing.group(2)}
    elif null and argument:
        formatted["message"] = (f"Argument '{argument[1]}' on Field '{argument[0]}' has an "
                                f"invalid value (null). Expected type '{null.group(1)}'.")
        formatted["extensions"] = {"code": "argumentLiteralsIncompatible",
                                   "typeName": "Field", "argumentName": argument[1]}
    elif variable:
        value_missing = "to be provided" in variable.group(2) or "not to be null" in \
            variable.group(2)
        formatted["message"] = (f"Variable ${variable.group(1)} of type "
                                f"{_variable_type(document, variable.group(1))} was provided "
                                "invalid value")
        formatted["extensions"] = {"code": "INVALID_VARIABLE", "value": None, "problems": [{
            "path": [], "explanation": "Expected value to not be null" if value_missing
            else variable.group(2)}]}
    elif match:
        formatted["message"] = f"Field '{match.group(1)}' doesn't exist on type '{match.group(2)}'"
        formatted["extensions"] = {"code": "undefinedField", "typeName": match.group(2),
                                   "fieldName": match.group(1)}
    elif error.message.startswith("Variable '$"):
        formatted["extensions"] = {**(formatted.get("extensions") or {}),
                                   "code": "INVALID_VARIABLE"}
    return formatted


def _resolver(context: RequestContext) -> Any:
    def resolve(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        if info.parent_type.name in ("QueryRoot", "Mutation"):
            return resolve_root(context, info.field_name, dict(args))
        return default_field_resolver(source, info, **args)
    return resolve


@admin_api.post("/admin/api/<version>/graphql.json")
@admin_api.post("/shops/<path_shop>/admin/api/<version>/graphql.json")
def graphql_endpoint(version: str, path_shop: str | None = None) -> Response:
    box = sandbox()
    shop = shop_from_request(path_shop)
    if shop is None or box.state.shop(shop) is None:
        return _json({"errors": "Not Found"}, 404)
    if version not in box.api_versions:
        return _json({"errors": "Not Found"}, 404)
    version_header = {"X-Shopify-API-Version": version}
    token = box.state.authenticate(shop, request.headers.get("X-Shopify-Access-Token", ""))
    if token is None:
        return _json({"errors": UNAUTHORIZED_MESSAGE}, 401, version_header)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return _json({"errors": {"query": "Required parameter missing or invalid"}}, 400,
                     version_header)
    result = run_operation(box, RequestContext(box.state, shop, token, version), body)
    return _json(result, 200, version_header)


def run_operation(box: ShopifySandbox, context: RequestContext,
                  body: dict[str, Any]) -> dict[str, Any]:
    """Parse, validate, price, throttle, execute, refund: one Admin API call."""
    schema = sandbox_schema()
    variables = body.get("variables") or {}
    try:
        document = parse(body["query"])
    except GraphQLError as error:
        return {"errors": [_shopify_error(error)]}
    errors = validate(schema, document)
    if errors:
        return {"errors": [_shopify_error(e, document) for e in errors]}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    name = body.get("operationName")
    chosen = next((o for o in operations if name is None or
                   (o.name is not None and o.name.value == name)), None)
    if chosen is None or (name is None and len(operations) > 1):
        return {"errors": [{"message": "An operation name is required"}]}
    coerced = get_variable_values(schema, chosen.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return {"errors": [_shopify_error(e, document) for e in coerced]}
    fragments = {d.name.value: d for d in document.definitions
                 if isinstance(d, FragmentDefinitionNode)}
    calculator = CostCalculator(schema, chosen, fragments, variables)
    requested = calculator.requested()
    client_id = context.token.client_id
    if requested > MAX_SINGLE_QUERY_COST:
        box.state.record_usage(context.shop, client_id, context.token.token, points=0,
                               throttled=False)
        return {"errors": [{
            "message": (f"Query cost is {requested}, which exceeds the single query max cost "
                        f"limit ({MAX_SINGLE_QUERY_COST})."),
            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                           "maxCost": MAX_SINGLE_QUERY_COST,
                           "documentation": RATE_LIMITS_DOCS}}]}
    bucket = box.bucket(context.shop, client_id)
    if not bucket.try_take(requested):
        box.state.record_usage(context.shop, client_id, context.token.token, points=0,
                               throttled=True)
        return {"errors": [{"message": "Throttled",
                            "extensions": {"code": "THROTTLED",
                                           "documentation": RATE_LIMITS_DOCS}}],
                "extensions": {"cost": {"requestedQueryCost": requested,
                                        "actualQueryCost": None,
                                        "throttleStatus": bucket.status().as_json()}}}
    outcome = execute(schema, document, variable_values=variables,
                      operation_name=name, field_resolver=_resolver(context))
    assert isinstance(outcome, ExecutionResult)
    actual = min(calculator.actual(outcome.data), requested)
    bucket.refund(requested - actual)
    box.state.record_usage(context.shop, client_id, context.token.token, points=actual,
                           throttled=False)
    response: dict[str, Any] = {}
    if outcome.errors:
        response["errors"] = [_shopify_error(e) for e in outcome.errors]
    response["data"] = outcome.data
    response["extensions"] = {"cost": {"requestedQueryCost": requested,
                                       "actualQueryCost": actual,
                                       "throttleStatus": bucket.status().as_json()}}
    return response
