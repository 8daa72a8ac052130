"""Daily market briefings, historical cases and the glossary (R3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.db.base import Base, IdMixin, TimestampMixin
from graphql_api.core.db.enums import BriefingStatus
from graphql_api.core.db.models._types import checked_enum


class Briefing(IdMixin, TimestampMixin, Base):
    """One briefing per day, written by the data pipeline.

    ``top_keywords`` is an object ``{keyword: score}`` rather than an array so that the
    jsonb ``?|`` / ``?&`` operators test keywords as keys and use the GIN index.
    """

    __tablename__ = "briefings"
    __table_args__ = (
        CheckConstraint("jsonb_typeof(top_keywords) = 'object'", name="top_keywords_object"),
        # Default jsonb_ops (not jsonb_path_ops): only it supports the key operators ? ?| ?&.
        Index(None, "top_keywords", postgresql_using="gin"),
        # Published-only listings page by date.
        Index(None, "status", "date"),
    )

    date: Mapped[dt.date] = mapped_column(unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    narrative: Mapped[str] = mapped_column(Text)
    top_keywords: Mapped[dict[str, Any]] = mapped_column(JSONB)
    market_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    status: Mapped[BriefingStatus] = mapped_column(
        checked_enum(BriefingStatus, name="status"),
        default=BriefingStatus.DRAFT,
        server_default=BriefingStatus.DRAFT.value,
    )
    published_at: Mapped[dt.datetime | None]
    # Lets the pipeline's upsert skip writes (and cache invalidation) for unchanged content.
    content_hash: Mapped[str | None] = mapped_column(String(64))


class HistoricalCase(IdMixin, Base):
    """A past market event, related to briefings by keyword overlap."""

    __tablename__ = "historical_cases"
    __table_args__ = (
        CheckConstraint("jsonb_typeof(keywords) = 'array'", name="keywords_array"),
        Index(None, "keywords", postgresql_using="gin"),
        Index(None, "occurred_on", "id"),
    )

    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    occurred_on: Mapped[dt.date]
    keywords: Mapped[list[str]] = mapped_column(JSONB)
    source_url: Mapped[str | None] = mapped_column(String(2048))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class GlossaryTerm(IdMixin, TimestampMixin, Base):
    __tablename__ = "glossary_terms"

    term: Mapped[str] = mapped_column(String(100))
    definition: Mapped[str] = mapped_column(Text)


# Terms are unique regardless of case ("ETF" and "etf" are one entry); the expression needs
# the mapped column, hence declared after the class.
Index("uq_glossary_terms_lower_term", func.lower(GlossaryTerm.term), unique=True)


class BriefingGlossaryTerm(Base):
    """Which glossary terms a briefing's text mentions; recomputed when the briefing is saved."""

    __tablename__ = "briefing_glossary_terms"
    __table_args__ = (Index(None, "glossary_term_id"),)

    briefing_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("briefings.id", ondelete="CASCADE"), primary_key=True
    )
    glossary_term_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("glossary_terms.id", ondelete="CASCADE"), primary_key=True
    )
