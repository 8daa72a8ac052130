"""Applications: a business applies to a call, an editor or admin decides (R2, R12).

An application goes to a PUBLISHED call that is open now and whose targets admit the
business, once per business and call (the unique pair decides, so concurrent attempts make
one row). Only a SUBMITTED application can be decided, once (the row is locked FOR UPDATE).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit
from graphql_api.core.actor import Actor
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import AnnouncementStatus, ApplicationStatus
from graphql_api.core.db.models import Application
from graphql_api.core.db.writes import applications as writes
from graphql_api.core.db.writes.announcements import lock_announcement
from graphql_api.core.db.writes.businesses import lock_business
from graphql_api.core.errors import DomainError, Rejected, UserErrorCode
from graphql_api.core.rules import is_open, unmet_targets
from graphql_api.core.validation import Checks
from graphql_api.services.announcements import announcement_not_found
from graphql_api.services.businesses import business_not_found, can_manage_business
from graphql_api.services.inputs import Invalid, accept

DECISIONS = (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED)


# --- Why a workflow refuses ------------------------------------------------------------


def application_not_found(field: str = "id") -> DomainError:
    return DomainError(UserErrorCode.NOT_FOUND, "No application with this ID.", field)


def not_open(field: str = "announcementId") -> DomainError:
    return DomainError(UserErrorCode.NOT_OPEN, "The call is not open for applications.", field)


def not_eligible(reasons: list[str], field: str = "businessId") -> DomainError:
    """`reasons`: the criteria (industry, size, region) the business does not meet."""
    return DomainError(
        UserErrorCode.NOT_ELIGIBLE,
        f"The business does not meet the call's targets: {', '.join(reasons)}.",
        field,
    )


def already_applied(field: str = "announcementId") -> DomainError:
    return DomainError(
        UserErrorCode.ALREADY_APPLIED, "This business has already applied to this call.", field
    )


def already_decided(current: ApplicationStatus) -> DomainError:
    return DomainError(
        UserErrorCode.INVALID_TRANSITION,
        f"Only a SUBMITTED application can be decided; this one is {current.value}.",
        None,
    )


# --- Rules -------------------------------------------------------------------------------


async def _audit(
    session: AsyncSession, actor: Actor, action: str, row: Application, details: dict[str, object]
) -> None:
    await audit.record_request(
        session, actor, action=action, target_type="Application", target_id=row.id, details=details
    )


# --- Workflows ---------------------------------------------------------------------------


async def apply_to_announcement(
    *, db: Database, actor: Actor, business_id: int | Invalid, announcement_id: int | Invalid
) -> Application:
    """A SUBMITTED application of the business to the call.

    The actor must manage the business (else NOT_FOUND) and see the call (a draft is
    NOT_FOUND unless they may see drafts); then the call must be open now (NOT_OPEN), admit
    the business (NOT_ELIGIBLE), and not have its application yet (ALREADY_APPLIED).
    """
    principal = actor.principal
    check = Checks()
    business_pk = accept(check, business_id)
    call_pk = accept(check, announcement_id)
    if business_pk is None or call_pk is None:
        raise Rejected(*check.errors)
    async with db.write() as session:
        # FOR SHARE: concurrent applications proceed together, while a concurrent close
        # or business change waits (and vice versa), so the checks below stay true.
        business = await lock_business(session, business_id=business_pk, shared=True)
        if business is None or not can_manage_business(principal, business.owner_id):
            check.errors.append(business_not_found("businessId"))
        call = await lock_announcement(session, announcement_id=call_pk, shared=True)
        if call is None or (
            call.status is AnnouncementStatus.DRAFT
            and not principal.can_see_drafts_of_announcements
        ):
            check.errors.append(announcement_not_found("announcementId"))
        if business is None or call is None or not check.ok:
            raise Rejected(*check.errors)
        if not is_open(call, actor.now):
            raise Rejected(not_open())
        if unmet := unmet_targets(business, call):
            raise Rejected(not_eligible(unmet))
        row = await writes.insert_application(
            session, business_id=business.id, announcement_id=call.id, submitted_at=actor.now
        )
        if row is None:
            raise Rejected(already_applied())
        await _audit(
            session,
            actor,
            "application.submitted",
            row,
            {"business_id": business.id, "announcement_id": call.id},
        )
    return row


async def decide_application(
    *, db: Database, actor: Actor, application_id: int | Invalid, decision: ApplicationStatus
) -> Application:
    """The SUBMITTED application APPROVED or REJECTED by the actor (INVALID_TRANSITION once
    decided); the business's success rate reflects it."""
    check = Checks()
    pk = accept(check, application_id)
    decision = ApplicationStatus(decision)
    if decision not in DECISIONS:
        check.fail(UserErrorCode.INVALID_VALUE, "Must be APPROVED or REJECTED.", "status")
    if pk is None or not check.ok:
        raise Rejected(*check.errors)
    async with db.write() as session:
        row = await writes.lock_application(session, application_id=pk)
        if row is None:
            raise Rejected(application_not_found())
        if row.status is not ApplicationStatus.SUBMITTED:
            raise Rejected(already_decided(row.status))
        row = await writes.decide_application(
            session,
            application_id=pk,
            status=decision,
            decided_at=actor.now,
            decided_by_id=actor.principal.user_id,
        )
        await _audit(
            session,
            actor,
            "application.decided",
            row,
            {"status": decision.value, "business_id": row.business_id},
        )
    return row
