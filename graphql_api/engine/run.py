"""Running a compiled plan: one synchronous pass per wave, awaitables gathered per wave.

The synchronous pass walks the plan and builds the response dicts directly. A resolver
that returns an awaitable (a DataLoader future, a coroutine) leaves a placeholder in its
slot and is queued; when the pass is done, every queued awaitable of that wave is awaited
together (so DataLoaders batch across the whole wave, as they do under graphql-core), and
each result is completed into its slot, which may queue the next wave.

Errors follow graphql-core: a field error is located at the field's path; a nullable
position becomes null and records the error; a non-null one passes the error to its
parent. In the synchronous pass that is an exception unwinding to the nearest nullable
field; after an await it is `Execution.fail`, which walks the static positions upward.
Errors under a position already nulled are dropped (graphql-core's `CollectedErrors`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from functools import partial
from inspect import CO_ITERABLE_COROUTINE
from types import CoroutineType, GeneratorType
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    OperationDefinitionNode,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values
from graphql.pyutils import Path
from graphql.type.definition import GraphQLResolveInfoHelpers

from graphql_api.engine.plan import (
    FieldPlan,
    ObjectPlan,
    Position,
)
from graphql_api.engine.waves import (
    NOTHING,
    Deferred,
    in_completion_order,
    observe,
    queue,
    start,
)

# graphql-core's Path is a NamedTuple, whose generated __new__ is a Python-level lambda;
# building the tuple directly gives the same object at a third of the cost (one per list
# item and composite field).
new_path: Callable[[tuple[Path | None, str | int, str | None]], Path] = partial(tuple.__new__, Path)

_AWAITABLE: dict[type, bool] = {CoroutineType: True, asyncio.Future: True, asyncio.Task: True}


def is_awaitable(value: Any) -> bool:
    cls = value.__class__
    known = _AWAITABLE.get(cls)
    if known is None:
        if cls is GeneratorType:
            return bool(value.gi_code.co_flags & CO_ITERABLE_COROUTINE)
        known = _AWAITABLE[cls] = isinstance(value, Awaitable)
    return known


class Meter:
    """What an execution returned, counted as it is built: objects (for `actualQueryCost`)."""

    __slots__ = ("objects",)

    def __init__(self) -> None:
        self.objects = 0


# Counts for executions nobody asked to meter (never read).
_UNREAD = Meter()


class Execution:
    """The state of one execution of a plan (one request, or one subscription event)."""

    __slots__ = (
        "args",
        "context",
        "converted_args",
        "data",
        "error_positions",
        "errors",
        "extensions",
        "fragments",
        "helpers",
        "infos",
        "make_info",
        "meter",
        "operation",
        "pending",
        "root_value",
        "schema",
        "starting",
        "variables",
    )

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, Any],
        variables: VariableValues,
        context: Any,
        root_value: Any,
        make_info: InfoFactory,
        extensions: dict[str, Any] | None = None,
        meter: Meter | None = None,
    ) -> None:
        self.schema = schema
        self.make_info = make_info
        self.extensions = extensions
        self.meter = meter or _UNREAD
        self.operation = operation
        self.fragments = fragments
        self.variables = variables
        self.context = context
        self.root_value = root_value
        self.errors: list[GraphQLError] = []
        self.error_positions: set[tuple[str | int, ...]] = set()
        self.pending: list[Deferred] = []
        self.starting: list[Deferred] = []
        self.args: dict[FieldPlan, dict[str, Any]] = {}
        self.converted_args: dict[FieldPlan, dict[str, Any]] = {}
        self.infos: dict[FieldPlan, GraphQLResolveInfo[Any]] = {}
        self.data: dict[str, Any] | None = None
        self.helpers = _HELPERS

    # --- resolver inputs -----------------------------------------------------------------

    def info(self, field: FieldPlan, path: Path) -> GraphQLResolveInfo[Any]:
        info: GraphQLResolveInfo[Any] = self.make_info(field, path, self)
        return info

    def shared_info(self, field: FieldPlan, path: Path) -> GraphQLResolveInfo[Any]:
        """One info per field and request, for resolvers that read only the context."""
        info = self.infos.get(field)
        if info is None:
            info = self.infos[field] = self.info(field, path)
        return info

    def arguments(self, field: FieldPlan) -> dict[str, Any]:
        if field.args is not None:
            return field.args
        args = self.args.get(field)
        if args is None:
            assert field.definition is not None
            args = self.args[field] = get_argument_values(
                field.definition, field.nodes[0], self.variables
            )
        return args

    def converted(self, field: FieldPlan) -> dict[str, Any]:
        """A direct resolver's arguments, converted once per request (see core.resolver_marks),
        or once per plan when they are constants of the document and immutable."""
        static = field.static_converted
        if static is not None:
            return static
        converted = self.converted_args.get(field)
        if converted is None:
            convert = field.convert
            assert convert is not None
            converted = self.converted_args[field] = convert(self.arguments(field))
            if field.args is not None and all(map(_immutable, converted.values())):
                field.static_converted = converted
        return converted

    # --- errors --------------------------------------------------------------------------

    def add_error(self, error: GraphQLError, path: Path | None) -> None:
        """Record an error nulling `path`, unless an error already nulled it or a parent."""
        if self.nulled(path):
            return
        self.error_positions.add(tuple(path.as_list()) if path is not None else ())
        self.errors.append(error)

    def nulled(self, path: Path | None) -> bool:
        positions = self.error_positions
        if not positions:
            return False
        keys = tuple(path.as_list()) if path is not None else ()
        return any(keys[:end] in positions for end in range(len(keys) + 1))

    def fail(self, raw: Exception, position: Position, path: Path) -> None:
        """An error after an await: null the nearest nullable position at or above it."""
        error = located_error(raw, position.nodes, path.as_list())
        where: Position | None = position
        at: Path | None = path
        while where is not None and not where.nullable:
            where = where.parent
            at = at.prev if at is not None else None
        if where is None or at is None:
            # Reached the root: the whole `data` becomes null.
            self.data = None
            self.add_error(error, None)
            return
        if self.nulled(at):
            return
        container: Any = self.data
        keys = at.as_list()
        for key in keys[:-1]:
            container = container[key]
            if container is None:
                return
        container[keys[-1]] = None
        self.add_error(error, at)

    # --- waves ---------------------------------------------------------------------------

    async def settle(self) -> None:
        """Run the queued waves until nothing is pending (see the module docstring)."""
        while self.pending:
            wave, self.pending = self.pending, []
            if self.starting:
                starting, self.starting = self.starting, []
                start(starting)
            # The whole wave first, then its completions in one go: the loads those make
            # (the next wave) all happen in the same loop turn, so each loader batches them.
            # Completed in the order they finished, as graphql-core records errors (and,
            # once a null reaches a parent, ignores what its siblings raise afterwards).
            try:
                finished, windows = await in_completion_order(wave)
            except asyncio.CancelledError:
                # The request's deadline passed (or its client went away): stop the
                # resolvers still running rather than let them finish for nobody.
                self.cancel(wave)
                raise
            held: list[tuple[int, Exception, Deferred]] = []
            for index, entry in enumerate(finished):
                self._release(held, index)
                if self.data is None:
                    # `data` is null: nothing left can show. Let the rest finish unobserved.
                    self.abandon(wave)
                    return
                failure = self._resume(entry)
                if failure is not None:
                    # graphql-core records this failure only once it reached the nullable
                    # parent; what finished before then is recorded first.
                    held.append((windows.get(index, index + 1), failure, entry))
            self._release(held, len(finished))
            if self.data is None:
                self.abandon(wave)
                return

    def _release(self, held: list[tuple[int, Exception, Deferred]], index: int) -> None:
        """Record the held failures whose propagation window closed before entry `index`."""
        while held and held[0][0] <= index:
            _, raw, failed = held.pop(0)
            self.fail(raw, failed.position, failed.path)

    def cancel(self, wave: list[Deferred]) -> None:
        for entry in (*wave, *self.pending):
            if isinstance(entry.awaiting, asyncio.Task):
                entry.awaiting.cancel()
            entry.awaiting.add_done_callback(observe)
        self.pending = []

    def abandon(self, wave: list[Deferred] = NOTHING) -> None:
        """`data` is null: let what is still queued finish unobserved."""
        if self.starting:
            start(self.starting)
            self.starting = []
        for left in (*wave, *self.pending):
            left.awaiting.add_done_callback(observe)
        self.pending = []

    def _resume(self, entry: Deferred) -> Exception | None:
        """Complete an entry; return the failure of a non-null awaited value to record later."""
        try:
            value = entry.awaiting.result()
        except Exception as raw:
            if not entry.position.nullable:
                return raw
            self.fail(raw, entry.position, entry.path)
            return None
        if self.error_positions and self.nulled(entry.path):
            return None
        try:
            completed = entry.complete(value, entry.path, self)
        except Exception as raw:
            self.fail(raw, entry.position, entry.path)
            return None
        entry.container[entry.key] = completed
        return None


_IMMUTABLE = (type(None), bool, int, float, str, bytes, Enum, Decimal, datetime, date, time)


def _immutable(value: Any) -> bool:
    """Whether a converted argument may be shared by every request of a plan: resolvers
    could change a list or an input object they were given, never these."""
    if isinstance(value, tuple):
        return all(map(_immutable, value))
    return isinstance(value, _IMMUTABLE)


async def _gather(values: Any) -> list[Any]:
    return list(await asyncio.gather(*values))


def _track(values: Any) -> None:
    return None


_HELPERS = GraphQLResolveInfoHelpers(gather=_gather, track=_track)

# make_info(field, path, execution) -> the info object resolvers receive
InfoFactory = Callable[[FieldPlan, Path, "Execution"], Any]


def default_info(field: FieldPlan, path: Path, execution: Execution) -> GraphQLResolveInfo[Any]:
    """graphql-core's own GraphQLResolveInfo[Any]."""
    return GraphQLResolveInfo(
        field.name,
        field.nodes,
        field.return_type,
        field.parent_type,
        path,
        execution.schema,
        execution.fragments,
        execution.root_value,
        execution.operation,
        execution.variables,
        execution.context,
        is_awaitable,  # type: ignore[arg-type]  # a plain bool predicate, as graphql-core's
        None,
        execution.helpers,
    )


