"""Who may see draft briefings: admins and services holding briefings:write (DESIGN.md, R7).

Everyone else never learns a draft exists: lists omit it, `briefing(date)` is null and
`node` answers NOT_FOUND, exactly as for a missing row.
"""

from __future__ import annotations

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import BriefingStatus, Role
from graphql_api.core.db.queries.briefings import AnyBriefing
from graphql_api.core.errors import Forbidden, Unauthenticated


def can_see_draft_briefings(principal: Principal) -> bool:
    return principal.has_role(Role.ADMIN) or principal.has_scope("briefings:write")


def can_see_briefing(principal: Principal, briefing: AnyBriefing) -> bool:
    return briefing.status == BriefingStatus.PUBLISHED or can_see_draft_briefings(principal)


def can_write_briefings(principal: Principal) -> bool:
    """`upsertBriefing`: admins, and services holding briefings:write (the pipeline)."""
    return principal.has_role(Role.ADMIN) or principal.has_scope("briefings:write")


def require_briefing_writer(principal: Principal) -> None:
    """UNAUTHENTICATED for anonymous callers, FORBIDDEN for anyone else not allowed."""
    if can_write_briefings(principal):
        return
    if principal.is_anonymous:
        raise Unauthenticated("Sign in (or use an API key) to write briefings.")
    raise Forbidden("Writing briefings needs the ADMIN role or the briefings:write scope.")
