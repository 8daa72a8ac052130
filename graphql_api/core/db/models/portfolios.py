"""Mock trading: securities, portfolios, holdings and transactions (R4, R12)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from graphql_api.core.db.base import Base, IdMixin, TimestampMixin
from graphql_api.core.db.enums import TradeSide
from graphql_api.core.db.models._types import checked_enum


class Security(IdMixin, Base):
    __tablename__ = "securities"
    __table_args__ = (CheckConstraint("last_price > 0", name="last_price_positive"),)

    symbol: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    market: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    last_price: Mapped[Decimal | None] = mapped_column(Numeric(20, 6))
    price_updated_at: Mapped[datetime | None]


class Portfolio(IdMixin, TimestampMixin, Base):
    """Cash plus holdings; both are updated in the trade's transaction, never recomputed."""

    __tablename__ = "portfolios"
    __table_args__ = (
        # The unique index leads with owner_id, so it also serves "portfolios of a user".
        UniqueConstraint("owner_id", "name"),
        # The database, not only the application, refuses an overdraft (R12).
        CheckConstraint("cash_balance >= 0", name="cash_balance_nonnegative"),
    )

    owner_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    base_currency: Mapped[str] = mapped_column(
        String(3), default="USD", server_default=text("'USD'")
    )
    cash_balance: Mapped[Decimal] = mapped_column(Numeric(20, 4))


class Holding(Base):
    __tablename__ = "holdings"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_nonnegative"),
        CheckConstraint("average_cost >= 0", name="average_cost_nonnegative"),
        # A price update fans out to every portfolio holding the security.
        Index(None, "security_id"),
    )

    portfolio_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("portfolios.id", ondelete="CASCADE"), primary_key=True
    )
    # RESTRICT: a security with positions or history must not vanish under them.
    security_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("securities.id", ondelete="RESTRICT"), primary_key=True
    )
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    average_cost: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class Transaction(IdMixin, Base):
    """One executed trade; an append-only history next to the maintained holdings."""

    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("fee >= 0", name="fee_nonnegative"),
        # A retried placeTrade with the same key finds the first execution instead of trading
        # twice; NULL keys never collide.
        UniqueConstraint("portfolio_id", "idempotency_key"),
        Index(None, "portfolio_id", "executed_at", "id"),
    )

    portfolio_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("portfolios.id", ondelete="CASCADE")
    )
    security_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("securities.id", ondelete="RESTRICT")
    )
    side: Mapped[TradeSide] = mapped_column(checked_enum(TradeSide, name="side"))
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    price: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    fee: Mapped[Decimal] = mapped_column(
        Numeric(20, 4), default=Decimal(0), server_default=text("0")
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    executed_at: Mapped[datetime] = mapped_column(server_default=func.now())
