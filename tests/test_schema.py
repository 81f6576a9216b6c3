"""The published schema: `schema.graphql` is current, and everything in it is described."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
    specified_scalar_types,
)

from app.graphql.schema import schema

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def _public_types() -> list[GraphQLNamedType]:
    """Our own named types: not introspection's `__*` types, not the built-in scalars."""
    return [
        named
        for name, named in sorted(schema._schema.type_map.items())
        if not name.startswith("__") and name not in specified_scalar_types
    ]


def _undescribed() -> list[str]:
    """Every type, field, argument, enum value and input field without a description."""
    missing: list[str] = []

    def check(path: str, description: str | None) -> None:
        if not (description or "").strip():
            missing.append(path)

    for named in _public_types():
        check(named.name, named.description)  # the root types too (schema linters ask for it)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                check(f"{named.name}.{field_name}", field.description)
                for arg_name, arg in field.args.items():
                    check(f"{named.name}.{field_name}({arg_name})", arg.description)
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                check(f"{named.name}.{field_name}", input_field.description)
        elif isinstance(named, GraphQLEnumType):
            # each value described on its own (graphql-schema-linter's enum-values-have-descriptions)
            for value_name, value in named.values.items():
                check(f"{named.name}.{value_name}", value.description)
        else:
            assert isinstance(named, GraphQLScalarType | GraphQLUnionType), named
    return missing


def test_schema_file_is_up_to_date() -> None:
    # given the schema the code builds, as `journeys export-schema` writes it
    expected = schema.as_str() + "\n"
    # then the committed file is exactly that
    current = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
    assert current == expected, (
        "schema.graphql is out of date with the code: run `journeys export-schema` and commit the result"
    )


def test_every_part_of_the_schema_has_a_description() -> None:
    missing = _undescribed()
    assert not missing, "add a description to: " + ", ".join(missing)


def test_the_description_check_sees_the_whole_schema() -> None:
    # The walk must reach the parts a client relies on, or the check above proves nothing.
    names = {t.name for t in _public_types()}
    assert {"Query", "Mutation", "Node", "Journey", "JourneyEventInput", "ErrorCode", "JSON"} <= names
    assert not {"String", "Boolean", "__Schema", "__Type"} & names
