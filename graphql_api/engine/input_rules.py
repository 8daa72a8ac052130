"""Input the database cannot hold, refused before anything runs (issue 14).

PostgreSQL's `text` and `jsonb` cannot store or compare NUL characters, and UTF-8 cannot
encode lone surrogates (JSON's `"\\ud800"` escapes decode to them). One rule covers every
operation type and every way a string reaches an argument:

- literals in the document (`glossary(search: "a\\u0000b")`, defaults of variables): a
  validation rule, so the verdict is cached with the document and costs nothing per request;
- variable values (strings, and the keys and strings inside JSON scalars): one walk over the
  request's variables in `Operations.prepare`, strings only, before authentication or SQL.

Both answer BAD_USER_INPUT naming where the string is. A selection set too large for
graphql-core's overlapping-fields check (which recurses and gives up with a bare
"Validation aborted.") is refused before validation with QUERY_TOO_COMPLEX.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    ObjectFieldNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    VariableDefinitionNode,
)
from graphql.language import FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode
from graphql.validation import ASTValidationRule

from graphql_api.core.errors import ErrorCode

# NUL and the surrogate block: what PostgreSQL text/jsonb (UTF-8) cannot hold.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "must not contain NUL characters or unpaired surrogates"

# The most selections one selection set may hold. graphql-core's overlapping-fields check is
# quadratic in repeated response names and recurses past 800 or so; no real document comes
# near this (codegen's introspection query has under 20 per set).
MAX_SELECTIONS = 250
# Fragments nested deeper than this are left to graphql-core (which refuses them).
_MAX_NESTING = 50


def unstorable(text: str) -> bool:
    """True when PostgreSQL could not store `text`."""
    return _UNSTORABLE.search(text) is not None


def _bad_input(message: str, where: str) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": ErrorCode.BAD_USER_INPUT.value, "field": where}
    )


class UnstorableStringsRule(ASTValidationRule):
    """Refuses string literals PostgreSQL cannot hold, naming the field and argument."""

    def enter_string_value(
        self, node: StringValueNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        if not unstorable(node.value):
            return
        field: str | None = None
        names: list[str] = []
        for ancestor in (*ancestors, parent):
            if isinstance(ancestor, FieldNode):
                field, names = ancestor.name.value, []
            elif isinstance(ancestor, ArgumentNode | ObjectFieldNode):
                names.append(ancestor.name.value)
            elif isinstance(ancestor, VariableDefinitionNode):
                field, names = None, [f"${ancestor.variable.name.value}"]
        where = ".".join(names) or "value"
        owner = f' of field "{field}"' if field is not None else ""
        self.report_error(
            GraphQLError(
                f'Argument "{where}"{owner} {UNSTORABLE_MESSAGE}.',
                nodes=[node],
                extensions={"code": ErrorCode.BAD_USER_INPUT.value, "field": where},
            )
        )


def unstorable_variable(variables: Mapping[str, Any]) -> GraphQLError | None:
    """BAD_USER_INPUT naming the first variable value PostgreSQL could not hold, or None.

    Walks containers iteratively (JSON variables may nest a thousand levels) and looks only
    at strings: ints, floats, booleans and nulls cost one isinstance each."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(variables, ())]
    while stack:
        value, path = stack.pop()
        if isinstance(value, Mapping):
            items: Any = value.items()
        else:
            items = enumerate(value)
        for key, item in items:
            if isinstance(key, str) and unstorable(key):
                return _variable_error((*path, "<key>"))
            if isinstance(item, str):
                if _UNSTORABLE.search(item) is not None:
                    return _variable_error((*path, key))
            elif isinstance(item, Mapping | list):
                stack.append((item, (*path, key)))
    return None


def _variable_error(path: tuple[str | int, ...]) -> GraphQLError:
    name = str(path[0])
    where = ".".join(str(part) for part in path)
    return _bad_input(f'Variable "${name}" at "{where}" {UNSTORABLE_MESSAGE}.', where)


def oversized_selection(document: DocumentNode, limit: int = MAX_SELECTIONS) -> GraphQLError | None:
    """QUERY_TOO_COMPLEX if one selection set holds more than `limit` fields once its inline
    fragments and fragment spreads are expanded (what the overlapping-fields check compares);
    GRAPHQL_PARSE_FAILED for an empty selection set.

    Runs before validation, whose overlapping-fields check is quadratic in such a set and
    recurses past about 800 repeated fields. Each fragment's size is computed once."""
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    sizes: dict[str, int] = {}

    def size(selection_set: SelectionSetNode, visiting: frozenset[str]) -> int:
        count = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                count += 1
            elif isinstance(selection, InlineFragmentNode):
                count += size(selection.selection_set, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                known = sizes.get(name)
                if known is None:
                    fragment = fragments.get(name)
                    if fragment is None or name in visiting or len(visiting) > _MAX_NESTING:
                        continue  # unknown or cyclic: validation reports it
                    known = sizes[name] = size(fragment.selection_set, visiting | {name})
                count += known
            if count > limit:
                break
        return count

    stack: list[SelectionSetNode] = []
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            stack.append(definition.selection_set)
    while stack:
        selection_set = stack.pop()
        if not selection_set.selections:
            # graphql-core 3.3 parses `{}`; Strawberry's depth rule then fails on it.
            return GraphQLError(
                "Syntax Error: a selection set must select at least one field.",
                extensions={"code": ErrorCode.GRAPHQL_PARSE_FAILED.value},
            )
        count = size(selection_set, frozenset())
        if count > limit:
            return GraphQLError(
                f"A selection set holds more than {limit} fields (fragments included); "
                "ask for fewer.",
                extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value},
            )
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)
    return None
