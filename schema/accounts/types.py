"""GraphQL types of the accounts domain."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.core.db.enums import Role
from graphql_api.core.db.queries.accounts import USER_CLASSES, AnyUser
from graphql_api.core.db.queries.businesses import BusinessRow
from graphql_api.core.db.queries.portfolios import PortfolioRow
from schema.accounts.permissions import CanReadEmail, CanReadUserPortfolios
from schema.types import Info, Node, described_enum, later, node_type

if TYPE_CHECKING:
    from schema.businesses.types import BusinessType
    from schema.portfolios.types import PortfolioType

BusinessRef = Annotated["BusinessType", strawberry.lazy("schema.businesses.types")]
PortfolioRef = Annotated["PortfolioType", strawberry.lazy("schema.portfolios.types")]

described_enum(
    Role,
    name="Role",
    description="What a user may do (R7); anonymous callers and services have no role.",
    values={
        "MEMBER": "A registered user: reads public data, manages their own businesses "
        "and portfolios.",
        "EDITOR": "Staff: also manages announcements, reads drafts and sensitive business "
        "fields, decides applications.",
        "ADMIN": "Everything an editor may do, plus every portfolio (read only), user roles, "
        "API keys and the audit log.",
    },
)


@node_type(
    "User",
    USER_CLASSES,
    description="A person with an account. The profile (display name, role) is public; "
    "e-mail and portfolios are for the user themself and admins.",
)
class UserType(Node):
    email: str | None = strawberry.field(
        description="Login e-mail address. Private: the user themself and admins only "
        "(FORBIDDEN otherwise).",
        permission_classes=[CanReadEmail],
    )
    display_name: str = strawberry.field(description="Name shown to other users.")
    role: Role = strawberry.field(description="Role that decides what the user may do.")
    created_at: datetime = strawberry.field(description="When the account was created.")

    @strawberry.field(
        description="The user's portfolios, oldest first. The user themself and admins only: "
        "for anyone else null with a FORBIDDEN error (nullable so a denial does not null the "
        "whole user).",
        permission_classes=[CanReadUserPortfolios],
        graphql_type=list[PortfolioRef] | None,
    )
    @staticmethod
    def portfolios(root: strawberry.Parent[AnyUser], info: Info) -> list[PortfolioRow]:
        return later(info.context.loaders.portfolios_by_owner_id.load(root.id))

    @strawberry.field(
        description="Businesses the user owns (public fields for everyone).",
        graphql_type=list[BusinessRef],
    )
    @staticmethod
    def businesses(root: strawberry.Parent[AnyUser], info: Info) -> list[BusinessRow]:
        return later(info.context.loaders.businesses_by_owner_id.load(root.id))
