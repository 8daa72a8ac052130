"""The execution engine: validated documents compiled once into plans, then run per request.

`Engine.execute` has graphql-core's `execute` contract (same data, same errors with the
same messages, paths and order, null propagation as the spec says) at a fraction of the
per-field cost, because everything that depends only on the document is decided once:
which fields each selection resolves, how each value is read and serialized, where each
error propagates. What the compiler does not handle (introspection, directives other than
`@skip`/`@include`) runs on graphql-core's executor for that document; each such document
is logged once (`fallbacks` counts them).

The engine imports nothing from the application: it runs whatever schema it is given.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterable, Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    execute,
)
from graphql.execution.execute import create_source_event_stream
from graphql.execution.executor import Executor
from graphql.execution.values import VariableValues, get_variable_values
from graphql.language import DirectiveNode, VariableNode, Visitor, visit

from graphql_api.engine.plan import Compiler, ObjectPlan, Unsupported
from graphql_api.engine.run import (
    Execution,
    InfoFactory,
    Meter,
    build_object_runner,
    default_info,
    field_error,
    run_field,
)

__all__ = ["Engine", "InfoFactory", "Meter", "NotExecuted"]

log = logging.getLogger("graphql_api.engine")

_NO_VARIABLES = VariableValues({}, {})


class NotExecuted(ExecutionResult):
    """The result of a request that never started executing (its variables do not coerce,
    it names no operation): GraphQL over HTTP answers it as a request error, without `data`."""

    __slots__ = ()


class _DirectiveVariables(Visitor):
    """Names of the variables read by @skip/@include, and whether other directives occur."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.other = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
        if node.name.value not in ("skip", "include"):
            self.other = True
            return
        for argument in node.arguments or ():
            value = argument.value
            if isinstance(value, VariableNode) and value.name.value not in self.names:
                self.names.append(value.name.value)


