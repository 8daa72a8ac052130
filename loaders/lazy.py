"""`Loaders` whose DataLoaders are built on first use.

`create_loaders` builds every DataLoader up front (each costs an `inspect` check in
aiodataloader). A subscription needs a fresh set for every delivered event, for every
subscriber, yet resolves only a few fields: `create_lazy_loaders` returns a real `Loaders`
instance whose attributes are built when first read, so a delivery pays for the loaders it
uses and nothing else. Each instance still starts empty: nothing is shared between two.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from functools import cache
from typing import Any

from graphql_api.core.db.engine import Database
from loaders import Loaders


@cache
def _factories() -> dict[str, Callable[[Database], Any]]:
    """Loader attribute name -> its class (read from the `Loaders` field annotations)."""
    import loaders

    hints = typing.get_type_hints(Loaders, vars(loaders))
    return {name: hints[name] for name in Loaders.__dataclass_fields__}


class LazyLoaders(Loaders):
    """A `Loaders` whose slots are filled on first access (see the module docstring)."""

    __slots__ = ("_db",)

    def __init__(self, db: Database) -> None:  # no dataclass __init__: slots stay unset
        self._db = db

    def __getattr__(self, name: str) -> Any:
        # Only called for an attribute not set yet, i.e. a loader on its first use.
        factory = _factories().get(name)
        if factory is None:
            raise AttributeError(name)
        loader = factory(self._db)
        setattr(self, name, loader)
        return loader


def create_lazy_loaders(db: Database) -> Loaders:
    return LazyLoaders(db)
