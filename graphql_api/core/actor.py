"""Who performs a workflow: the principal, the request it came in, from where, and when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from graphql_api.core.auth.principal import Principal


@dataclass(frozen=True, slots=True)
class Actor:
    principal: Principal
    # The request's id and client address, for the audit log (None outside a request).
    request_id: str | None
    ip: str | None
    # One clock reading per request: every rule of a workflow compares against this `now`.
    now: datetime
