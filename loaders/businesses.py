"""Business loaders."""

from __future__ import annotations

from graphql_api.db.models import Business
from graphql_api.db.queries.businesses import businesses_by_ids
from loaders.base import ByIdLoader


class BusinessByIdLoader(ByIdLoader[Business]):
    fetch = staticmethod(businesses_by_ids)
