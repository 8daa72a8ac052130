"""Account loaders."""

from __future__ import annotations

from graphql_api.db.models import User
from graphql_api.db.queries.accounts import users_by_ids
from loaders.base import ByIdLoader


class UserByIdLoader(ByIdLoader[User]):
    fetch = staticmethod(users_by_ids)
