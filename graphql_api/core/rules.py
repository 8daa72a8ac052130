"""When a support-programme call is open, and whom it targets: the one home of these rules.

A published call opens at `opens_at` (at once when unset) and closes at `closes_at` (never
when unset) or when an editor closes it. Every check takes the request's clock (`now`, one
reading per request; `Actor.now`, `Context.now`): the SQL twins bind it as a parameter, never
PostgreSQL's `now()`, so a list filter and the row it returns agree with each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, String, and_, case, cast, literal, or_

from graphql_api.core.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.core.db.models import Announcement


class CallWindow(Protocol):
    @property
    def status(self) -> AnnouncementStatus: ...
    @property
    def opens_at(self) -> datetime | None: ...
    @property
    def closes_at(self) -> datetime | None: ...


def has_closed(call: CallWindow, now: datetime) -> bool:
    """Past its closing time (an editor's CLOSED status is separate)."""
    return call.closes_at is not None and call.closes_at <= now


def has_opened(call: CallWindow, now: datetime) -> bool:
    return call.opens_at is None or call.opens_at <= now


def effective_status(call: CallWindow, now: datetime) -> AnnouncementStatus:
    """A published call past its closing time reads as CLOSED, with no job racing reads."""
    if call.status is AnnouncementStatus.PUBLISHED and has_closed(call, now):
        return AnnouncementStatus.CLOSED
    return call.status


def is_open(call: CallWindow, now: datetime) -> bool:
    """Published, already open and not yet closed: it accepts applications."""
    return (
        call.status is AnnouncementStatus.PUBLISHED
        and has_opened(call, now)
        and not has_closed(call, now)
    )


class TargetedCall(Protocol):
    @property
    def target_industries(self) -> Sequence[str]: ...
    @property
    def target_sizes(self) -> Sequence[str]: ...
    @property
    def regions(self) -> Sequence[str]: ...


class Applicant(Protocol):
    @property
    def industry(self) -> str: ...
    @property
    def size(self) -> BusinessSize: ...
    @property
    def region(self) -> str: ...


def unmet_targets(business: Applicant, call: TargetedCall) -> list[str]:
    """The call's criteria the business fails, in this order; an empty target list admits
    anyone. (Matching lists in SQL: `_open_to` in core/db/queries/businesses.py.)"""
    unmet: list[str] = []
    if call.target_industries and business.industry not in call.target_industries:
        unmet.append("industry")
    if call.target_sizes and business.size.value not in call.target_sizes:
        unmet.append("size")
    if call.regions and business.region not in call.regions:
        unmet.append("region")
    return unmet


# --- The SQL twins (`now` is a bound parameter or column holding the request's clock) ---


def has_closed_sql(now: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(Announcement.closes_at.is_not(None), Announcement.closes_at <= now)


def has_opened_sql(now: ColumnElement[Any]) -> ColumnElement[bool]:
    return or_(Announcement.opens_at.is_(None), Announcement.opens_at <= now)


def effective_status_sql(now: ColumnElement[Any]) -> ColumnElement[str]:
    published = Announcement.status == AnnouncementStatus.PUBLISHED
    return case(
        (and_(published, has_closed_sql(now)), literal(AnnouncementStatus.CLOSED.value, String)),
        else_=cast(Announcement.status, String),
    )


def is_open_sql(now: ColumnElement[Any]) -> ColumnElement[bool]:
    return and_(
        Announcement.status == AnnouncementStatus.PUBLISHED,
        has_opened_sql(now),
        ~has_closed_sql(now),
    )
