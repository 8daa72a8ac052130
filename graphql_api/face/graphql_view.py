"""The /graphql endpoint.

The HTTP transport: reads the request (JSON body or query string), answers transport
problems in GraphQL's JSON shape, builds the typed Context and runs the operation on the
one execution path (`graphql_api.engine.operations`), then encodes with orjson. Strawberry's
view serves the GraphiQL page, non-JSON bodies and the WebSocket protocols; whatever they
execute reaches the same path through `EngineSchema` (graphql_api/face/strawberry_engine.py).
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import ExecutionResult, OperationType
from graphql.validation import ASTValidationRule
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema.base import BaseSchema
from strawberry.types.unset import UNSET, UnsetType

from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.db.engine import statement_counter
from graphql_api.core.errors import (
    INTERNAL_MESSAGE,
    RETRY_AFTER_SECONDS,
    UNAVAILABLE_MESSAGE,
    ErrorCode,
    Unauthenticated,
    classify,
    dependency_unavailable,
    unavailable_extensions,
)
from graphql_api.core.ratelimit import rate_limit_headers
from graphql_api.engine import NotExecuted
from graphql_api.engine.operations import Limits, Prepared, RateLimited, RequestError
from graphql_api.face import graphiql, http_cache
from graphql_api.face.persisted import PersistedQueryError
from graphql_api.face.strawberry_engine import EngineSchema
from graphql_api.face.transport import BodyTooLarge
from graphql_api.face.websocket import TransportWSHandler
from loaders.lazy import create_lazy_loaders
from schema.context import Context

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_JSON = "application/json"
# GraphQL over HTTP's media type: request errors are 4xx without `data` (docs/DECISIONS.md).
_GRAPHQL_RESPONSE = "application/graphql-response+json"


def media_type_for(accept: str | None) -> str:
    """`application/graphql-response+json` when the client accepts it (also when it accepts
    `application/json` too), else the legacy `application/json`."""
    if not accept or _GRAPHQL_RESPONSE not in accept:
        return _JSON
    for part in accept.split(","):
        kind, *params = part.split(";")
        if kind.strip().lower() != _GRAPHQL_RESPONSE:
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    refused = float(value) <= 0
                except ValueError:
                    refused = False
                if refused:
                    return _JSON
        return _GRAPHQL_RESPONSE
    return _JSON


# The request parameters and the JSON type each must have when present.
_PARAMETER_TYPES: tuple[tuple[str, type, str], ...] = (
    ("query", str, "a string"),
    ("variables", dict, "an object"),
    ("operationName", str, "a string"),
    ("extensions", dict, "an object"),
)


def _parameters(payload: dict[str, Any]) -> tuple[object, Any, Any, Any]:
    """query, variables, operationName, extensions, each of its JSON type or absent."""
    for name, kind, described in _PARAMETER_TYPES:
        value = payload.get(name)
        if value is not None and not isinstance(value, kind):
            raise BadRequest(f"`{name}` must be {described}.")
    query = payload.get("query")
    variables = payload.get("variables")
    operation_name = payload.get("operationName")
    extensions = payload.get("extensions")
    return query, variables or None, operation_name or None, extensions


# New request ids: a random prefix per process and a counter, 32 hex digits like a UUID's.
# They correlate logs and audit rows and need not be unguessable; uuid4 costs a system
# call per request (2 % of a cached answer's CPU).
_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count()


def request_id_of(request: Request | WebSocket) -> str:
    """The caller's X-Request-ID when it is well-formed (for log correlation), else a new one."""
    supplied = request.headers.get("x-request-id", "")
    if _REQUEST_ID.match(supplied):
        return supplied
    return f"{_ID_PREFIX}{next(_id_counter):016x}"