@dataclass(slots=True)
class _Entry:
    """What the engine knows about one (document, operation name)."""

    document: DocumentNode
    operation: OperationDefinitionNode | None
    errors: list[GraphQLError]
    fragments: dict[str, FragmentDefinitionNode] = field(default_factory=dict)
    directive_variables: tuple[str, ...] = ()
    supported: bool = True
    plans: dict[tuple[Any, ...], ObjectPlan] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        make_info: InfoFactory = default_info,
        fallback_kwargs: dict[str, Any] | None = None,
        maxsize: int = 1024,
    ) -> None:
        self.schema = schema
        self.make_info = make_info
        self.fallback_kwargs = fallback_kwargs or {}
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[int, str | None], _Entry] = OrderedDict()
        self.fallbacks = 0
        # Entered around each subscription event's execution, with the operation's name,
        # when set (face/observe.py: a trace span per delivery); None: nothing.
        self.on_event: Callable[[str | None], AbstractContextManager[object]] | None = None

    # --- documents -----------------------------------------------------------------------

    def _entry(self, document: DocumentNode, operation_name: str | None) -> _Entry:
        key = (id(document), operation_name)
        entry = self._entries.get(key)
        if entry is not None and entry.document is document:
            self._entries.move_to_end(key)
            return entry
        entry = self._prepare(document, operation_name)
        self._entries[key] = entry
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return entry

    def _prepare(self, document: DocumentNode, operation_name: str | None) -> _Entry:
        operation: OperationDefinitionNode | None = None
        fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                if operation_name is None:
                    if operation is not None:
                        return _Entry(
                            document,
                            None,
                            [
                                GraphQLError(
                                    "Must provide operation name"
                                    " if query contains multiple operations."
                                )
                            ],
                        )
                    operation = definition
                elif definition.name and definition.name.value == operation_name:
                    operation = definition
            elif isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
        if operation is None:
            message = (
                f"Unknown operation named '{operation_name}'."
                if operation_name is not None
                else "Must provide an operation."
            )
            return _Entry(document, None, [GraphQLError(message)])
        directives = _DirectiveVariables()
        visit(document, directives)
        supported = not directives.other and not any(
            fragment.variable_definitions for fragment in fragments.values()
        )
        return _Entry(
            document,
            operation,
            [],
            fragments,
            tuple(directives.names),
            supported and not operation.directives,
        )

    def _plan(self, entry: _Entry, variables: VariableValues) -> ObjectPlan | None:
        coerced = variables.coerced
        key = tuple(coerced.get(name) for name in entry.directive_variables)
        plan = entry.plans.get(key)
        if plan is not None:
            return plan
        operation = entry.operation
        assert operation is not None
        root_type = self.schema.get_root_type(operation.operation)
        if root_type is None:
            return None
        compiler = Compiler(self.schema, entry.fragments, variables, build_object_runner)
        try:
            plan = compiler.object_plan(root_type, [operation.selection_set], None)
        except (Unsupported, RecursionError) as reason:
            entry.supported = False
            self.fallbacks += 1
            log.info("document left to graphql-core's executor", extra={"reason": str(reason)})
            return None
        entry.plans[key] = plan
        return plan

    # --- execution -----------------------------------------------------------------------

    def execute(
        self,
        document: DocumentNode,
        *,
        context_value: Any = None,
        variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        root_value: Any = None,
        extensions: dict[str, Any] | None = None,
        meter: Meter | None = None,
    ) -> ExecutionResult | Awaitable[ExecutionResult]:
        """Execute; `meter`, when given, counts the objects built (not on the fallback)."""
        entry = self._entry(document, operation_name)
        operation = entry.operation
        if operation is None:
            return NotExecuted(None, entry.errors)
        variables = self._variables(operation, variable_values)
        if isinstance(variables, list):
            return NotExecuted(None, variables)
        return self._execute(
            entry, variables, context_value, variable_values, root_value, extensions, meter
        )

    def _execute(
        self,
        entry: _Entry,
        variables: VariableValues,
        context_value: Any,
        variable_values: dict[str, Any] | None,
        root_value: Any,
        extensions: dict[str, Any] | None,
        meter: Meter | None = None,
    ) -> ExecutionResult | Awaitable[ExecutionResult]:
        """Run an operation whose variables are coerced (`variable_values`: as received)."""
        operation = entry.operation
        document = entry.document
        assert operation is not None
        operation_name = operation.name.value if operation.name else None
        plan = self._plan(entry, variables) if entry.supported else None
        if plan is None:
            return self._fallback(document, context_value, variable_values, operation_name,
                                  root_value)  # fmt: skip
        execution = Execution(
            self.schema,
            operation,
            entry.fragments,
            variables,
            context_value,
            root_value,
            self.make_info,
            extensions,
            meter,
        )
        if operation.operation is OperationType.MUTATION:
            return self._serially(plan, execution)
        try:
            execution.data = _run(plan, root_value, execution)
        except GraphQLError as error:
            execution.add_error(error, None)
            execution.abandon()
            return ExecutionResult(None, execution.errors)
        if execution.pending:
            return self._settled(execution)
        return ExecutionResult(execution.data, execution.errors or None)

    def _variables(
        self, operation: OperationDefinitionNode, raw: dict[str, Any] | None
    ) -> VariableValues | list[GraphQLError]:
        if not operation.variable_definitions:
            return _NO_VARIABLES
        return get_variable_values(
            self.schema, operation.variable_definitions, raw or {}, max_errors=50
        )

    async def _settled(self, execution: Execution) -> ExecutionResult:
        await execution.settle()
        return ExecutionResult(execution.data, execution.errors or None)

    async def _serially(self, plan: ObjectPlan, execution: Execution) -> ExecutionResult:
        """Mutations: each root field, with everything under it, before the next one."""
        out: dict[str, Any] = {}
        execution.data = out
        execution.meter.objects += 1  # the root, as a query's root runner counts it
        root_value = execution.root_value
        try:
            for root_field in plan.fields:
                try:
                    out[root_field.key] = run_field(root_field, root_value, None, out, execution)
                except Exception as raw:
                    field_error(raw, root_field, None, out, execution)
                await execution.settle()
                if execution.data is None:
                    break
        except GraphQLError as error:
            execution.add_error(error, None)
            execution.abandon()
            return ExecutionResult(None, execution.errors)
        return ExecutionResult(execution.data, execution.errors or None)

    def _fallback(
        self,
        document: DocumentNode,
        context_value: Any,
        variable_values: dict[str, Any] | None,
        operation_name: str | None,
        root_value: Any,
    ) -> ExecutionResult | Awaitable[ExecutionResult]:
        return execute(
            self.schema,
            document,
            root_value=root_value,
            context_value=context_value,
            variable_values=variable_values,
            operation_name=operation_name,
            **self.fallback_kwargs,
        )

    # --- subscriptions -------------------------------------------------------------------

    async def subscribe(
        self,
        document: DocumentNode,
        *,
        context_value: Any = None,
        variable_values: dict[str, Any] | None = None,
        operation_name: str | None = None,
        root_value: Any = None,
    ) -> AsyncGenerator[ExecutionResult, None] | ExecutionResult:
        """The response stream of a subscription, or the errors that stop it from starting.

        graphql-core creates the source event stream (it runs the field's `subscribe`
        resolver once); every event is then executed by this engine with the event as
        root value, as the spec's MapSourceToResponseEvent says.
        """
        executor_class = self.fallback_kwargs.get("executor_class", Executor)
        executor = executor_class.build(
            self.schema,
            document,
            root_value,
            context_value,
            variable_values,
            operation_name,
            is_awaitable=self.fallback_kwargs.get("is_awaitable"),
        )
        if isinstance(executor, list):
            return ExecutionResult(None, executor)
        stream = create_source_event_stream(executor)
        if isawaitable(stream):
            stream = await stream
        if isinstance(stream, ExecutionResult):
            return stream
        # The operation and its variables were found and coerced once, for every event.
        entry = self._entry(document, operation_name)
        return self._responses(stream, entry, executor.variable_values, context_value,
                               variable_values)  # fmt: skip

    async def _responses(
        self,
        stream: AsyncIterable[Any],
        entry: _Entry,
        variables: VariableValues,
        context_value: Any,
        variable_values: dict[str, Any] | None,
    ) -> AsyncGenerator[ExecutionResult, None]:
        on_event = self.on_event
        operation = entry.operation
        name = operation.name.value if operation is not None and operation.name else None
        try:
            async for event in stream:
                # Only the execution: not the wait for the event, nor the send.
                with on_event(name) if on_event is not None else nullcontext():
                    result = self._execute(
                        entry, variables, context_value, variable_values, event, None
                    )
                    if isawaitable(result):
                        result = await result
                yield result
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()


def _run(plan: ObjectPlan, root_value: Any, execution: Execution) -> dict[str, Any]:
    run = plan.run
    assert run is not None
    return run(root_value, None, execution)