# --- runners ----------------------------------------------------------------------------


def field_error(
    raw: Exception, field: FieldPlan, path: Path | None, out: dict[str, Any], execution: Execution
) -> None:
    """A synchronous error in `field`: null it if it may be null, else pass it up."""
    field_path = new_path((path, field.key, field.typename))
    error = located_error(raw, field.nodes, field_path.as_list())
    if not field.nullable:
        raise error
    out[field.key] = None
    execution.add_error(error, field_path)


def run_field(field: FieldPlan, source: Any, path: Path | None, out: dict[str, Any],
              execution: Execution) -> Any:  # fmt: skip
    """Resolve and complete one field (the general, careful way)."""
    field_path = new_path((path, field.key, field.typename))
    getter = field.getter
    if getter is not None:
        return field.complete(getter(source), field_path, execution)
    direct = field.direct
    if direct is not None:
        kwargs = execution.converted(field) if field.convert is not None else _NO_ARGUMENTS
        if field.direct_info:
            value = direct(source, execution.shared_info(field, field_path), **kwargs)
        else:
            value = direct(source, **kwargs)
    else:
        resolve = field.resolve
        assert resolve is not None
        value = resolve(source, execution.info(field, field_path), **execution.arguments(field))
    if is_awaitable(value):
        queue(value, field.complete, out, field.key, field_path, field, execution)
        return None
    return field.complete(value, field_path, execution)


