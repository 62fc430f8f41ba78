"""The sandbox SDL is a strict subset of Shopify's real Admin GraphQL schema 2026-07."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
)

from sandboxes.shopify.schema import (
    REAL_SDL_RELATIVE_PATH,
    load_real_schema,
    sandbox_schema,
)
from tests.helpers.sandbox_shopify import validate_against_real_schema


def real_schema(contracts_dir: Path) -> GraphQLSchema:
    return load_real_schema(contracts_dir / REAL_SDL_RELATIVE_PATH)


def test_every_sandbox_type_field_argument_and_enum_value_exists_in_shopifys_schema(
        contracts_dir: Path) -> None:
    real = real_schema(contracts_dir)
    problems: list[str] = []
    checked = 0
    for name, mine in sandbox_schema().type_map.items():
        if name.startswith("__"):
            continue
        theirs = real.type_map.get(name)
        if theirs is None or type(theirs) is not type(mine):
            problems.append(f"type {name} missing or of another kind")
            continue
        if isinstance(mine, GraphQLEnumType):
            assert isinstance(theirs, GraphQLEnumType)
            problems += [f"enum {name}.{v} missing" for v in mine.values
                         if v not in theirs.values]
            checked += len(mine.values)
        elif isinstance(mine, GraphQLObjectType | GraphQLInputObjectType):
            assert isinstance(theirs, GraphQLObjectType | GraphQLInputObjectType)
            for field_name, field in mine.fields.items():
                checked += 1
                other = theirs.fields.get(field_name)
                if other is None or str(other.type) != str(field.type):
                    problems.append(f"{name}.{field_name}: {field.type} vs "
                                    f"{other.type if other else 'missing'}")
                    continue
                for arg_name, arg in getattr(field, "args", {}).items():
                    checked += 1
                    real_arg = other.args.get(arg_name)
                    if real_arg is None or str(real_arg.type) != str(arg.type):
                        problems.append(f"{name}.{field_name}({arg_name}: {arg.type})")
            if isinstance(mine, GraphQLInputObjectType):
                assert isinstance(theirs, GraphQLInputObjectType)
                problems += [f"input {name}.{f} is required by Shopify but absent"
                             for f, v in theirs.fields.items()
                             if f not in mine.fields and str(v.type).endswith("!")
                             and v.default_value is None]
    assert problems == []
    assert checked > 300


def test_validate_against_real_schema_accepts_and_rejects(contracts_dir: Path) -> None:
    assert validate_against_real_schema("{ shop { name myshopifyDomain } }") == []
    errors = validate_against_real_schema("{ shop { trackingNumber } }")
    assert errors and "trackingNumber" in errors[0]
    assert validate_against_real_schema("{ shop { ") != []
