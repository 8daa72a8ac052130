"""Users: one admin, editors and members, with the well-known demo addresses first.

Users get ``password_hash = "!"``, which matches no password (demo logins are enabled
separately, by ``graphql_api.core.auth.users.enable_demo_logins``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Final

from graphql_api.core.db.enums import Role
from graphql_api.devtools.seed.common import Ctx, between

_FAMILY_NAMES: Final = (
    ("김", "kim"), ("이", "lee"), ("박", "park"), ("최", "choi"), ("정", "jung"),
    ("강", "kang"), ("조", "cho"), ("윤", "yoon"), ("장", "jang"), ("임", "lim"),
    ("한", "han"), ("오", "oh"), ("서", "seo"), ("신", "shin"), ("권", "kwon"),
)  # fmt: skip
_GIVEN_NAMES: Final = (
    ("민준", "minjun"), ("서연", "seoyeon"), ("도윤", "doyun"), ("하은", "haeun"),
    ("시우", "siwoo"), ("지우", "jiwoo"), ("예준", "yejun"), ("수아", "sua"),
    ("주원", "juwon"), ("지민", "jimin"), ("현우", "hyunwoo"), ("채원", "chaewon"),
    ("지호", "jiho"), ("다은", "daeun"), ("건우", "gunwoo"), ("유나", "yuna"),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class UserRow:
    role: Role
    active: bool


def make_users(ctx: Ctx) -> tuple[list[dict[str, Any]], list[UserRow]]:
    rng = ctx.rng
    total = 40 * ctx.scale
    editors = 2 * ctx.scale
    rows: list[dict[str, Any]] = []
    meta: list[UserRow] = []
    for i in range(total):
        family, family_rom = rng.choice(_FAMILY_NAMES)
        given, given_rom = rng.choice(_GIVEN_NAMES)
        if i == 0:
            role, email = Role.ADMIN, "admin@example.com"
        elif i <= editors:
            role = Role.EDITOR
            email = "editor@example.com" if i == 1 else f"{given_rom}.{family_rom}{i}@example.com"
        else:
            role = Role.MEMBER
            first_member = i == editors + 1
            email = (
                "member@example.com" if first_member else f"{given_rom}.{family_rom}{i}@example.com"
            )
        # Staff and the well-known demo member stay active; a few other members are not.
        active = i <= editors + 1 or rng.random() > 0.05
        created = ctx.anchor - dt.timedelta(
            days=rng.randint(30, 720), seconds=rng.randint(0, 86_399)
        )
        last_login = (
            between(rng, ctx.anchor - dt.timedelta(days=30), ctx.anchor)
            if active and rng.random() < 0.7
            else None
        )
        rows.append(
            {
                "email": email,
                "password_hash": "!",
                "display_name": f"{family}{given}",
                "role": role,
                "is_active": active,
                "last_login_at": last_login,
                "created_at": created,
                "updated_at": max(created, last_login) if last_login else created,
            }
        )
        meta.append(UserRow(role=role, active=active))
    return rows, meta
