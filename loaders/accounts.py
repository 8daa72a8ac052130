"""Account loaders."""

from __future__ import annotations

from graphql_api.db.models import ApiKey, AuditLog, User
from graphql_api.db.queries.accounts import users_by_ids
from graphql_api.db.queries.api_keys import api_keys_by_ids
from graphql_api.db.queries.audit import audit_logs_by_ids
from loaders.base import ByIdLoader


class UserByIdLoader(ByIdLoader[User]):
    fetch = staticmethod(users_by_ids)


class ApiKeyByIdLoader(ByIdLoader[ApiKey]):
    fetch = staticmethod(api_keys_by_ids)


class AuditLogByIdLoader(ByIdLoader[AuditLog]):
    fetch = staticmethod(audit_logs_by_ids)
