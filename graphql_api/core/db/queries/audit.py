"""Audit log reads (R9); rows are written by graphql_api.core.audit.record in each action's own
transaction. Newest first on (created_at, id), the keyset of ix_audit_logs_created_at_id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import BigInteger, Select, String, any_, bindparam, func, select

from graphql_api.core.db.engine import Database
from graphql_api.core.db.models import AuditLog
from graphql_api.core.db.rows import Query, Row, array_param, ids_param, prepare
from graphql_api.core.pagination import (
    Page,
    Seek,
    SortSpec,
    build_page,
    keyset,
    parse_datetime,
    seek,
)

AUDIT_SORT = SortSpec("al", AuditLog.created_at, AuditLog.id, True, parse_datetime)


class AuditLogRow(Row):
    """An audit entry as reads return it."""

    __slots__ = ()
    id: int
    actor_user_id: int | None
    actor_api_key_id: int | None
    action: str
    target_type: str | None
    target_id: str | None
    success: bool
    ip: str | None
    request_id: str | None
    details: dict[str, Any]
    created_at: datetime


# What the GraphQL `AuditLog` type resolves from (the ORM instance only in tests and writes).
AUDIT_LOG_CLASSES = (AuditLog, AuditLogRow)
AnyAuditLog = AuditLog | AuditLogRow

AUDIT_LOG_COLUMNS = tuple(getattr(AuditLog, name) for name in AuditLogRow.__annotations__)


@dataclass(frozen=True, slots=True)
class AuditLogFilters:
    """What an audit log listing may be narrowed by; None means no restriction."""

    actor_user_id: int | None = None
    actions: Sequence[str] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _filtered(stmt: Select[Any], filters: AuditLogFilters) -> Select[Any]:
    # Values are named parameters (see _params): one compiled statement per set of criteria.
    created = AuditLog.created_at.type
    if filters.actor_user_id is not None:
        actor = bindparam("actor_user_id", filters.actor_user_id, BigInteger())
        stmt = stmt.where(AuditLog.actor_user_id == actor)
    if filters.actions is not None:
        stmt = stmt.where(AuditLog.action == any_(array_param("actions", String())))
    if filters.created_from is not None:
        stmt = stmt.where(AuditLog.created_at >= bindparam("created_from", type_=created))
    if filters.created_to is not None:
        stmt = stmt.where(AuditLog.created_at <= bindparam("created_to", type_=created))
    return stmt


def _params(filters: AuditLogFilters) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if filters.actor_user_id is not None:
        params["actor_user_id"] = filters.actor_user_id
    if filters.actions is not None:
        params["actions"] = list(filters.actions)
    if filters.created_from is not None:
        params["created_from"] = filters.created_from
    if filters.created_to is not None:
        params["created_to"] = filters.created_to
    return params


_PLACEHOLDER_TIME = datetime(2000, 1, 1)


def _shape(filters: AuditLogFilters) -> AuditLogFilters:
    """A hashable stand-in with the structure of `filters` (values are parameters)."""
    return AuditLogFilters(
        actor_user_id=None if filters.actor_user_id is None else 0,
        actions=None if filters.actions is None else (),
        created_from=None if filters.created_from is None else _PLACEHOLDER_TIME,
        created_to=None if filters.created_to is None else _PLACEHOLDER_TIME,
    )


@lru_cache(maxsize=64)
def _list_query(shape: AuditLogFilters, where: Seek) -> Query[AuditLogRow]:
    stmt = _filtered(select(*AUDIT_LOG_COLUMNS), shape)
    return prepare(keyset(stmt, AUDIT_SORT, where), AuditLogRow)


_CREATED_ID = attrgetter("created_at", "id")


async def list_audit_logs(
    db: Database, *, filters: AuditLogFilters, first: int, after: str | None
) -> Page[AuditLogRow]:
    where, params = seek(AUDIT_SORT, first=first, after=after)
    rows = await db.fetch(_list_query(_shape(filters), where), **params, **_params(filters))
    return build_page(rows, AUDIT_SORT, first=first, after=after, key=_CREATED_ID)


@lru_cache(maxsize=16)
def _count_query(shape: AuditLogFilters) -> Query[Row]:
    return prepare(_filtered(select(func.count().label("count")).select_from(AuditLog), shape), Row)


async def count_audit_logs(db: Database, *, filters: AuditLogFilters) -> int:
    row = await db.fetch_one(_count_query(_shape(filters)), **_params(filters))
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0])


_BY_IDS = prepare(
    select(*AUDIT_LOG_COLUMNS).where(AuditLog.id == any_(ids_param("ids"))), AuditLogRow
)


async def audit_logs_by_ids(db: Database, *, ids: Sequence[int]) -> list[AuditLogRow]:
    return await db.fetch(_BY_IDS, ids=ids)
