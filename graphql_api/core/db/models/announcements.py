"""Announcements: public support-programme calls for applications (R1)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    cast,
    column,
    text,
)

# The PostgreSQL ARRAY (not the generic one) has overlap/contains/contained_by.
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, array
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.db.base import Base, IdMixin, TimestampMixin
from graphql_api.core.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.core.db.models._types import checked_enum

# Queries must build their tsquery with the same configuration ('simple': no stemming or
# stop words, so Korean and mixed-language titles tokenise predictably) to hit the index.
SEARCH_CONFIG = "simple"

# Both functions are IMMUTABLE only in their explicit-regconfig forms, which a generated
# column requires. Title and keywords weigh more than the issuing organisation for ts_rank.
_SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector('simple'::regconfig, title), 'A') || "
    "setweight(to_tsvector('simple'::regconfig, organization), 'B') || "
    "setweight(jsonb_to_tsvector('simple'::regconfig, keywords, '[\"string\"]'::jsonb), 'A')"
)


class Announcement(IdMixin, TimestampMixin, Base):
    __tablename__ = "announcements"
    __table_args__ = (
        CheckConstraint("budget >= 0", name="budget_nonnegative"),
        CheckConstraint("closes_at > opens_at", name="window_order"),
        CheckConstraint("jsonb_typeof(keywords) = 'array'", name="keywords_array"),
        # Built from BusinessSize so a new size cannot be forgotten here; the cast is needed
        # because varchar[] <@ text[] has no operator.
        CheckConstraint(
            column("target_sizes", ARRAY(String(16))).contained_by(
                cast(array([size.value for size in BusinessSize]), ARRAY(String(16)))
            ),
            name="target_sizes_valid",
        ),
        # Keyset orders for the public list: newest published, and soonest closing.
        Index(None, "status", "published_at", "id"),
        Index(None, "status", "closes_at", "id"),
        # The lists in their orders (drafts filtered, not sought): a page reads its rows in
        # index order (backward for the newest first) instead of sorting every call.
        # (Newest first is `published_at DESC NULLS LAST, id DESC` in the keyset.)
        Index(
            "ix_announcements_published_at_desc_id",
            text("published_at DESC NULLS LAST"),
            text("id DESC"),
        ),
        Index(None, "closes_at", "id"),
        Index(None, "category"),
        Index(None, "target_industries", postgresql_using="gin"),
        Index(None, "target_sizes", postgresql_using="gin"),
        Index(None, "regions", postgresql_using="gin"),
        Index(None, "keywords", postgresql_using="gin"),
        Index(None, "search_vector", postgresql_using="gin"),
    )

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    organization: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(64))
    # An empty array means "no restriction" for the matching logic, hence NOT NULL '{}'.
    target_industries: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), default=list, server_default=text("'{}'")
    )
    target_sizes: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), default=list, server_default=text("'{}'")
    )
    regions: Mapped[list[str]] = mapped_column(
        ARRAY(String(64)), default=list, server_default=text("'{}'")
    )
    budget: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None]
    status: Mapped[AnnouncementStatus] = mapped_column(
        checked_enum(AnnouncementStatus, name="status"),
        default=AnnouncementStatus.DRAFT,
        server_default=AnnouncementStatus.DRAFT.value,
    )
    source_url: Mapped[str | None] = mapped_column(String(2048))
    keywords: Mapped[list[str]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    business_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("businesses.id", ondelete="SET NULL"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    published_at: Mapped[datetime | None]
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, Computed(_SEARCH_VECTOR_SQL, persisted=True), deferred=True
    )
