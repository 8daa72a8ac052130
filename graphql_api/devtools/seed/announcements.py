"""Announcements (support-programme calls) with windows placed around today.

Drafts, calls open now (some closing within seven days, some rolling), calls announced
ahead of their window, and closed calls; about a third are posted by a business.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from graphql_api.core.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.devtools.seed.businesses import INDUSTRIES, REGIONS, BusinessRow
from graphql_api.devtools.seed.common import KEYWORDS, Ctx, at, pick_weighted

_ORGANIZATIONS: Final = (
    "Ministry of SMEs and Startups",
    "Korea Technology and Information Promotion Agency for SMEs",
    "Korea SMEs and Startups Agency",
    "KOTRA",
    "Small Enterprise and Market Service",
    "Korea Creative Content Agency",
    "National IT Industry Promotion Agency",
    "Seoul Business Agency",
    "Busan Economic Promotion Agency",
    "Gyeonggi Business & Science Accelerator",
    "Korea Institute for Advancement of Technology",
    "Korea Energy Agency",
)
_CATEGORIES: Final = (
    "R&D", "Funding", "Export", "Hiring", "Training", "Marketing", "Startup",
    "Digital transformation", "Consulting", "Green transition",
)  # fmt: skip
_PROGRAMMES: Final = (
    "Support Programme", "Voucher Programme", "Grant Call", "Acceleration Programme",
    "Matching Fund", "Pilot Project", "Capacity Building Programme",
)  # fmt: skip
_THEMES: Final[dict[str, tuple[str, ...]]] = {
    "R&D": ("Technology Development", "Joint R&D", "Prototype Development"),
    "Funding": ("Policy Loan", "Growth Capital", "Working Capital"),
    "Export": ("Export Voucher", "Overseas Market Entry", "Global Trade Fair"),
    "Hiring": ("Youth Employment", "Digital Talent Hiring", "Regional Jobs"),
    "Training": ("Workforce Upskilling", "AI Literacy", "Smart Factory Training"),
    "Marketing": ("Online Channel Entry", "Brand Building", "Live Commerce"),
    "Startup": ("Pre-Startup Package", "Early-Stage Startup", "Startup Scale-up"),
    "Digital transformation": ("Smart Factory Adoption", "Cloud Migration", "Data Voucher"),
    "Consulting": ("Management Consulting", "IP Strategy", "ESG Consulting"),
    "Green transition": ("Carbon Neutrality", "Energy Efficiency", "Circular Economy"),
}
_BUSINESS_CALLS: Final = (
    "Open Innovation Partner Call",
    "Supplier Recruitment",
    "Pilot Customer Programme",
    "Co-development Partner Search",
)

_ANNOUNCEMENT_STATUS_WEIGHTS: Final = (
    (AnnouncementStatus.DRAFT, 15), (AnnouncementStatus.PUBLISHED, 55),
    (AnnouncementStatus.CLOSED, 30),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class AnnouncementRow:
    status: AnnouncementStatus
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    # Named as the model's columns, so `core.rules.unmet_targets` reads them.
    target_industries: tuple[str, ...]
    target_sizes: tuple[str, ...]
    regions: tuple[str, ...]
    business: int | None


def _announcement_window(
    ctx: Ctx, status: AnnouncementStatus
) -> tuple[dt.datetime | None, dt.datetime | None, dt.datetime | None]:
    """(opens_at, closes_at, published_at) relative to today; see the package docstring."""
    rng = ctx.rng
    today = ctx.today
    if status is AnnouncementStatus.DRAFT:
        if rng.random() < 0.4:
            return None, None, None
        opens = at(today + dt.timedelta(days=rng.randint(7, 40)), 9)
        return opens, at(opens.date() + dt.timedelta(days=rng.randint(14, 45)), 18), None
    if status is AnnouncementStatus.CLOSED:
        closes = at(today - dt.timedelta(days=rng.randint(1, 240)), 18)
        opens = at(closes.date() - dt.timedelta(days=rng.randint(14, 60)), 9)
        published = opens - dt.timedelta(days=rng.randint(0, 7), hours=rng.randint(0, 8))
        return opens, closes, published
    roll = rng.random()
    if roll < 0.10:
        # Announced ahead of its window: published, not yet open.
        opens = at(today + dt.timedelta(days=rng.randint(1, 10)), 9)
        closes = at(opens.date() + dt.timedelta(days=rng.randint(14, 45)), 18)
        published = at(today - dt.timedelta(days=rng.randint(1, 5)), 10)
        return opens, closes, published
    opens = at(today - dt.timedelta(days=rng.randint(1, 40)), 9)
    published = opens - dt.timedelta(days=rng.randint(0, 7), hours=rng.randint(0, 8))
    if roll < 0.15:
        return opens, None, published  # rolling call, open until the budget runs out
    if roll < 0.50:
        # Closes on one of the next six days at 18:00 KST (09:00 UTC): after "now" for the
        # whole of today in any time zone, and within seven days.
        return opens, at(today + dt.timedelta(days=rng.randint(1, 6)), 18), published
    return opens, at(today + dt.timedelta(days=rng.randint(8, 60)), 18), published


def _announcement_body(
    rng: random.Random,
    title: str,
    organization: str,
    targets: tuple[Sequence[str], Sequence[str], Sequence[str]],
    budget: Decimal | None,
) -> str:
    industries, sizes, regions = targets
    who = ", ".join(sizes).lower() if sizes else "all"
    where = f"in {', '.join(regions)}" if regions else "nationwide"
    fields = ", ".join(industries) if industries else "all industries"
    funding = f"KRW {budget:,.0f} in total" if budget is not None else "a budget set per project"
    paragraphs = [
        f"{organization} invites applications for the {title}.",
        f"Eligibility: {who} businesses in {fields}, {where}.",
        f"Support: {funding}, covering up to {rng.choice((50, 70, 80, 90))}% of eligible "
        "costs, plus mentoring and follow-up evaluation.",
        "How to apply: submit the business plan, the latest financial statements and the "
        "certificate of business registration through the online portal before the deadline.",
    ]
    return "\n\n".join(paragraphs)


def make_announcements(
    ctx: Ctx, businesses: list[BusinessRow], staff: list[int]
) -> tuple[list[dict[str, Any]], list[AnnouncementRow]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    meta: list[AnnouncementRow] = []
    for i in range(200 * ctx.scale):
        status = pick_weighted(rng, _ANNOUNCEMENT_STATUS_WEIGHTS)
        opens, closes, published = _announcement_window(ctx, status)
        category = rng.choice(_CATEGORIES)
        regions = tuple(rng.sample(REGIONS, rng.randint(1, 2))) if rng.random() < 0.4 else ()
        business: int | None = None
        if rng.random() < 1 / 3:
            business = rng.randrange(len(businesses))
            poster = businesses[business]
            organization = poster.name
            title = f"{poster.name} {rng.choice(_BUSINESS_CALLS)}"
            industries: tuple[str, ...] = (poster.industry,) if rng.random() < 0.7 else ()
            budget = Decimal(rng.randint(1, 50) * 10_000_000) if rng.random() < 0.6 else None
            source_url = None
        else:
            organization = rng.choice(_ORGANIZATIONS)
            year = (published or ctx.anchor).year
            region_label = "-".join(regions) if regions else "Nationwide"
            title = (
                f"{year} {region_label} {rng.choice(_THEMES[category])} {rng.choice(_PROGRAMMES)}"
            )
            industries = tuple(rng.sample(INDUSTRIES, rng.randint(0, 3)))
            budget = Decimal(rng.randint(5, 500) * 10_000_000) if rng.random() < 0.85 else None
            source_url = (
                f"https://www.bizinfo.example.kr/support/notice/{100_000 + i}"
                if rng.random() < 0.8
                else None
            )
        sizes: tuple[str, ...] = ()
        if rng.random() < 0.7:
            picked = rng.sample(list(BusinessSize), rng.randint(1, 3))
            sizes = tuple(size.value for size in BusinessSize if size in picked)
        keywords = rng.sample(KEYWORDS, rng.randint(3, 6))
        if published is not None:
            created = published - dt.timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 8))
        else:
            created = ctx.anchor - dt.timedelta(days=rng.randint(0, 20), hours=rng.randint(1, 23))
        updated = closes if status is AnnouncementStatus.CLOSED and closes else published or created
        author = businesses[business].owner if business is not None else None
        rows.append(
            {
                "title": title[:200],
                "body": _announcement_body(
                    rng, title, organization, (industries, sizes, regions), budget
                ),
                "organization": organization,
                "category": category,
                "target_industries": list(industries),
                "target_sizes": list(sizes),
                "regions": list(regions),
                "budget": budget,
                "opens_at": opens,
                "closes_at": closes,
                "status": status,
                "source_url": source_url,
                "keywords": keywords,
                "business_id": business,  # position; replaced by the id before insert
                # Posted by the business's owner, or by staff for the organisation; a
                # position in the user list, replaced by the id before insert.
                "created_by_id": author if author is not None else rng.choice(staff),
                "published_at": published,
                "created_at": created,
                "updated_at": updated,
            }
        )
        meta.append(
            AnnouncementRow(
                status=status,
                opens_at=opens,
                closes_at=closes,
                target_industries=industries,
                target_sizes=sizes,
                regions=regions,
                business=business,
            )
        )
    return rows, meta
