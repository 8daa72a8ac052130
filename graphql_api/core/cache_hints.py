"""Who may share a cached answer, and for how long: the hints fields carry (issue 12, R15).

The schema layer puts a `CacheHint` on every field it builds (under `FIELD_EXTENSION` in the
GraphQLField's extensions); the engine combines the hints of the fields a document selects
into the document's hint, once per document (engine/cache_plan.py). Neither imports the
other: both import this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

# The key of a field's hint in `GraphQLField.extensions`.
FIELD_EXTENSION: Final = "graphql-api-cache-hint"
# The attribute a resolver function or a type's class carries when it declares its hint.
DECLARED_ATTRIBUTE: Final = "__cache_hint__"


class Scope(IntEnum):
    """Ordered from the widest to the narrowest: a document takes the largest of its fields'."""

    # The same answer for every caller.
    PUBLIC = 0
    # The same answer for callers of the same role and API-key scopes (drafts for editors).
    ROLE = 1
    # Depends on who the caller is: never shared between two callers.
    USER = 2


@dataclass(frozen=True, slots=True)
class CacheHint:
    scope: Scope = Scope.PUBLIC
    # Seconds an answer may be served; None: no bound of its own (the cache's setting).
    max_age: float | None = None

    def narrowed(self, other: CacheHint) -> CacheHint:
        """The hint of an answer holding both: the narrower scope, the shorter max age."""
        if other.max_age is None:
            max_age = self.max_age
        elif self.max_age is None:
            max_age = other.max_age
        else:
            max_age = min(self.max_age, other.max_age)
        return CacheHint(max(self.scope, other.scope), max_age)


PUBLIC: Final = CacheHint(Scope.PUBLIC)
# What a field without a hint gets: whoever forgot to mark it, nothing is shared.
UNMARKED: Final = CacheHint(Scope.USER)
