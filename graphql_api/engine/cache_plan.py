"""A document's cache hint: the narrowest scope and the shortest max age of its fields.

Computed once per cached document and operation (like the cost plan), from the hints the
schema layer put on the fields (core/cache_hints.py). Every field the operation may select
counts, whatever `@skip`/`@include` say (the hint holds for every variable value); a field
on an abstract type counts the hints of that field in every possible type. A field without
a hint counts as per-user.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_object_type,
)

from graphql_api.core.cache_hints import FIELD_EXTENSION, PUBLIC, UNMARKED, CacheHint


def field_hint(field: GraphQLField) -> CacheHint:
    hint = (field.extensions or {}).get(FIELD_EXTENSION)
    return hint if isinstance(hint, CacheHint) else UNMARKED


class CachePlanner:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema

    def plan(
        self, operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
    ) -> CacheHint:
        root = self.schema.get_root_type(operation.operation)
        assert root is not None  # validation guarantees the operation's root type exists
        return self._selections(root, operation.selection_set, fragments, set())

    def _selections(
        self,
        parent: GraphQLNamedType,
        selection_set: SelectionSetNode | None,
        fragments: Mapping[str, FragmentDefinitionNode],
        spread: set[str],
    ) -> CacheHint:
        hint = PUBLIC
        if selection_set is None:
            return hint
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                hint = hint.narrowed(self._field(parent, selection, fragments, spread))
            elif isinstance(selection, InlineFragmentNode):
                condition = parent
                if selection.type_condition is not None:
                    named = self.schema.get_type(selection.type_condition.name.value)
                    assert named is not None  # validated
                    condition = named
                inner = self._selections(condition, selection.selection_set, fragments, spread)
                hint = hint.narrowed(inner)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in spread:  # validation forbids cycles; a repeat adds nothing
                    continue
                fragment = fragments[name]
                named = self.schema.get_type(fragment.type_condition.name.value)
                assert named is not None  # validated
                inner = self._selections(named, fragment.selection_set, fragments, spread | {name})
                hint = hint.narrowed(inner)
        return hint

    def _field(
        self,
        parent: GraphQLNamedType,
        node: FieldNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        spread: set[str],
    ) -> CacheHint:
        name = node.name.value
        if name.startswith("__"):
            # __typename, and introspection: the schema is the same for every caller.
            return PUBLIC
        hint = PUBLIC
        owners: list[GraphQLNamedType] = [parent]
        if is_abstract_type(parent):
            owners.extend(self.schema.get_possible_types(parent))
        field: GraphQLField | None = None
        for owner in owners:
            owner_field = getattr(owner, "fields", {}).get(name)
            if owner_field is None:
                continue
            field = owner_field
            hint = hint.narrowed(field_hint(owner_field))
        assert field is not None  # validated
        result = get_named_type(field.type)
        if node.selection_set is not None and (is_object_type(result) or is_abstract_type(result)):
            hint = hint.narrowed(self._selections(result, node.selection_set, fragments, spread))
        return hint
