"""Businesses and their applications to announcements (R2)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.db.base import Base, IdMixin, TimestampMixin
from graphql_api.core.db.enums import ApplicationStatus, BusinessSize
from graphql_api.core.db.models._types import checked_enum


class Business(IdMixin, TimestampMixin, Base):
    __tablename__ = "businesses"
    __table_args__ = (
        CheckConstraint("employee_count >= 0", name="employee_count_nonnegative"),
        CheckConstraint("annual_revenue >= 0", name="annual_revenue_nonnegative"),
    )

    name: Mapped[str] = mapped_column(String(200))
    registration_number: Mapped[str] = mapped_column(String(32), unique=True)
    industry: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[BusinessSize] = mapped_column(checked_enum(BusinessSize, name="size"), index=True)
    region: Mapped[str] = mapped_column(String(64), index=True)
    founded_on: Mapped[date | None]
    employee_count: Mapped[int | None]
    annual_revenue: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    owner_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )


class Application(IdMixin, Base):
    """A business's application to one announcement; at most one per pair."""

    __tablename__ = "applications"
    __table_args__ = (
        UniqueConstraint("business_id", "announcement_id"),
        Index(None, "announcement_id"),
        # Keyset pagination of a business's applications, newest first.
        Index(None, "business_id", "submitted_at", "id"),
    )

    business_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("businesses.id", ondelete="CASCADE")
    )
    announcement_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("announcements.id", ondelete="CASCADE")
    )
    status: Mapped[ApplicationStatus] = mapped_column(
        checked_enum(ApplicationStatus, name="status"),
        default=ApplicationStatus.SUBMITTED,
        server_default=ApplicationStatus.SUBMITTED.value,
    )
    submitted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    note: Mapped[str | None] = mapped_column(Text)


# Declared after the class because an expression index needs the mapped column object.
# It serves case-insensitive name ordering and equality filters.
Index("ix_businesses_lower_name", func.lower(Business.name))
