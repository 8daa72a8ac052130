"""Column types shared by the domain models."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Enum


def _enum_values(enum_cls: type[StrEnum]) -> list[str]:
    return [member.value for member in enum_cls]


def checked_enum(enum_cls: type[StrEnum], *, name: str) -> Enum:
    """A StrEnum stored as VARCHAR(16) with a CHECK constraint instead of a native PG enum.

    Adding a value to a native enum needs ALTER TYPE outside a transaction; a CHECK constraint
    is replaced inside an ordinary migration. ``name`` names the constraint
    (``ck_<table>_<name>``) per column, because the default (the enum's class name) would
    clash when two columns of one table share an enum.
    """
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=_enum_values,
        validate_strings=True,
    )
