"""The one execution path: every operation, from HTTP, WebSocket or GraphiQL, comes here.

`Operations` owns the parse/validate cache (with the size, token and depth limits) and the
compiled engine. Entry points only translate their transport to `request` / `subscribe`
and their results back; no limit and no error rule exists anywhere else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import Any

from graphql import ExecutionResult, GraphQLError, GraphQLSchema, OperationType
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule

from graphql_api.core.cache_hints import CacheHint
from graphql_api.core.errors import ErrorCode
from graphql_api.core.ratelimit import Throttle
from graphql_api.core.tags import request_generation
from graphql_api.engine import Engine, InfoFactory, Meter
from graphql_api.engine.cache_plan import CachePlanner
from graphql_api.engine.cost import CostModel, returned_objects
from graphql_api.engine.documents import DocumentCache, PreparedDocument
from graphql_api.engine.input_rules import unstorable_variable
from graphql_api.engine.response_cache import Outcome, ResponseCache
from graphql_api.engine.rules import (
    MAX_ALIASES,
    MAX_DIRECTIVES,
    max_aliases_rule,
    max_directives_rule,
)
from graphql_api.engine.run import default_info


class RequestError(Exception):
    """The request cannot run at all: nothing was executed.

    `errors` are what the client gets; `reason` lets transports refuse each case their own
    way (HTTP answers a missing query with 400; WebSocket closes on an unknown operation).
    """

    NO_QUERY = "no_query"
    UNKNOWN_OPERATION = "unknown_operation"
    INVALID = "invalid"
    TOO_COMPLEX = "too_complex"
    RATE_LIMITED = "rate_limited"

    def __init__(self, errors: list[GraphQLError], reason: str = INVALID) -> None:
        super().__init__(errors[0].message)
        self.errors = errors
        self.reason = reason


class RateLimited(RequestError):
    """The caller's budget does not cover this operation's cost (HTTP 429)."""

    def __init__(self, throttle: Throttle) -> None:
        error = GraphQLError(
            f"Rate limited: this operation costs {throttle.cost} points and "
            f"{int(throttle.available)} are available; retry in {throttle.retry_after} s.",
            extensions={
                "code": ErrorCode.RATE_LIMITED.value,
                "cost": cost_report(throttle.cost, None, throttle),
                "retryAfter": throttle.retry_after,
            },
        )
        super().__init__([error], RequestError.RATE_LIMITED)
        self.throttle = throttle


# Charges the caller of `context` an operation's cost before it runs; the face builds it from
# the limiter and the budgets (None: no rate limiting).
Admit = Callable[[Any, int], Awaitable[Throttle]]


def cost_report(requested: int, actual: int | None, throttle: Throttle) -> dict[str, Any]:
    """Shopify's `extensions.cost`: what was charged, what was returned, what is left."""
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": throttle.status(),
    }


def _actual_cost(meter: Meter, data: Any) -> int | None:
    """Objects returned, the root not counted (as in the price): counted by the engine as
    it built them, or by walking the response where graphql-core ran (introspection)."""
    if data is None:
        return None
    objects = meter.objects or returned_objects(data)
    return objects - 1


@dataclass(frozen=True, slots=True)
class Limits:
    """What one operation may ask for; README "Limits" and docs/DECISIONS.md say why."""

    # The most objects an operation may return (engine/cost.py has the formula).
    max_cost: int = 10_000
    # A page's size when `first` is absent: the server's default (core/pagination.py).
    default_page_size: int = 20
    # A list field without a page argument nor a declared size is priced as this many items.
    default_list_size: int = 20
    # "Type.field" -> the most items that list field returns, where it is known.
    list_sizes: Mapping[str, int] = field(default_factory=dict)
    max_aliases: int = MAX_ALIASES
    max_directives: int = MAX_DIRECTIVES
    introspection: bool = True
    # graphql-core's "Did you mean ...?" hints name fields; off in production.
    suggestions: bool = True
    # A query or mutation still running after this is cancelled and answers TIMEOUT.
    timeout_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Prepared:
    document: PreparedDocument
    operation_type: OperationType
    operation_name: str | None
    # The operation's price with this request's variables (engine/cost.py).
    cost: int = 0


def too_complex(cost: int, maximum: int) -> GraphQLError:
    return GraphQLError(
        f"This operation may return {cost} objects; at most {maximum} are allowed. Ask for "
        "smaller pages (`first`) or fewer nested lists.",
        extensions={
            "code": ErrorCode.QUERY_TOO_COMPLEX.value,
            "cost": {"requestedQueryCost": cost, "maximumAvailable": maximum},
        },
    )


def timed_out(seconds: float | None) -> GraphQLError:
    return GraphQLError(
        f"The operation did not finish within {seconds} s and was stopped; try again, or "
        "ask for less.",
        extensions={"code": ErrorCode.TIMEOUT.value},
    )


