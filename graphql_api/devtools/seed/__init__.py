"""Deterministic demo data for every domain table (R20: seeded by a command, not by hand).

``seed_demo`` fills an empty, migrated database in one transaction. The same ``seed``,
``scale`` and ``today`` always give identical rows, ids included (identity columns start at 1
in a fresh database and rows are inserted in a fixed order, each generator drawing from one
random stream in turn: reordering the calls in ``load`` changes the data).

Dates: everything is placed relative to one anchor, ``today`` (default: the current UTC
date), rather than a fixed calendar date. A demo seeded with a fixed base date would show
every call for applications as closed and the latest briefing as months old; anchoring on
today keeps some announcements open now and some closing within seven days, and ends the
daily briefings on today. Pass ``today`` explicitly for rows that do not change from one day
to the next (the tests do). Historical cases keep absolute dates, since they are history.

A bulk loader, not a client of the services: going through one workflow call per row
(lock, audit, events) would make ``seed --scale 50`` far slower and fill the audit log with
rows no one performed. It shares the rules instead: trade amounts come from
``graphql_api.core.money`` and "has this call opened / closed" from
``graphql_api.core.rules``, so the rows are ones the workflows could have written.

Not seeded: refresh tokens, API keys and audit logs; they only arise from real use.

Modules: ``common`` (the run's random stream and clock), one generator module per domain
(``accounts``, ``businesses``, ``announcements``, ``applications``, ``glossary``,
``briefings``, ``history``, ``portfolios``), ``writer`` (chunked inserts, progress bars)
and ``load`` (``seed_demo``: generate, then insert in order).
"""

from __future__ import annotations

from graphql_api.devtools.seed.load import AlreadySeededError, is_seeded, seed_demo
from graphql_api.devtools.seed.portfolios import FEE_BPS, INITIAL_CASH

__all__ = [
    "FEE_BPS",
    "INITIAL_CASH",
    "AlreadySeededError",
    "is_seeded",
    "seed_demo",
]
