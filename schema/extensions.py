"""The schema class: every result's errors get a stable code and are masked (R13)."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from graphql_api.errors import classify


class ApiSchema(strawberry.Schema):
    """strawberry.Schema whose results carry coded, masked errors.

    Every result, including parse and validation failures that never reach the extension
    hooks, passes through `_handle_execution_result`, so the classification lives there.
    """

    async def _handle_execution_result(
        self, context: ExecutionContext, result: Any, extensions_runner: Any, **kwargs: Any
    ) -> Any:
        handled = await super()._handle_execution_result(
            context, result, extensions_runner, **kwargs
        )
        errors = getattr(handled, "errors", None)
        if errors:
            handled.errors = [classify(error) for error in errors]
        return handled

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Client mistakes are not server errors; `classify` logs the unexpected ones.
        return None
