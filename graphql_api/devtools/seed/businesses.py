"""Businesses: names, registration numbers, size, region and owner (a member or nobody)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from graphql_api.core.db.enums import BusinessSize
from graphql_api.devtools.seed.common import Ctx, pick_weighted

INDUSTRIES: Final = (
    "manufacturing", "software", "biotech", "food", "logistics", "retail", "energy",
    "fintech", "tourism", "content", "agritech", "construction",
)  # fmt: skip
REGIONS: Final = (
    "Seoul", "Busan", "Incheon", "Daegu", "Daejeon", "Gwangju", "Ulsan", "Sejong",
    "Gyeonggi", "Gangwon", "Chungbuk", "Jeonnam", "Gyeongbuk", "Jeju",
)  # fmt: skip
_BUSINESS_STEMS: Final = (
    "Hanbit", "Saebyeok", "Pureun", "Dasom", "Nuri", "Haneul", "Bada", "Seorin", "Gaon",
    "Areum", "Mirae", "Dongbang", "Hangang", "Cheonji", "Baekdu", "Jinju", "Songdo",
    "Yeongwol", "Namsan", "Sora", "Iseul", "Doore", "Hyangi", "Maru",
)  # fmt: skip
_BUSINESS_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "manufacturing": ("Precision", "Metal Works", "Industrial", "Machinery"),
    "software": ("Soft", "Labs", "Systems", "Cloud"),
    "biotech": ("Bio", "Therapeutics", "Life Science", "Genomics"),
    "food": ("Foods", "Bakery", "Kimchi", "Beverage"),
    "logistics": ("Logistics", "Express", "Freight", "Delivery"),
    "retail": ("Mart", "Commerce", "Store", "Trading"),
    "energy": ("Energy", "Solar", "Hydrogen", "Power"),
    "fintech": ("Pay", "Fintech", "Capital Tech", "Ledger"),
    "tourism": ("Travel", "Tours", "Stay", "Hospitality"),
    "content": ("Studio", "Media", "Entertainment", "Games"),
    "agritech": ("Farm", "Agro", "Smart Farm", "Seeds"),
    "construction": ("Construction", "Engineering", "Build", "Housing"),
}
_BUSINESS_SUFFIXES: Final = ("Co., Ltd.", "Inc.", "Corp.", "")
_SIZE_WEIGHTS: Final = (
    (BusinessSize.MICRO, 35), (BusinessSize.SMALL, 35),
    (BusinessSize.MEDIUM, 20), (BusinessSize.LARGE, 10),
)  # fmt: skip
_EMPLOYEES: Final = {
    BusinessSize.MICRO: (1, 9),
    BusinessSize.SMALL: (10, 49),
    BusinessSize.MEDIUM: (50, 299),
    BusinessSize.LARGE: (300, 3000),
}


@dataclass(frozen=True, slots=True)
class BusinessRow:
    name: str
    industry: str
    size: BusinessSize
    region: str
    owner: int | None  # index into users


def make_businesses(ctx: Ctx, members: list[int]) -> tuple[list[dict[str, Any]], list[BusinessRow]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    meta: list[BusinessRow] = []
    registration_numbers: set[str] = set()
    names: set[str] = set()
    for _ in range(60 * ctx.scale):
        industry = rng.choice(INDUSTRIES)
        base = f"{rng.choice(_BUSINESS_STEMS)} {rng.choice(_BUSINESS_KINDS[industry])}"
        name = f"{base} {rng.choice(_BUSINESS_SUFFIXES)}".strip()
        n = 2
        while name.lower() in names:
            name = f"{base} {n} {rng.choice(_BUSINESS_SUFFIXES)}".strip()
            n += 1
        names.add(name.lower())
        registration = f"{rng.randint(101, 899)}-{rng.randint(10, 99)}-{rng.randint(0, 99999):05d}"
        while registration in registration_numbers:
            registration = (
                f"{rng.randint(101, 899)}-{rng.randint(10, 99)}-{rng.randint(0, 99999):05d}"
            )
        registration_numbers.add(registration)
        size = pick_weighted(rng, _SIZE_WEIGHTS)
        region = rng.choice(REGIONS)
        low, high = _EMPLOYEES[size]
        employees = rng.randint(low, high) if rng.random() > 0.05 else None
        revenue = (
            Decimal(rng.randint(60, 400) * (employees or low)) * Decimal(1_000_000)
            if rng.random() > 0.1
            else None
        )
        founded = (
            ctx.today - dt.timedelta(days=rng.randint(180, 365 * 35))
            if rng.random() > 0.1
            else None
        )
        owner = rng.choice(members) if rng.random() < 0.8 else None
        created = ctx.anchor - dt.timedelta(
            days=rng.randint(10, 700), seconds=rng.randint(0, 86_399)
        )
        rows.append(
            {
                "name": name,
                "registration_number": registration,
                "industry": industry,
                "size": size,
                "region": region,
                "founded_on": founded,
                "employee_count": employees,
                "annual_revenue": revenue,
                "owner_id": owner,  # replaced by the user's id before insert
                "created_at": created,
                "updated_at": created,
            }
        )
        meta.append(
            BusinessRow(name=name, industry=industry, size=size, region=region, owner=owner)
        )
    return rows, meta
