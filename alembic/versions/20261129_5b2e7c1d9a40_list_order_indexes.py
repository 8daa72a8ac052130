"""list order indexes

Revision ID: 5b2e7c1d9a40
Revises: 01415efeef70
Create Date: 2026-11-29 19:05:00+00:00

The announcement lists filter drafts with `status <> 'DRAFT'` (a parameter of a prepared
statement) and order by (published_at, id) or (closes_at, id), newest or soonest first.
The (status, ...) indexes cannot serve that order, so every page sorted every call (0.40 ms
of PostgreSQL per page at the demo scale, growing with the table); these serve it in index
order, drafts skipped by a filter (issue 9).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "5b2e7c1d9a40"
down_revision: str | Sequence[str] | None = "01415efeef70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_announcements_published_at_desc_id",
        "announcements",
        [sa.text("published_at DESC NULLS LAST"), sa.text("id DESC")],
        unique=False,
    )
    op.create_index(
        op.f("ix_announcements_closes_at_id"),
        "announcements",
        ["closes_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_announcements_closes_at_id"), table_name="announcements")
    op.drop_index("ix_announcements_published_at_desc_id", table_name="announcements")
