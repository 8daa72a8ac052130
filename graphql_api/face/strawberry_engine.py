"""Strawberry's entry points routed onto the one execution path (`engine.operations`).

Strawberry's own transports (the graphql-transport-ws and graphql-ws handlers, its HTTP
view for anything the lean view does not take) call `schema.execute`, `schema.stream` or
`schema.subscribe`. `EngineSchema` answers those with `Operations` (cached parse and
validation with our limits, the compiled engine, coded and masked errors), so no request
runs on Strawberry's executor and no limit or error rule exists twice.

What this relies on from Strawberry's internals (the info tuple its execution context
builds, the result and pre-execution error types its transports expect, its exception
types) is pinned by the version range in pyproject.toml and checked by
tests/test_engine.py, which fails loudly when one of them changes.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence
from contextlib import aclosing
from functools import partial
from typing import Any

from graphql import ExecutionResult as CoreResult
from graphql import GraphQLError
from graphql.pyutils import Path
from graphql.validation import ASTValidationRule
from strawberry.exceptions import MissingQueryError
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import (
    _OperationContextAwareGraphQLResolveInfo as StrawberryResolveInfo,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from graphql_api.core.errors import ErrorCode, classify
from graphql_api.engine.operations import Limits, Operations, Prepared, RequestError
from graphql_api.engine.plan import FieldPlan
from graphql_api.engine.run import Execution, is_awaitable
from schema.extensions import ApiSchema

_new_info = partial(tuple.__new__, StrawberryResolveInfo)


def strawberry_info(field: FieldPlan, path: Path, execution: Execution) -> Any:
    """The info tuple Strawberry's execution context gives resolvers (coerced variables).

    Built with tuple.__new__: the NamedTuple's own __new__ is a Python lambda, and this runs
    for every call of a resolver that takes arguments."""
    return _new_info(
        (
            field.name,
            field.nodes,
            field.return_type,
            field.parent_type,
            path,
            execution.schema,
            execution.fragments,
            execution.root_value,
            execution.operation,
            execution.variables.coerced,
            execution.context,
            is_awaitable,
            None,
            execution.helpers,
            execution.extensions or {},
        )
    )


def _coded(errors: Sequence[GraphQLError] | None) -> list[GraphQLError] | None:
    return [classify(error) for error in errors] if errors else None


class EngineSchema(ApiSchema):
    """ApiSchema whose execute/stream/subscribe run on `Operations` (see module docstring)."""

    operations: Operations

    def attach(
        self, rules: Sequence[type[ASTValidationRule]], limits: Limits | None = None
    ) -> Operations:
        self.operations = Operations(
            self._schema,
            rules=rules,
            limits=limits,
            make_info=strawberry_info,
            fallback_kwargs={
                **execution_context_class_kwargs(self.execution_context_class),
                "is_awaitable": optimized_is_awaitable,
            },
        )
        return self.operations

    def _prepare(
        self,
        query: str | None,
        operation_name: str | None,
        allowed: Iterable[OperationType] | None,
        variables: dict[str, Any] | None,
    ) -> Prepared:
        """Prepare, raising Strawberry's exceptions where its transports expect them."""
        try:
            prepared = self.operations.prepare(query, operation_name, variables)
        except RequestError as exc:
            if exc.reason == RequestError.NO_QUERY:
                raise MissingQueryError from None
            if exc.reason == RequestError.UNKNOWN_OPERATION:
                raise CannotGetOperationTypeError(operation_name) from None
            raise
        kind = OperationType(prepared.operation_type.value)
        if allowed is not None and kind not in set(allowed):
            raise InvalidOperationTypeError(kind)
        return prepared

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        try:
            prepared = self._prepare(
                query, operation_name, allowed_operation_types, variable_values
            )
        except RequestError as exc:
            return PreExecutionError(data=None, errors=_coded(exc.errors))
        return await self._result(
            prepared, variable_values, context_value, root_value, operation_extensions
        )

    async def _result(
        self,
        prepared: Prepared,
        variable_values: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        """A prepared query or mutation, run, with coded errors."""
        try:
            result = await self.operations.execute(
                prepared,
                context=context_value,
                variables=variable_values,
                root_value=root_value,
                extensions=operation_extensions,
            )
        except RequestError as exc:  # rate limited: nothing ran
            return PreExecutionError(data=None, errors=_coded(exc.errors))
        return ExecutionResult(
            data=result.data, errors=_coded(result.errors), extensions=result.extensions
        )

    async def subscribe(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> AsyncGenerator[ExecutionResult, None]:
        return await self.stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            (OperationType.SUBSCRIPTION,),
        )

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> AsyncGenerator[ExecutionResult, None]:
        # Strawberry's transports await `stream(...)` and iterate what it returns.
        return self._engine_stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types,
        )

    async def _engine_stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None,
        context_value: Any | None,
        root_value: Any | None,
        operation_name: str | None,
        operation_extensions: dict[str, Any] | None,
        allowed_operation_types: Iterable[OperationType] | None,
    ) -> AsyncGenerator[ExecutionResult, None]:
        try:
            prepared = self._prepare(
                query, operation_name, allowed_operation_types, variable_values
            )
        except (RequestError, MissingQueryError, CannotGetOperationTypeError,
                InvalidOperationTypeError) as exc:  # fmt: skip
            yield PreExecutionError(data=None, errors=_request_errors(exc))
            return
        if prepared.operation_type.value != OperationType.SUBSCRIPTION.value:
            yield await self._result(
                prepared, variable_values, context_value, root_value, operation_extensions
            )
            return
        try:
            source = await self.operations.subscribe(
                prepared, context=context_value, variables=variable_values, root_value=root_value
            )
        except RequestError as exc:  # rate limited: not subscribed
            yield PreExecutionError(data=None, errors=_coded(exc.errors))
            return
        if isinstance(source, CoreResult):
            yield PreExecutionError(data=None, errors=_coded(source.errors))
            return
        try:
            async with aclosing(source):
                async for result in source:
                    yield ExecutionResult(data=result.data, errors=_coded(result.errors))
        except Exception as exc:  # an event stream that fails ends the operation with an error
            error = (
                exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
            )
            yield ExecutionResult(data=None, errors=_coded([error]))


def _request_errors(exc: Exception) -> list[GraphQLError]:
    """Strawberry's wording for requests that cannot run (its transports match on the
    original exception, e.g. closing a graphql-transport-ws operation on an unknown name)."""
    if isinstance(exc, RequestError):
        return _coded(exc.errors) or []
    code = {"code": ErrorCode.GRAPHQL_VALIDATION_FAILED.value}
    if isinstance(exc, CannotGetOperationTypeError):
        message = exc.as_http_error_reason()
    elif isinstance(exc, InvalidOperationTypeError):
        plural = {"query": "queries", "mutation": "mutations", "subscription": "subscriptions"}
        message = f"{plural[exc.operation_type.value]} are not allowed"
    else:
        message = "No GraphQL query found in the request."
    return [GraphQLError(message, original_error=exc, extensions=code)]
