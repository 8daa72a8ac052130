"""briefingPublished: each daily briefing as the pipeline publishes it (R3, R17)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from graphql_api.core.db import models
from graphql_api.core.db.queries.briefings import briefings_by_ids
from graphql_api.core.events import BRIEFING_PUBLISHED
from schema.briefings.permissions import can_see_briefing
from schema.briefings.types import BriefingType
from schema.subscriptions import LiveOperation
from schema.types import Info


async def _published(live: LiveOperation) -> AsyncGenerator[models.Briefing, None]:
    db = live.context.db
    async with live:
        while True:
            event = await live.next_event()
            briefing_id = event.payload.get("id")
            if not isinstance(briefing_id, int):
                continue
            # Public data: no per-delivery credential lookup (see schema.subscriptions).
            principal = await live.begin_delivery(reauthenticate=False)

            async def load(briefing_id: int = briefing_id) -> models.Briefing | None:
                async with db.read() as session:
                    rows = await briefings_by_ids(session, ids=[briefing_id])
                return rows[0] if rows else None

            # One read per event on this instance, however many subscribers it has; what
            # each subscriber may see is still decided for that subscriber.
            row = await event.shared(("briefing",), load)
            if row is None or not can_see_briefing(principal, row):
                continue
            live.context.loaders.briefing_by_id.prime(row.id, row)
            yield row


@strawberry.type
class BriefingSubscriptions:
    @strawberry.subscription(
        description="Daily briefings as they are published (a draft becoming PUBLISHED, or "
        "a briefing written as PUBLISHED), each once.",
        graphql_type=BriefingType,
    )
    async def briefing_published(self, info: Info) -> AsyncGenerator[models.Briefing, None]:
        live = await LiveOperation.open(info, (BRIEFING_PUBLISHED,))
        return _published(live)
