"""Operation limits checked with validation (issue 11): aliases, directives, suggestions.

graphql-armor's defaults are ours (docs/DECISIONS.md says where we differ and why): at most
15 aliases and 50 directives per document. Each rule reports once per document with a
stable code, so a client can tell a limit from a typo.
"""

from __future__ import annotations

import re
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    GraphQLError,
    ValidationContext,
)
from graphql.validation import ASTValidationRule

from graphql_api.core.errors import ErrorCode

MAX_ALIASES = 15
MAX_DIRECTIVES = 50

# graphql-core's hint in validation messages: " Did you mean 'x'?" / " Did you mean 'x' or 'y'?"
_SUGGESTION = re.compile(r" Did you mean .*\?$")


def _limit_error(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": ErrorCode.QUERY_TOO_COMPLEX.value})


def max_aliases_rule(limit: int = MAX_ALIASES) -> type[ASTValidationRule]:
    class MaxAliases(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_field(self, node: FieldNode, *_args: Any) -> None:
            if node.alias is not None:
                self.count += 1

        def leave_document(self, node: DocumentNode, *_args: Any) -> None:
            if self.count > limit:
                self.report_error(
                    _limit_error(f"{self.count} aliases; at most {limit} are allowed.")
                )

    return MaxAliases


def max_directives_rule(limit: int = MAX_DIRECTIVES) -> type[ASTValidationRule]:
    class MaxDirectives(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0

        def enter_directive(self, node: DirectiveNode, *_args: Any) -> None:
            self.count += 1

        def leave_document(self, node: DocumentNode, *_args: Any) -> None:
            if self.count > limit:
                self.report_error(
                    _limit_error(f"{self.count} directives; at most {limit} are allowed.")
                )

    return MaxDirectives


def without_suggestions(error: GraphQLError) -> GraphQLError:
    """The error without graphql-core's "Did you mean" hint, which reveals the schema's
    field names to a caller who cannot introspect it."""
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=error.extensions,
    )