class Operations:
    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        rules: Sequence[type[ASTValidationRule]] = (),
        make_info: InfoFactory = default_info,
        fallback_kwargs: dict[str, Any] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.schema = schema
        self.limits = limits or Limits()
        self.costs = CostModel(
            schema,
            default_page_size=self.limits.default_page_size,
            default_list_size=self.limits.default_list_size,
            list_sizes=self.limits.list_sizes,
        )
        limit_rules = [
            max_aliases_rule(self.limits.max_aliases),
            max_directives_rule(self.limits.max_directives),
        ]
        if not self.limits.introspection:
            limit_rules.append(NoSchemaIntrospectionCustomRule)
        self.cache_planner = CachePlanner(schema)
        self.documents = DocumentCache(
            schema, (*rules, *limit_rules), suggestions=self.limits.suggestions
        )
        # Set by the app once Redis is up (face/app.py); None: not rate limited.
        self.admit: Admit | None = None
        # Set by the app when RESPONSE_CACHE is on (face/app.py); None: nothing is cached.
        self.response_cache: ResponseCache | None = None
        self.engine = Engine(schema, make_info=make_info, fallback_kwargs=fallback_kwargs)

    def prepare(
        self,
        query: object,
        operation_name: str | None,
        variables: Mapping[str, Any] | None = None,
    ) -> Prepared:
        """Parse and validate (cached), pick the operation and price it with `variables`;
        RequestError if it cannot run (then nothing ran: no SQL, not even authentication)."""
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
        if variables and isinstance(variables, Mapping):
            # Strings PostgreSQL cannot hold, in any variable of any operation (issue 14).
            unstorable = unstorable_variable(variables)
            if unstorable is not None:
                raise RequestError([unstorable])
        cost = prepared.cost_plan(self.costs, operation_name).cost(variables)
        if cost > self.limits.max_cost:
            raise RequestError([too_complex(cost, self.limits.max_cost)], RequestError.TOO_COMPLEX)
        return Prepared(prepared, operation_type, operation_name, cost)

    async def execute(
        self,
        prepared: Prepared,
        *,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any = None,
        extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """A query or mutation; RateLimited before it runs when the caller's budget is short.

        A cached answer is still charged (the budget protects the API, not only the
        database); the cache sits between the charge and the engine."""
        # One read of the shared data generation serves every cache this request uses.
        token = request_generation.set([None])
        try:
            return await self._execute(prepared, context, variables, root_value, extensions)
        finally:
            request_generation.reset(token)

    async def _execute(
        self,
        prepared: Prepared,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        throttle = await self._charge(context, prepared)
        cache = self.response_cache

        def run() -> Awaitable[Outcome]:
            return self._run(
                prepared,
                context=context,
                variables=variables,
                root_value=root_value,
                extensions=extensions,
                # A cached result keeps its actual cost for the hits' `extensions.cost`.
                metered=throttle is not None or cache is not None,
            )

        status: str | None = None
        if cache is None:
            result, actual = await run()
        else:
            served = await cache.serve(
                context=context,
                hint=self.cache_hint(prepared),
                digest=prepared.document.digest,
                operation_name=prepared.document.operation_name(prepared.operation_name),
                variables=variables,
                run=run,
            )
            result, actual = served.result, served.actual_cost
            if cache.rules.report(context):
                status = served.status
        if throttle is not None:
            report = cost_report(prepared.cost, actual, throttle)
            result.extensions = {**(result.extensions or {}), "cost": report}
        if status is not None:
            result.extensions = {**(result.extensions or {}), "cacheStatus": status}
        return result

    def cache_hint(self, prepared: Prepared) -> CacheHint | None:
        """The operation's scope and max age (computed once per document); None for
        mutations and subscriptions, which are never cached."""
        if prepared.operation_type is not OperationType.QUERY:
            return None
        return prepared.document.cache_hint(self.cache_planner, prepared.operation_name)

    async def _run(
        self,
        prepared: Prepared,
        *,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any,
        extensions: dict[str, Any] | None,
        metered: bool,
    ) -> Outcome:
        """Run the engine within the deadline: the result and its actual cost (if metered)."""
        document = prepared.document.document
        assert document is not None
        meter = Meter() if metered else None
        result = self.engine.execute(
            document,
            context_value=context,
            variable_values=variables,
            operation_name=prepared.operation_name,
            root_value=root_value,
            extensions=extensions,
            meter=meter,
        )
        if isawaitable(result):
            try:
                async with asyncio.timeout(self.limits.timeout_seconds):
                    result = await result
            except TimeoutError:
                # The engine cancelled what was still running (a write rolled back).
                result = ExecutionResult(None, [timed_out(self.limits.timeout_seconds)])
        actual = _actual_cost(meter, result.data) if meter is not None else None
        return result, actual

    async def _charge(self, context: Any, prepared: Prepared) -> Throttle | None:
        if self.admit is None:
            return None
        throttle = await self.admit(context, prepared.cost)
        if not throttle.allowed:
            raise RateLimited(throttle)
        return throttle

    async def subscribe(
        self,
        prepared: Prepared,
        *,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any = None,
    ) -> AsyncGenerator[ExecutionResult, None] | ExecutionResult:
        """A subscription: its response stream, or the errors that stopped it from starting.
        Subscribing is charged like a query (RateLimited); its events are not."""
        await self._charge(context, prepared)
        document = prepared.document.document
        assert document is not None
        return await self.engine.subscribe(
            document,
            context_value=context,
            variable_values=variables,
            operation_name=prepared.operation_name,
            root_value=root_value,
        )