_NO_ARGUMENTS: dict[str, Any] = {}


def build_object_runner(plan: ObjectPlan) -> None:
    """plan.run(source, path, execution) -> the response dict of one object.

    The runner is generated code: every leaf read straight from an attribute (or from a
    synchronous context-only resolver) is one inline statement with its wire-type check, so
    the common row costs a few bytecodes per field. Any exception in that part falls back
    to `careful`, which resolves field by field with graphql-core's error handling; the
    fast part has no side effects, so running it again is safe. Fields with resolvers,
    arguments or sub-selections always take `run_field`, in response order.
    """
    fields = plan.fields

    def careful(source: Any, path: Path | None, execution: Execution) -> dict[str, Any]:
        execution.meter.objects += 1
        out: dict[str, Any] = {}
        for field in fields:
            try:
                out[field.key] = run_field(field, source, path, out, execution)
            except Exception as raw:
                field_error(raw, field, path, out, execution)
        return out

    namespace: dict[str, Any] = {
        "careful": careful,
        "run_field": run_field,
        "field_error": field_error,
        "Path": Path,
        "new_path": new_path,
        "MIN_INT": -(2**31),
        "MAX_INT": 2**31 - 1,
    }
    fast: list[str] = []
    slow: list[str] = []
    items: list[str] = []
    for index, field in enumerate(fields):
        namespace[f"F{index}"] = field
        value = f"v{index}"
        inline = _inline_leaf(field, index, value, namespace)
        if inline is None:
            items.append(f"{field.key!r}: None")
            if field.attribute is not None and field.attribute.isidentifier() and not field.leaf:
                # A composite read from an attribute (edges, node, pageInfo ...): completed
                # here, without run_field's dispatch.
                namespace[f"C{index}"] = field.complete
                call = (
                    f"C{index}(source.{field.attribute}, "
                    f"new_path((path, {field.key!r}, {field.typename!r})), execution)"
                )
            else:
                call = f"run_field(F{index}, source, path, out, execution)"
            slow.append(
                f"    try:\n"
                f"        out[{field.key!r}] = {call}\n"
                f"    except Exception as raw:\n"
                f"        field_error(raw, F{index}, path, out, execution)"
            )
        else:
            items.append(f"{field.key!r}: {value}")
            fast.extend(inline)
    lines = ["def run(source, path, execution):"]
    if any(field.direct_info for field in fields):
        lines.append("    infos = execution.infos")
    if fast:
        lines.append("    try:")
        lines.extend("        " + line for line in fast)
        lines.append("    except Exception:")
        lines.append("        return careful(source, path, execution)")
    lines.append("    out = {" + ", ".join(items) + "}")
    lines.append("    execution.meter.objects += 1")
    lines.extend(slow)
    lines.append("    return out")
    exec("\n".join(lines), namespace)  # noqa: S102 (code built from the plan, no input)
    plan.run = namespace["run"]


