"""Dashboard entry point: public, and free until a field of it is selected."""

from __future__ import annotations

import strawberry

from schema.dashboard.types import DashboardType


@strawberry.type
class DashboardQueries:
    @strawberry.field(
        description="Statistics across announcements, businesses and briefings (R5); readable "
        "by anyone. Only the selected fields are computed."
    )
    def dashboard(self) -> DashboardType:
        return DashboardType()
