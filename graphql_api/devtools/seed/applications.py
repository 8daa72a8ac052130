"""Applications of businesses to calls that have opened, with decisions where due."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from graphql_api.core.db.enums import AnnouncementStatus, ApplicationStatus
from graphql_api.core.rules import effective_status, has_opened, unmet_targets
from graphql_api.devtools.seed.announcements import AnnouncementRow
from graphql_api.devtools.seed.businesses import BusinessRow
from graphql_api.devtools.seed.common import Ctx, between, pick_weighted

_CLOSED_CALL_OUTCOMES: Final = (
    (ApplicationStatus.APPROVED, 35), (ApplicationStatus.REJECTED, 45),
    (ApplicationStatus.WITHDRAWN, 8), (ApplicationStatus.SUBMITTED, 12),
)  # fmt: skip
_OPEN_CALL_OUTCOMES: Final = (
    (ApplicationStatus.SUBMITTED, 80), (ApplicationStatus.WITHDRAWN, 10),
    (ApplicationStatus.APPROVED, 5), (ApplicationStatus.REJECTED, 5),
)  # fmt: skip
_DECISION_NOTES: Final = (
    "Clear market-entry plan and realistic budget.",
    "Strong technical capability; matching fund confirmed.",
    "Eligibility criteria not met for the requested track.",
    "Budget exceeds the programme cap.",
    "Insufficient evidence of export readiness.",
    "Selected after on-site evaluation.",
)


def _matches(announcement: AnnouncementRow, business: BusinessRow) -> bool:
    return not unmet_targets(business, announcement)


def make_applications(
    ctx: Ctx,
    announcements: list[AnnouncementRow],
    businesses: list[BusinessRow],
    staff: list[int],
) -> list[dict[str, Any]]:
    rng = ctx.rng
    now = ctx.anchor
    # Only published calls that have opened (open now, or since closed) have applicants.
    open_or_closed = [
        i
        for i, a in enumerate(announcements)
        if a.status is not AnnouncementStatus.DRAFT and has_opened(a, now)
    ]
    target = 300 * ctx.scale
    eligible: dict[int, list[int]] = {}
    seen: set[tuple[int, int]] = set()
    rows: list[dict[str, Any]] = []
    attempts = 0
    while len(rows) < target and attempts < target * 20:
        attempts += 1
        a_index = rng.choice(open_or_closed)
        announcement = announcements[a_index]
        # Most applicants are eligible; a few apply anyway and are usually rejected.
        if rng.random() < 0.8:
            if a_index not in eligible:
                eligible[a_index] = [
                    b for b, business in enumerate(businesses) if _matches(announcement, business)
                ]
            candidates = eligible[a_index]
        else:
            candidates = []
        b_index = rng.choice(candidates) if candidates else rng.randrange(len(businesses))
        if b_index == announcement.business or (b_index, a_index) in seen:
            continue
        seen.add((b_index, a_index))
        assert announcement.opens_at is not None  # every seeded call past draft has one
        window_end = min(announcement.closes_at or now, now)
        submitted = between(rng, announcement.opens_at, window_end)
        closed = effective_status(announcement, now) is AnnouncementStatus.CLOSED
        status = pick_weighted(rng, _CLOSED_CALL_OUTCOMES if closed else _OPEN_CALL_OUTCOMES)
        decided = status in (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED)
        decided_at = None
        if decided:
            # Closed calls are decided after the deadline; open (rolling) ones as they come.
            earliest = max(submitted, announcement.closes_at or submitted) if closed else submitted
            decided_at = between(rng, earliest, min(earliest + dt.timedelta(days=30), now))
        note = rng.choice(_DECISION_NOTES) if decided and rng.random() < 0.5 else None
        rows.append(
            {
                "business_id": b_index,
                "announcement_id": a_index,
                "status": status,
                "submitted_at": submitted,
                "decided_at": decided_at,
                "decided_by_id": rng.choice(staff) if decided else None,
                "note": note,
            }
        )
    return rows
