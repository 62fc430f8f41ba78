"""The sandbox SDL (a strict subset of Shopify's Admin GraphQL 2026-07 schema) and validators."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, build_schema, parse, validate

SANDBOX_SDL_PATH = Path(__file__).with_name("admin_2026_07.graphql")
REAL_SDL_RELATIVE_PATH = Path("shopify/admin_graphql/admin-2026-07.schema.graphql")


@lru_cache(maxsize=1)
def sandbox_schema() -> GraphQLSchema:
    return build_schema(SANDBOX_SDL_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=2)
def load_real_schema(path: Path) -> GraphQLSchema:
    """Shopify's own SDL file (3.8 MB; about 3 s to build, so cached)."""
    return build_schema(path.read_text(encoding="utf-8"), assume_valid=True)


def validation_errors(schema: GraphQLSchema, operation: str) -> list[str]:
    """graphql-core's verdict on one document: parse errors and validation errors as text."""
    try:
        document = parse(operation)
    except GraphQLError as error:
        return [error.message]
    return [error.message for error in validate(schema, document)]
