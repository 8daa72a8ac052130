"""Domain enumerations, shared by the models (stored as checked VARCHAR) and the schema."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    MEMBER = "MEMBER"
    EDITOR = "EDITOR"
    ADMIN = "ADMIN"


class AnnouncementStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    CLOSED = "CLOSED"


class BusinessSize(StrEnum):
    MICRO = "MICRO"
    SMALL = "SMALL"
    MEDIUM = "MEDIUM"
    LARGE = "LARGE"


class ApplicationStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    WITHDRAWN = "WITHDRAWN"


class BriefingStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"


class TradeSide(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class ApiKeyScope(StrEnum):
    """What a service holding an API key may do (DESIGN.md permission table, R7/R8)."""

    BRIEFINGS_WRITE = "briefings:write"
    PRICES_WRITE = "prices:write"
    ANNOUNCEMENTS_WRITE = "announcements:write"
