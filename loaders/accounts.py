"""Account loaders."""

from __future__ import annotations

from graphql_api.core.db.queries.accounts import AnyUser, user_rows_by_ids
from graphql_api.core.db.queries.api_keys import AnyApiKey, api_keys_by_ids
from graphql_api.core.db.queries.audit import AuditLogRow, audit_logs_by_ids
from loaders.base import ByIdLoader


class UserByIdLoader(ByIdLoader[AnyUser]):
    fetch = staticmethod(user_rows_by_ids)


class ApiKeyByIdLoader(ByIdLoader[AnyApiKey]):
    fetch = staticmethod(api_keys_by_ids)


class AuditLogByIdLoader(ByIdLoader[AuditLogRow]):
    fetch = staticmethod(audit_logs_by_ids)
