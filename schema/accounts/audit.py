"""Reading the audit log (R9): admins only; everyone else gets FORBIDDEN and no rows (R7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from graphql_api.core.db.enums import Role
from graphql_api.core.db.queries.accounts import AnyUser
from graphql_api.core.db.queries.api_keys import AnyApiKey
from graphql_api.core.db.queries.audit import (
    AUDIT_LOG_CLASSES,
    AnyAuditLog,
    AuditLogFilters,
    AuditLogRow,
    count_audit_logs,
    list_audit_logs,
)
from graphql_api.core.errors import BadUserInput
from graphql_api.core.ids import decode_id_of, encode_id
from schema.accounts.api_keys import ApiKeyType
from schema.accounts.types import UserType
from schema.cache import Scope, cache_hint
from schema.node import is_registered, register
from schema.permissions import IsAdmin
from schema.types import Connection, FirstArg, Info, Node, node_type, paginate

MAX_ACTIONS = 50
MAX_ACTION_LENGTH = 64


def _visible(info: Info, row: AnyAuditLog) -> bool:
    return info.context.principal.has_role(Role.ADMIN)


register("AuditLog", lambda info, pk: info.context.loaders.audit_log_by_id.load(pk), _visible)


@strawberry.input(description="Narrows the audit log; every given criterion must hold.")
class AuditLogFilter:
    actor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only actions by this user (a User ID)."
    )
    action: list[str] | None = strawberry.field(
        default=None,
        description="Only these actions, e.g. `api_key.created`, `user.login` (exact match). "
        f"An empty list matches nothing. At most {MAX_ACTIONS}.",
    )
    created_from: datetime | None = strawberry.field(
        default=None, name="from", description="Only entries recorded at or after this time."
    )
    created_to: datetime | None = strawberry.field(
        default=None, name="to", description="Only entries recorded at or before this time."
    )


@cache_hint(Scope.USER)
@node_type(
    "AuditLog",
    AUDIT_LOG_CLASSES,
    description="One audited action (R9): who did what to which object, when, and whether "
    "it succeeded. Admins only.",
)
class AuditLogType(Node):
    action: str = strawberry.field(
        description="What happened, as `<object>.<verb>`, e.g. `api_key.rotated`."
    )
    target_type: str | None = strawberry.field(
        description="Type of the object acted on (e.g. `ApiKey`, `User`); null if none."
    )
    success: bool = strawberry.field(
        description="False for recorded failures (e.g. a login with a wrong password)."
    )
    details: JSON = strawberry.field(
        description="Action-specific facts (never secrets: no passwords, tokens or keys)."
    )
    ip: str | None = strawberry.field(description="Client address of the request, if known.")
    request_id: str | None = strawberry.field(
        description="ID of the request that did it, to correlate with logs and traces."
    )
    created_at: datetime = strawberry.field(description="When it was recorded.")

    @strawberry.field(
        description="The object acted on: its global ID (for `node(id:)`) when `targetType` "
        "names an object of this API, else the identifier as recorded; null if none."
    )
    @staticmethod
    def target_id(root: strawberry.Parent[AnyAuditLog]) -> strawberry.ID | None:
        if root.target_id is None:
            return None
        if root.target_type and is_registered(root.target_type) and root.target_id.isdigit():
            return strawberry.ID(encode_id(root.target_type, int(root.target_id)))
        return strawberry.ID(root.target_id)

    @strawberry.field(
        description="The user who acted; null for services, anonymous callers (a failed "
        "login by an unknown e-mail) and deleted accounts.",
        graphql_type=UserType | None,
    )
    @staticmethod
    async def actor(root: strawberry.Parent[AnyAuditLog], info: Info) -> AnyUser | None:
        if root.actor_user_id is None:
            return None
        return await info.context.loaders.user_by_id.load(root.actor_user_id)

    @strawberry.field(
        description="The API key a service acted with; null for users.",
        graphql_type=ApiKeyType | None,
    )
    @staticmethod
    async def actor_api_key(root: strawberry.Parent[AnyAuditLog], info: Info) -> AnyApiKey | None:
        if root.actor_api_key_id is None:
            return None
        return await info.context.loaders.api_key_by_id.load(root.actor_api_key_id)


AuditLogConnection = Connection[AuditLogType]


def _filters(value: AuditLogFilter | None) -> AuditLogFilters:
    if value is None:
        return AuditLogFilters()
    actor_user_id = None
    if value.actor_id is not None:
        actor_user_id = decode_id_of(value.actor_id, "User", field="filter.actorId")
    actions = None
    if value.action is not None:
        if len(value.action) > MAX_ACTIONS:
            raise BadUserInput(f"At most {MAX_ACTIONS} actions.", field="filter.action")
        if any(not action or len(action) > MAX_ACTION_LENGTH for action in value.action):
            raise BadUserInput(
                f"Actions must be 1 to {MAX_ACTION_LENGTH} characters long.",
                field="filter.action",
            )
        actions = list(dict.fromkeys(value.action))
    if value.created_from and value.created_to and value.created_from > value.created_to:
        raise BadUserInput("`from` must not be after `to`.", field="filter.from")
    return AuditLogFilters(
        actor_user_id=actor_user_id,
        actions=actions,
        created_from=value.created_from,
        created_to=value.created_to,
    )


@strawberry.type
class AuditQueries:
    @strawberry.field(
        description="The audit log, newest first. Admins only (FORBIDDEN otherwise).",
        permission_classes=[IsAdmin],
        graphql_type=AuditLogConnection,
    )
    @cache_hint(Scope.USER)
    async def audit_logs(
        self,
        info: Info,
        first: FirstArg = None,
        after: Annotated[
            str | None,
            strawberry.argument(description="Cursor of the entry after which the page starts."),
        ] = None,
        filter: Annotated[
            AuditLogFilter | None,
            strawberry.argument(description="Criteria every returned entry meets."),
        ] = None,
    ) -> Connection[AuditLogRow]:
        db = info.context.db
        filters = _filters(filter)
        return await paginate(
            first,
            lambda size: list_audit_logs(db, filters=filters, first=size, after=after),
            lambda: count_audit_logs(db, filters=filters),
        )
