"""GraphQL enums over the domain's stored enums, shared by several domains' types."""

from __future__ import annotations

from graphql_api.core.db.enums import AnnouncementStatus, ApplicationStatus, BusinessSize
from schema.types import described_enum

# The domain enums themselves become the GraphQL enums (see `described_enum`), so the
# names re-exported here are classes that annotations can use.
__all__ = ["AnnouncementStatus", "ApplicationStatus", "BusinessSize"]

described_enum(
    AnnouncementStatus,
    name="AnnouncementStatus",
    description="Lifecycle of a call: DRAFT -> PUBLISHED -> CLOSED.",
    values={
        "DRAFT": "Being prepared; visible to editors, admins and announcement services only.",
        "PUBLISHED": "Public and accepting applications until it closes.",
        "CLOSED": "No longer accepting applications (closed by an editor or past closesAt).",
    },
)

described_enum(
    BusinessSize,
    name="BusinessSize",
    description="Company size class used for eligibility of support programmes.",
    values={
        "MICRO": "Micro enterprise (fewer than 10 employees).",
        "SMALL": "Small enterprise (10 to 49 employees).",
        "MEDIUM": "Medium enterprise (50 to 299 employees).",
        "LARGE": "Large enterprise (300 employees or more).",
    },
)

described_enum(
    ApplicationStatus,
    name="ApplicationStatus",
    description="Where an application stands: SUBMITTED until decided or withdrawn.",
    values={
        "SUBMITTED": "Submitted and awaiting a decision.",
        "APPROVED": "Accepted by an editor or admin.",
        "REJECTED": "Turned down by an editor or admin.",
        "WITHDRAWN": "Withdrawn by the business before a decision.",
    },
)
