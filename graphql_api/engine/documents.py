"""Parsed and validated documents, cached by query text (the hot path's first step).

Frontends send the same few documents over and over; parsing and validating one costs more
than executing it. A bounded LRU keyed by the exact query text keeps the outcome, including
its errors, so a repeated bad document is rejected without being parsed again.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    specified_rules,
    validate,
)
from graphql.validation import ASTValidationRule
from graphql.validation.validate import ValidationAbortedError

from graphql_api.core.cache_hints import CacheHint
from graphql_api.core.errors import ErrorCode
from graphql_api.engine.cache_plan import CachePlanner
from graphql_api.engine.cost import CostModel, CostPlan
from graphql_api.engine.input_rules import UnstorableStringsRule, oversized_selection
from graphql_api.engine.rules import without_suggestions

log = logging.getLogger(__name__)

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


def _coded_abort(error: GraphQLError) -> GraphQLError:
    """graphql-core gives up on documents it cannot validate (recursion, too many errors)
    with a bare message; clients get a code for it (issue 14)."""
    if not isinstance(error, ValidationAbortedError) or error.extensions:
        return error
    return GraphQLError(
        f"{error.message} The document is too large or too deeply nested to validate.",
        extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value},
    )


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
        self._rules = (*specified_rules, UnstorableStringsRule, *extra_rules)
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
        too_large = oversized_selection(document)
        if too_large is not None:
            return PreparedDocument(None, [too_large])
        try:
            errors = validate(self._schema, document, self._rules)
        except Exception:
            # A rule that fails on a hostile document must not become a 500 (issue 14).
            log.exception("a validation rule failed")
            return PreparedDocument(
                None,
                [
                    GraphQLError(
                        "This document could not be validated.",
                        extensions={"code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value},
                    )
                ],
            )
        if errors:
            errors = [_coded_abort(error) for error in errors]
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
