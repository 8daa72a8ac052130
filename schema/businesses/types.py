"""GraphQL types of the businesses domain."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import strawberry

from graphql_api.db import models
from graphql_api.db.enums import BusinessSize as BusinessSizeEnum
from graphql_api.ids import encode_id
from schema.businesses.permissions import CanReadSensitiveBusinessFields
from schema.types import Info, Node

BusinessSize = strawberry.enum(
    BusinessSizeEnum,
    name="BusinessSize",
    description="Company size class used for eligibility of support programmes.",
)


@strawberry.type(name="Business", description="A company that applies to support programmes.")
class BusinessType(Node):
    name: str = strawberry.field(description="Registered company name.")
    industry: str = strawberry.field(description="Industry code or label.")
    size: BusinessSize = strawberry.field(description="Company size class.")  # type: ignore[valid-type]
    region: str = strawberry.field(description="Region where the company is based.")
    founded_on: date | None = strawberry.field(description="Date the company was founded.")
    employee_count: int | None = strawberry.field(description="Number of employees.")
    registration_number: str | None = strawberry.field(
        description="Business registration number. Sensitive: owner, editors and admins only.",
        permission_classes=[CanReadSensitiveBusinessFields],
    )
    annual_revenue: Decimal | None = strawberry.field(
        description="Annual revenue. Sensitive: owner, editors and admins only.",
        permission_classes=[CanReadSensitiveBusinessFields],
    )

    # A resolver replaces the interface's plain attribute, which mypy's dataclass model rejects.
    @strawberry.field(description="Globally unique, opaque identifier.")  # type: ignore[misc]
    @staticmethod
    def id(
        root: strawberry.Parent[models.Business],
    ) -> strawberry.ID:
        return strawberry.ID(encode_id("Business", root.id))

    @classmethod
    def is_type_of(cls, obj: Any, info: Info) -> bool:
        return isinstance(obj, models.Business)
