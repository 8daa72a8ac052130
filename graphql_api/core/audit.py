"""The audit log (R9): one row per audited action, written in the action's own transaction.

Writing through the caller's session means the row commits or rolls back with the change it
records: there is never an audit row for a change that did not happen, nor the reverse.
Details must never hold secrets (tokens, passwords, key material).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.actor import Actor
from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.models import AuditLog


async def record(
    session: AsyncSession,
    *,
    action: str,
    actor: Principal | None,
    success: bool = True,
    target_type: str | None = None,
    target_id: int | str | None = None,
    details: dict[str, Any] | None = None,
    request_id: str | None = None,
    ip: str | None = None,
    actor_user_id: int | None = None,
) -> None:
    """Add an audit row to the session's transaction (committed with it).

    `actor_user_id` overrides the principal's user, for actions whose actor is known only
    from the action itself (a login by an anonymous caller).
    """
    await session.execute(
        insert(AuditLog).values(
            action=action,
            actor_user_id=actor_user_id if actor_user_id is not None
            else (actor.user_id if actor else None),
            actor_api_key_id=actor.api_key_id if actor else None,
            success=success,
            target_type=target_type,
            target_id=None if target_id is None else str(target_id),
            details=details or {},
            request_id=request_id,
            ip=ip,
        )
    )  # fmt: skip


async def record_request(
    session: AsyncSession, actor: Actor, *, action: str, **fields: Any
) -> None:
    """`record` for an action taken by an actor: its principal, request id and client IP."""
    await record(
        session,
        action=action,
        actor=actor.principal,
        request_id=actor.request_id,
        ip=actor.ip,
        **fields,
    )
