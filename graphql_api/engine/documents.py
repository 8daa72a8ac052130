"""Parsed and validated documents, cached by query text (the hot path's first step).

Frontends send the same few documents over and over; parsing and validating one costs more
than executing it. A bounded LRU keyed by the exact query text keeps the outcome, including
its errors, so a repeated bad document is rejected without being parsed again.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphql import (
    BREAK,
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Visitor,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.validation import ASTValidationRule

from graphql_api.core.cache_hints import CacheHint
from graphql_api.engine.cache_plan import CachePlanner
from graphql_api.engine.cost import CostModel, CostPlan
from graphql_api.engine.rules import without_suggestions

MAX_QUERY_LENGTH = 100_000
MAX_TOKENS = 5_000


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A document ready to execute, or the errors that stop it."""

    document: DocumentNode | None
    errors: list[GraphQLError] = field(default_factory=list)
    # Operation name (None for an anonymous single operation) -> its type.
    operations: dict[str | None, OperationType] = field(default_factory=dict)
    # Operation name -> its price (engine/cost.py), compiled on first use.
    costs: dict[str | None, CostPlan] = field(default_factory=dict)
    # Operation name -> its cache hint (engine/cache_plan.py), computed on first use.
    hints: dict[str | None, CacheHint] = field(default_factory=dict)
    # sha256 of the query text (the response cache's key), computed once per document.
    digest: str = ""

    def operation_type(self, name: str | None) -> OperationType | None:
        return self.operations.get(self.operation_name(name))

    def operation_name(self, name: str | None) -> str | None:
        """The name under which `operations` knows the operation `name` selects."""
        if name is None and len(self.operations) == 1:
            return next(iter(self.operations))
        return name

    def cost_plan(self, model: CostModel, name: str | None) -> CostPlan:
        key = self.operation_name(name)
        plan = self.costs.get(key)
        if plan is None:
            plan = self.costs[key] = model.plan(*self._operation(key))
        return plan

    def cache_hint(self, planner: CachePlanner, name: str | None) -> CacheHint:
        """Who may share this operation's answer and for how long (the response cache)."""
        key = self.operation_name(name)
        hint = self.hints.get(key)
        if hint is None:
            hint = self.hints[key] = planner.plan(*self._operation(key))
        return hint

    def _operation(
        self, key: str | None
    ) -> tuple[OperationDefinitionNode, dict[str, FragmentDefinitionNode]]:
        assert self.document is not None
        fragments: dict[str, FragmentDefinitionNode] = {}
        operation: OperationDefinitionNode | None = None
        for node in self.document.definitions:
            if isinstance(node, FragmentDefinitionNode):
                fragments[node.name.value] = node
            elif isinstance(node, OperationDefinitionNode) and (
                (node.name.value if node.name else None) == key
            ):
                operation = node
        assert operation is not None  # `operation_type` found it
        return operation, fragments


class DocumentCache:
    def __init__(
        self,
        schema: GraphQLSchema,
        extra_rules: Sequence[type[ASTValidationRule]] = (),
        *,
        maxsize: int = 1024,
        suggestions: bool = True,
    ) -> None:
        self._schema = schema
        self._suggestions = suggestions
        self._rules = (*specified_rules, *extra_rules)
        self._maxsize = maxsize
        self._entries: OrderedDict[str, PreparedDocument] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, query: str) -> PreparedDocument:
        entry = self._entries.get(query)
        if entry is not None:
            self._entries.move_to_end(query)
            self.hits += 1
            return entry
        self.misses += 1
        entry = self._prepare(query)
        self._entries[query] = entry
        if len(self._entries) > self._maxsize:
            self._entries.popitem(last=False)
        return entry

    def _prepare(self, query: str) -> PreparedDocument:
        if len(query) > MAX_QUERY_LENGTH:
            return PreparedDocument(
                None, [GraphQLError(f"Query text exceeds {MAX_QUERY_LENGTH} characters.")]
            )
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            return PreparedDocument(None, [error])
        empty = empty_selection_set(document)
        if empty is not None:
            return PreparedDocument(None, [empty])
        errors = validate(self._schema, document, self._rules)
        if errors:
            if not self._suggestions:
                errors = [without_suggestions(error) for error in errors]
            return PreparedDocument(None, list(errors))
        operations = {
            (node.name.value if node.name else None): node.operation
            for node in document.definitions
            if isinstance(node, OperationDefinitionNode)
        }
        digest = hashlib.sha256(query.encode()).hexdigest()
        return PreparedDocument(document, [], operations, digest=digest)


class _EmptySelectionSet(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found: SelectionSetNode | None = None

    def enter_selection_set(self, node: SelectionSetNode, *_: object) -> object:
        if not node.selections:
            self.found = node
            return BREAK
        return None


def empty_selection_set(document: DocumentNode) -> GraphQLError | None:
    """graphql-core parses `{}`, which the GraphQL grammar forbids (`Selection+`) and which
    crashes the depth rule: refused as the syntax error graphql-js reports."""
    visitor = _EmptySelectionSet()
    visit(document, visitor)
    if visitor.found is None:
        return None
    return GraphQLError("Syntax Error: Expected Name, found '}'.", nodes=[visitor.found])
