"""The one execution path: every operation, from HTTP, WebSocket or GraphiQL, comes here.

`Operations` owns the parse/validate cache (with the size, token and depth limits) and the
compiled engine. Entry points only translate their transport to `request` / `subscribe`
and their results back; no limit and no error rule exists anywhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLSchema, OperationType
from graphql.validation import ASTValidationRule

from graphql_api.engine import Engine, InfoFactory
from graphql_api.engine.documents import DocumentCache, PreparedDocument
from graphql_api.engine.run import default_info


class RequestError(Exception):
    """The request cannot run at all: nothing was executed.

    `errors` are what the client gets; `reason` lets transports refuse each case their own
    way (HTTP answers a missing query with 400; WebSocket closes on an unknown operation).
    """

    NO_QUERY = "no_query"
    UNKNOWN_OPERATION = "unknown_operation"
    INVALID = "invalid"

    def __init__(self, errors: list[GraphQLError], reason: str = INVALID) -> None:
        super().__init__(errors[0].message)
        self.errors = errors
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Prepared:
    document: PreparedDocument
    operation_type: OperationType
    operation_name: str | None


class Operations:
    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        rules: Sequence[type[ASTValidationRule]] = (),
        make_info: InfoFactory = default_info,
        fallback_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.schema = schema
        self.documents = DocumentCache(schema, rules)
        self.engine = Engine(schema, make_info=make_info, fallback_kwargs=fallback_kwargs)

    def prepare(self, query: object, operation_name: str | None) -> Prepared:
        """Parse and validate (cached), and pick the operation; RequestError if it cannot run."""
        if not isinstance(query, str) or not query.strip():
            raise RequestError(
                [GraphQLError("No GraphQL query found in the request.")], RequestError.NO_QUERY
            )
        prepared = self.documents.get(query)
        if prepared.document is None:
            raise RequestError(prepared.errors)
        operation_type = prepared.operation_type(operation_name)
        if operation_type is None:
            message = (
                f"Unknown operation named '{operation_name}'."
                if operation_name
                else "Must provide operation name if query contains multiple operations."
            )
            raise RequestError([GraphQLError(message)], RequestError.UNKNOWN_OPERATION)
        return Prepared(prepared, operation_type, operation_name)

    async def execute(
        self,
        prepared: Prepared,
        *,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any = None,
        extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """A query or mutation."""
        document = prepared.document.document
        assert document is not None
        result = self.engine.execute(
            document,
            context_value=context,
            variable_values=variables,
            operation_name=prepared.operation_name,
            root_value=root_value,
            extensions=extensions,
        )
        if isawaitable(result):
            result = await result
        return result

    async def subscribe(
        self,
        prepared: Prepared,
        *,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any = None,
    ) -> AsyncIterator[ExecutionResult] | ExecutionResult:
        """A subscription: its response stream, or the errors that stopped it from starting."""
        document = prepared.document.document
        assert document is not None
        return await self.engine.subscribe(
            document,
            context_value=context,
            variable_values=variables,
            operation_name=prepared.operation_name,
            root_value=root_value,
        )
