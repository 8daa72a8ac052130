"""The committed SDL matches the code, and everything in it is documented (R21)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)

from graphql_api.face.cli import main
from schema import schema

SDL_FILE = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"


def test_committed_sdl_matches_export() -> None:
    result = CliRunner().invoke(main, ["export-schema"])
    assert result.exit_code == 0, result.output
    assert result.output == SDL_FILE.read_text(), (
        "schema/schema.graphql is stale: run `graphql-api export-schema > schema/schema.graphql`"
    )


def _undocumented() -> list[str]:
    missing: list[str] = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg_name})"
                    for arg_name, arg in field.args.items()
                    if not arg.description
                ]
        elif isinstance(gql_type, GraphQLInputObjectType):
            missing += [
                f"{name}.{field_name}"
                for field_name, field in gql_type.fields.items()
                if not field.description
            ]
        elif isinstance(gql_type, GraphQLEnumType):
            missing += [
                f"{name}.{value_name}"
                for value_name, value in gql_type.values.items()
                if not value.description
            ]
    return missing


def test_every_type_field_argument_and_enum_value_is_described() -> None:
    assert _undocumented() == []


def test_custom_scalars_say_where_their_format_is_specified() -> None:
    """Codegen tools read `specifiedByURL` and the description (issue 15)."""
    result = schema.execute_sync(
        """{ d: __type(name: "Date") { specifiedByURL description }
             t: __type(name: "DateTime") { specifiedByURL description }
             n: __type(name: "Decimal") { specifiedByURL description } }"""
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    for alias in ("d", "t", "n"):
        scalar = result.data[alias]
        assert scalar["specifiedByURL"].startswith("https://"), alias
        assert "e.g." in scalar["description"], alias
    assert "@specifiedBy" in SDL_FILE.read_text().split("scalar DateTime", 1)[1].splitlines()[0]
