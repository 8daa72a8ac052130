"""`loaders.written`: the table of what a write makes stale names real loaders (issue 10)."""

from __future__ import annotations

from loaders import Loaders
from loaders.written import STALE


def test_every_name_in_the_stale_table_is_a_loader() -> None:
    fields = set(Loaders.__dataclass_fields__)
    named = {name for stale in STALE.values() for name in (*stale.primed, *stale.cleared)}
    assert named - fields == set()


def test_every_relation_loader_is_cleared_by_some_write() -> None:
    # A loader keyed by a parent lists or counts rows some write changes; forgetting it in
    # the table would let a payload show data from before its own mutation.
    fields = set(Loaders.__dataclass_fields__)
    by_parent = {name for name in fields if "_by_" in name and not name.endswith("_by_id")}
    by_parent |= {name for name in fields if name.endswith("_by_owner_id")}
    read_only = {
        # Briefing relations to reference data no mutation writes (historical cases,
        # glossary terms are replaced with the briefing, which clears them).
        "briefing_by_date",
    }
    cleared = {name for stale in STALE.values() for name in stale.cleared}
    primed = {name for stale in STALE.values() for name in stale.primed}
    assert by_parent - cleared - primed - read_only == set()
