"""Business queries."""

from __future__ import annotations

from schema.node import register

register("Business", lambda info, pk: info.context.loaders.business_by_id.load(pk))