def _error_body(message: str, code: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


@dataclass(slots=True)
class ConnectionContext(Context):
    """A WebSocket connection's context: Strawberry stores the `connection_init` payload here."""

    connection_params: dict[str, Any] | None = None


def _unavailable(error: dict[str, Any]) -> bool:
    extensions = error.get("extensions") or {}
    return bool(extensions.get("code") == ErrorCode.SERVICE_UNAVAILABLE.value)


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class GraphQLView(GraphQL[Context, None]):
    # graphql-transport-ws with server pings; the legacy graphql-ws sends `ka` (keep_alive).
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(
        self,
        schema: BaseSchema,
        *,
        validation_rules: Sequence[type[ASTValidationRule]] = (),
        limits: Limits | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(schema, **kwargs)
        assert isinstance(schema, EngineSchema)
        self.operations = schema.attach(validation_rules, limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media = media_type_for(request.headers.get("accept"))
        # Statements this request sends: its log line and metrics (face/observe.py).
        counter = [0]
        token = statement_counter.set(counter)
        try:
            if request.method not in ("GET", "POST"):
                raise BadRequest(f"Method {request.method} is not allowed; use GET or POST.", 405)
            if self._is_lean(request):
                response = await self._lean(request, media)
            else:
                response = await self.run(request)
        except (HTTPException, BadRequest) as exc:
            # Transport-level problems (bad JSON, wrong method) still answer in GraphQL's shape.
            message = exc.reason if isinstance(exc, HTTPException) else exc.message
            status = exc.status_code if isinstance(exc, HTTPException) else exc.status
            response = Response(
                _error_body(message, ErrorCode.BAD_REQUEST.value), status, media_type=media
            )
            if status == 405:
                response.headers["allow"] = "GET, POST"
        except PersistedQueryError as exc:
            response = Response(_error_body(exc.message, exc.code), exc.status, media_type=media)
        except BodyTooLarge:
            raise  # answered 413 by the transport layer around the view
        except Unauthenticated as exc:
            # A credential was presented and is bad: refuse the request rather than run it
            # as anonymous (issue 4).
            response = Response(
                _error_body(exc.message, ErrorCode.UNAUTHENTICATED.value),
                401,
                media_type=media,
                headers={"www-authenticate": 'Bearer error="invalid_token"'},
            )
        except Exception as exc:
            # The view answers every outcome itself (the app hands it /graphql directly).
            if dependency_unavailable(exc):
                # PostgreSQL or Redis failed before the operation ran (authentication,
                # persisted documents): the client may retry (issue 14).
                log.warning(
                    "dependency unavailable serving %s /graphql: %s",
                    request.method,
                    type(exc).__name__,
                )
                response = Response(
                    _error_body(UNAVAILABLE_MESSAGE, ErrorCode.SERVICE_UNAVAILABLE.value),
                    503,
                    media_type=media,
                    headers={"retry-after": str(RETRY_AFTER_SECONDS)},
                )
            else:
                log.exception("unhandled error serving %s /graphql", request.method)
                response = Response(
                    _error_body(INTERNAL_MESSAGE, ErrorCode.INTERNAL_SERVER_ERROR.value),
                    500,
                    media_type=media,
                )
        finally:
            statement_counter.reset(token)
        if request.app.state.settings.expose_sql_count:
            # Opt-in (EXPOSE_SQL_COUNT) for benchmarks: statements this request sent.
            response.headers["x-sql-statements"] = str(counter[0])
        await response(scope, receive, send)

    @staticmethod
    def _is_lean(request: Request) -> bool:
        if request.method == "POST":
            return request.headers.get("content-type", "").startswith(_JSON)
        if request.method == "GET":
            # A browser asking for HTML gets GraphiQL from Strawberry's view.
            params = request.query_params
            wanted = "query" in params or "extensions" in params  # APQ sends a hash alone
            return wanted and "text/html" not in request.headers.get("accept", "")
        return False

    async def _lean(self, request: Request, media: str) -> Response:
        payload = await self._payload(request)
        query, variables, operation_name, extensions = _parameters(payload)
        persisted = getattr(request.app.state, "persisted", None)
        if persisted is not None:
            query = await persisted.resolve(query, extensions)
        try:
            prepared = self.operations.prepare(query, operation_name, variables)
        except RequestError as exc:
            if exc.reason == RequestError.NO_QUERY:
                raise BadRequest(exc.errors[0].message) from None
            return self._not_executed(ExecutionResult(None, exc.errors), media)
        operation = prepared.operation_type
        if operation is OperationType.SUBSCRIPTION:
            raise BadRequest("Subscriptions are served over WebSocket on this path.")
        if operation is OperationType.MUTATION and request.method == "GET":
            raise BadRequest("Mutations are not allowed over GET.", status=405)

        response = Response(media_type=media)
        context = await self.get_context(request, response)
        try:
            result = await self.operations.execute(
                prepared,
                context=context,
                variables=variables,
                extensions=extensions,
            )
        except RateLimited as exc:
            refused = self._respond(
                ExecutionResult(None, exc.errors),
                Response(status_code=429, media_type=media),
                executed=False,
            )
            refused.headers.update(exc.throttle.headers())
            return refused
        if isinstance(result, NotExecuted):
            return self._not_executed(result, media)
        answered = self._respond(result, response)
        # A GET naming a persisted document: its URL identifies the document for HTTP caches.
        if request.method != "GET" or persisted is None:
            return answered
        if persisted.trusted_only or "persistedQuery" in (extensions or {}):
            return self._http_cached(request, prepared, result, answered)
        return answered

    def _http_cached(
        self, request: Request, prepared: Prepared, result: ExecutionResult, response: Response
    ) -> Response:
        """ETag, Cache-Control and 304 for a GET of a persisted document (face/http_cache.py)."""
        failed = bool(result.errors) or result.data is None
        hint = self.operations.cache_hint(prepared)
        cap = request.app.state.settings.response_cache_max_age_seconds
        response.headers["cache-control"] = http_cache.cache_control(hint, cap, failed=failed)
        if failed:
            return response
        tag = http_cache.entity_tag(orjson.dumps(result.data))
        response.headers["etag"] = tag
        if not http_cache.not_modified(request.headers.get("if-none-match"), tag):
            return response
        unchanged = Response(status_code=304)
        for name in ("etag", "cache-control", "ratelimit-limit", "ratelimit-remaining",
                     "ratelimit-reset"):  # fmt: skip
            if name in response.headers:
                unchanged.headers[name] = response.headers[name]
        return unchanged

    async def _payload(self, request: Request) -> dict[str, Any]:
        if request.method == "GET":
            # An empty parameter is an absent one (`?query=...&variables=`).
            params: dict[str, Any] = {k: v for k, v in request.query_params.items() if v != ""}
            for name in ("variables", "extensions"):
                if params.get(name):
                    try:
                        params[name] = orjson.loads(params[name])
                    except orjson.JSONDecodeError:
                        raise BadRequest(f"`{name}` is not valid JSON.") from None
            return params
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            raise BadRequest("Unable to parse request body as JSON.") from None
        if not isinstance(data, dict):
            # Batched (list) requests are not supported; one operation per request.
            raise BadRequest("The request body must be a JSON object.")
        return data

    def _not_executed(self, result: ExecutionResult, media: str) -> Response:
        """A request error (parse, validation, variables, limits): nothing ran. Under the
        GraphQL-over-HTTP media type 400, under the legacy one 200; `data` absent either way
        (the GraphQL spec: an error before execution leaves no `data` entry)."""
        status = 400 if media == _GRAPHQL_RESPONSE else 200
        return self._respond(result, Response(status_code=status, media_type=media), executed=False)

    def _respond(
        self, result: ExecutionResult, response: Response | None = None, *, executed: bool = True
    ) -> Response:
        body: dict[str, Any] = {}
        response = response or Response(media_type=_JSON)
        if result.errors:
            errors = body["errors"] = [classify(error).formatted for error in result.errors]
            if any(_unavailable(error) for error in errors):
                # A dependency failed: retry later; 503 when nothing could be answered.
                response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
                if result.data is None:
                    response.status_code = 503
        if executed:
            body["data"] = result.data
        if result.extensions:
            body["extensions"] = result.extensions
            cost = result.extensions.get("cost")
            if cost is not None:
                response.headers.update(rate_limit_headers(cost["throttleStatus"]))
        response.body = orjson.dumps(body)
        response.headers["content-length"] = str(len(response.body))
        return response

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A browser opening a shared link (`/graphql?query=...`) gets GraphiQL with that
        # query; a program asking for JSON gets the result (issue 15).
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return await graphiql.serve_page(request)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.app.state
        if isinstance(request, WebSocket):
            # Anonymous until `connection_init` authenticates it (`on_ws_connect`); Strawberry
            # runs no operation on a connection before that.
            return ConnectionContext(
                request=request,
                response=response,
                settings=state.settings,
                db=state.db,
                redis=state.redis,
                principal=ANONYMOUS,
                loaders=create_lazy_loaders(state.db),
                request_id=request_id_of(request),
                now=datetime.now(UTC),
                broker=state.broker,
                authenticate=state.authenticate,
                principals=state.principal_cache,
                revoked_sessions=state.revoked_sessions,
            )
        return Context(
            request=request,
            response=response,
            settings=state.settings,
            db=state.db,
            redis=state.redis,
            principal=await state.authenticate(request),
            loaders=create_lazy_loaders(state.db),
            request_id=request_id_of(request),
            now=datetime.now(UTC),
            broker=state.broker,
            authenticate=state.authenticate,
            principals=state.principal_cache,
            revoked_sessions=state.revoked_sessions,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket connection once, from its `connection_init` payload.

        A bad credential refuses the connection (graphql-transport-ws: close 4403;
        graphql-ws: `connection_error`), so it never runs an operation.
        """
        websocket = context.request
        assert isinstance(websocket, WebSocket)
        websocket.state.connection_params = getattr(context, "connection_params", None) or {}
        try:
            principal: Principal = await websocket.app.state.authenticate(websocket)
        except Unauthenticated as exc:
            raise ConnectionRejectionError(
                {"message": exc.message, "extensions": {"code": ErrorCode.UNAUTHENTICATED.value}}
            ) from None
        except Exception as exc:
            if not dependency_unavailable(exc):
                raise
            log.warning("dependency unavailable authenticating a WebSocket connection")
            raise ConnectionRejectionError(
                {"message": UNAVAILABLE_MESSAGE, "extensions": unavailable_extensions()}
            ) from None
        context.principal = principal
        no_payload: UnsetType = UNSET  # a plain `connection_ack`
        return no_payload

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        # Text, not bytes: Strawberry sends bytes as binary WebSocket frames, and the
        # graphql-ws protocols (and browser clients) expect text frames. The lean HTTP path
        # does not come through here.
        return orjson.dumps(data).decode()
