"""Business writes: create and change a business, race-safe on the registration number (R2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.models import Business

# The unique constraint on businesses.registration_number (naming convention in db/base.py).
REGISTRATION_NUMBER_UNIQUE = "uq_businesses_registration_number"


def violated_constraint(error: IntegrityError) -> str | None:
    """The name of the constraint asyncpg reports for an integrity error, if any."""
    cause = getattr(error.orig, "__cause__", None)
    name = getattr(cause, "constraint_name", None)
    return name if isinstance(name, str) else None


async def lock_business(
    session: AsyncSession, *, business_id: int, shared: bool = False
) -> Business | None:
    """The row locked for the rest of the transaction (FOR SHARE with `shared`), or None."""
    stmt = select(Business).where(Business.id == business_id).with_for_update(read=shared)
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one_or_none()


async def insert_business(session: AsyncSession, *, values: Mapping[str, Any]) -> Business | None:
    """The new row, or None when the registration number is taken.

    ON CONFLICT makes the uniqueness check and the insert one step: of two concurrent
    inserts of one number, the second waits for the first and then inserts nothing.
    """
    stmt = (
        insert(Business)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Business.registration_number])
        .returning(Business)
    )
    return (await session.scalars(stmt)).one_or_none()


async def update_business(
    session: AsyncSession, *, business_id: int, values: Mapping[str, Any]
) -> Business | None:
    """The changed row, or None when the new registration number is taken.

    The UPDATE runs in a savepoint so a unique violation (also one raced by a concurrent
    transaction) rolls back only this statement and the caller can report it.
    """
    stmt = update(Business).where(Business.id == business_id).values(**values).returning(Business)
    try:
        async with session.begin_nested():
            result = await session.scalars(stmt, execution_options={"populate_existing": True})
            return result.one()
    except IntegrityError as error:
        if violated_constraint(error) == REGISTRATION_NUMBER_UNIQUE:
            return None
        raise