_WIRE_CLASS = {"String": "str", "ID": "str", "Boolean": "bool", "Float": "float"}


def _inline_leaf(
    field: FieldPlan, index: int, value: str, namespace: dict[str, Any]
) -> list[str] | None:
    """Statements computing a leaf field into `value`, or None if it needs `run_field`."""
    if not field.leaf or field.definition is None:
        if field.definition is None:  # __typename: a constant
            namespace[f"T{index}"] = field.typename
            return [f"{value} = T{index}"]
        return None
    if field.attribute is not None and field.attribute.isidentifier():
        read = f"{value} = source.{field.attribute}"
    elif field.direct is not None and not field.direct_async:
        namespace[f"R{index}"] = field.direct
        if field.direct_info:
            read = (
                f"{value} = R{index}(source, infos.get(F{index}) or "
                f"execution.shared_info(F{index}, Path(path, {field.key!r}, {field.typename!r})))"
            )
        else:
            read = f"{value} = R{index}(source)"
    else:
        return None
    serialize = field.serialize
    assert serialize is not None
    namespace[f"S{index}"] = serialize
    null = f"{value} is None"
    if field.nullable:
        convert = f"{value} = None if {null} else S{index}({value})"
    else:
        # A null here is an error; `careful` reports it with graphql-core's message.
        convert = f"{value} = S{index}({value}) if {value} is not None else _null()"
        namespace["_null"] = _null
    named = getattr(field.return_type, "of_type", field.return_type)
    wire = _WIRE_CLASS.get(getattr(named, "name", ""))
    if wire is not None and named.__class__.__name__ == "GraphQLScalarType":
        return [read, f"if {value}.__class__ is not {wire}:", "    " + convert]
    if getattr(named, "name", "") == "Int" and named.__class__.__name__ == "GraphQLScalarType":
        return [
            read,
            f"if {value}.__class__ is not int or not MIN_INT <= {value} <= MAX_INT:",
            "    " + convert,
        ]
    return [read, convert]


def _null() -> Any:
    raise TypeError("null in a non-null field")
