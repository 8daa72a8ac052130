"""Deterministic demo data for every domain table (R20: seeded by a command, not by hand).

``seed_demo`` fills an empty, migrated database in one transaction. The same ``seed``,
``scale`` and ``today`` always give identical rows, ids included (identity columns start at 1
in a fresh database and rows are inserted in a fixed order).

Dates: everything is placed relative to one anchor, ``today`` (default: the current UTC
date), rather than a fixed calendar date. A demo seeded with a fixed base date would show
every call for applications as closed and the latest briefing as months old; anchoring on
today keeps some announcements open now and some closing within seven days, and ends the
daily briefings on today. Pass ``today`` explicitly for rows that do not change from one day
to the next (the tests do). Historical cases keep absolute dates, since they are history.

Not seeded: refresh tokens, API keys and audit logs; they only arise from real use.
Users get ``password_hash = "!"``, which matches no password.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, TypeVar

import click
from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphql_api.core.db.enums import (
    AnnouncementStatus,
    ApplicationStatus,
    BriefingStatus,
    BusinessSize,
    Role,
    TradeSide,
)
from graphql_api.core.db.models import (
    Announcement,
    Application,
    Briefing,
    BriefingGlossaryTerm,
    Business,
    GlossaryTerm,
    HistoricalCase,
    Holding,
    Portfolio,
    Security,
    Transaction,
    User,
)

__all__ = [
    "FEE_BPS",
    "INITIAL_CASH",
    "AlreadySeededError",
    "is_seeded",
    "seed_demo",
]

# Starting cash of every seeded portfolio, by base currency. Holdings and cash_balance are
# what replaying the portfolio's transactions from this amount gives.
INITIAL_CASH: Final[dict[str, Decimal]] = {
    "USD": Decimal("100000.0000"),
    "KRW": Decimal("100000000.0000"),
}
# Seeded trades pay the same fee as Settings.trade_fee_bps's default.
FEE_BPS: Final = Decimal(10)

# Serialises concurrent seeders (several replicas starting on an empty database).
_SEED_LOCK_KEY: Final = 0x6771_6C61_7069_5344
_CHUNK: Final = 1000
_PRICE_Q: Final = Decimal("0.000001")
_CASH_Q: Final = Decimal("0.0001")
_KST: Final = dt.timezone(dt.timedelta(hours=9))


class AlreadySeededError(RuntimeError):
    """The database already holds data; seeding would collide with it."""


# --------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------

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

_INDUSTRIES: Final = (
    "manufacturing", "software", "biotech", "food", "logistics", "retail", "energy",
    "fintech", "tourism", "content", "agritech", "construction",
)  # fmt: skip
_REGIONS: Final = (
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

# Shared by announcements, briefings and historical cases so keyword searches connect them.
_KEYWORDS: Final = (
    "semiconductor", "ai", "battery", "export", "interest-rate", "inflation", "won",
    "kospi", "exchange-rate", "supply-chain", "esg", "hydrogen", "biotech", "ev",
    "smart-factory", "carbon-neutrality", "startup", "r&d", "digital-transformation",
    "platform", "tourism", "k-content", "robotics", "shipbuilding", "defense", "nuclear",
    "data-center", "cloud", "fintech", "real-estate", "bond-yield", "oil-price", "fed",
    "china", "tariff", "hbm", "display", "steel", "chemicals", "gaming",
)  # fmt: skip

_GLOSSARY: Final = (
    ("KOSPI", "The main Korean stock index, covering the companies listed on the KRX main board."),
    ("KOSDAQ", "Korea's technology-heavy secondary market, home to smaller growth companies."),
    ("Base rate", "The policy interest rate set by the Bank of Korea."),
    ("Bond yield", "The annual return an investor earns by holding a bond at its market price."),
    ("Yield curve", "Yields of bonds of the same credit plotted against their maturities."),
    ("Inflation", "A sustained rise in the general price level, eroding purchasing power."),
    ("CPI", "Consumer price index: the price of a fixed basket of consumer goods over time."),
    ("Exchange rate", "The price of one currency in terms of another, such as won per dollar."),
    ("Current account", "A country's trade in goods and services plus income and transfers."),
    ("Trade balance", "Exports minus imports of goods over a period."),
    ("Foreign net buying", "Purchases by foreign investors minus their sales on a given day."),
    ("Short selling", "Selling borrowed shares in the hope of buying them back cheaper."),
    ("Market capitalisation", "Share price times shares outstanding: a company's market value."),
    ("P/E ratio", "Share price divided by earnings per share."),
    ("P/B ratio", "Share price divided by book value per share."),
    ("Dividend yield", "Annual dividends per share divided by the share price."),
    ("ETF", "An exchange-traded fund: a basket of assets that trades like a single share."),
    ("Volatility", "How widely a price swings over time, usually the standard deviation."),
    ("VIX", "An index of the S&P 500's expected 30-day volatility, implied by option prices."),
    ("Liquidity", "How easily an asset can be bought or sold without moving its price."),
    ("Quantitative tightening", "A central bank shrinking its balance sheet."),
    ("Quantitative easing", "A central bank buying assets to push down long-term rates."),
    ("Basis point", "One hundredth of a percentage point (0.01%)."),
    ("Hawkish", "Favouring tighter monetary policy to fight inflation."),
    ("Dovish", "Favouring looser monetary policy to support growth."),
    ("FOMC", "The US Federal Open Market Committee, which sets the federal funds rate."),
    ("Recession", "A broad decline in economic activity lasting more than a few months."),
    ("Soft landing", "Slowing inflation without pushing the economy into recession."),
    ("Stagflation", "High inflation combined with stagnant growth."),
    ("Earnings surprise", "Reported profit that differs from analysts' consensus."),
    ("Guidance", "A company's own forecast of its coming results."),
    ("Sector rotation", "Money moving from one industry group to another."),
    ("Value stock", "A share priced low relative to its earnings or assets."),
    ("Growth stock", "A share of a company expected to grow faster than the market."),
    ("Blue chip", "A large, established company with a long record of stable earnings."),
    ("Circuit breaker", "An exchange rule halting trading after a large market drop."),
    ("Sidecar", "A KRX rule pausing program trading when futures move sharply."),
    ("Program trading", "Computer-driven trading of baskets of stocks."),
    ("Credit spread", "The extra yield a risky bond pays over a safe one."),
    ("Default", "Failure to make a required interest or principal payment."),
    ("Leverage", "Using borrowed money to increase the size of a position."),
    ("Margin loan", "A broker's loan to buy securities, secured by the account."),
    ("IPO", "Initial public offering: a company's first sale of shares to the public."),
    ("Lock-up", "A period after an IPO during which insiders may not sell."),
    ("Free float", "Shares available for public trading."),
    ("Semiconductor cycle", "The boom-and-bust pattern of chip demand, prices and inventory."),
    ("HBM", "High-bandwidth memory: stacked DRAM used in AI accelerators."),
    ("Foundry", "A company manufacturing chips designed by others."),
    ("Supply chain", "The network of suppliers that turns raw materials into products."),
    ("Tariff", "A tax on imported goods."),
    ("PMI", "Purchasing managers' index: a survey gauge of manufacturing activity."),
    ("GDP", "Gross domestic product: the value of all goods and services produced."),
    ("Dollar index", "The US dollar's value against a basket of major currencies."),
    ("Safe-haven asset", "An asset expected to hold its value in market turmoil."),
    ("Risk-on", "A market mood favouring riskier assets."),
    ("Risk-off", "A market mood favouring safer assets."),
    ("Rebalancing", "Restoring a portfolio's target weights after prices move."),
    ("Window dressing", "Fund managers tidying holdings before a reporting date."),
    ("Export data", "Monthly customs figures on goods shipped abroad."),
    ("Won weakness", "A fall in the won's value against other currencies."),
)
_GLOSSARY_CONTEXTS: Final = (
    "Korea", "US", "China", "Japan", "Europe", "Emerging markets", "Policy",
    "Retail investors", "Institutions", "Derivatives",
)  # fmt: skip

_CASE_EVENTS: Final = (
    "shock", "rally", "crash", "boom", "policy pivot", "export slump", "supply squeeze",
    "credit crunch", "bubble", "recovery", "sell-off", "short squeeze",
)  # fmt: skip
_FAMOUS_CASES: Final = (
    ("Asian financial crisis", dt.date(1997, 11, 21), ("won", "exchange-rate", "kospi")),
    ("Dot-com bubble burst", dt.date(2000, 3, 10), ("platform", "startup", "kospi")),
    ("Credit card debt crisis", dt.date(2003, 3, 17), ("fintech", "interest-rate")),
    ("Global financial crisis", dt.date(2008, 9, 15), ("fed", "real-estate", "bond-yield")),
    ("European sovereign debt crisis", dt.date(2011, 8, 5), ("bond-yield", "won")),
    ("Taper tantrum", dt.date(2013, 5, 22), ("fed", "bond-yield", "exchange-rate")),
    ("Oil price collapse", dt.date(2014, 11, 27), ("oil-price", "chemicals", "shipbuilding")),
    ("US-China trade war", dt.date(2018, 7, 6), ("tariff", "china", "semiconductor")),
    ("Japan export curbs on chip materials", dt.date(2019, 7, 4), ("semiconductor", "display")),
    ("COVID-19 market crash", dt.date(2020, 3, 19), ("kospi", "tourism", "oil-price")),
    ("Global chip shortage", dt.date(2021, 2, 1), ("semiconductor", "ev", "supply-chain")),
    ("Global rate-hike cycle", dt.date(2022, 6, 15), ("fed", "interest-rate", "inflation")),
    ("Secondary battery rally", dt.date(2023, 7, 26), ("battery", "ev", "kosdaq")),
    ("AI memory boom", dt.date(2024, 6, 18), ("hbm", "ai", "semiconductor")),
)

_SECURITY_STEMS: Final = (
    "Hanbit", "Daehan", "Samil", "Kumho", "Dongyang", "Seohae", "Taeyang", "Hanul", "Jinro",
    "Poseung", "Sinhan", "Yulchon", "Hyeonam", "Gyeongnam", "Bukhan", "Cheonan",
)  # fmt: skip
_US_STEMS: Final = (
    "Northwind", "Bluefin", "Cedar", "Summit", "Harbor", "Ironwood", "Lumen", "Pioneer",
    "Redwood", "Silverline", "Atlas", "Beacon", "Crescent", "Evergreen",
)  # fmt: skip
_SECURITY_SECTORS: Final = (
    "Semiconductor", "Electronics", "Bio", "Chemical", "Motors", "Steel", "Energy",
    "Software", "Foods", "Heavy Industries", "Financial", "Telecom", "Entertainment",
)  # fmt: skip
_MARKETS: Final = (
    (("KOSPI", "KRW"), 40), (("KOSDAQ", "KRW"), 20),
    (("NASDAQ", "USD"), 20), (("NYSE", "USD"), 20),
)  # fmt: skip
_ANNOUNCEMENT_STATUS_WEIGHTS: Final = (
    (AnnouncementStatus.DRAFT, 15), (AnnouncementStatus.PUBLISHED, 55),
    (AnnouncementStatus.CLOSED, 30),
)  # fmt: skip
_CLOSED_CALL_OUTCOMES: Final = (
    (ApplicationStatus.APPROVED, 35), (ApplicationStatus.REJECTED, 45),
    (ApplicationStatus.WITHDRAWN, 8), (ApplicationStatus.SUBMITTED, 12),
)  # fmt: skip
_OPEN_CALL_OUTCOMES: Final = (
    (ApplicationStatus.SUBMITTED, 80), (ApplicationStatus.WITHDRAWN, 10),
    (ApplicationStatus.APPROVED, 5), (ApplicationStatus.REJECTED, 5),
)  # fmt: skip
_PORTFOLIO_NAMES: Final = (
    "Main", "Long-term growth", "Dividend income", "Tech bets", "Korea value", "US core",
    "Retirement", "Swing trades", "Semiconductor theme", "Green energy",
)  # fmt: skip

_DECISION_NOTES: Final = (
    "Clear market-entry plan and realistic budget.",
    "Strong technical capability; matching fund confirmed.",
    "Eligibility criteria not met for the requested track.",
    "Budget exceeds the programme cap.",
    "Insufficient evidence of export readiness.",
    "Selected after on-site evaluation.",
)

_NARRATIVE_SENTENCES: Final = (
    "Market participants focused on {term} as {kw} headlines dominated the session.",
    "Strategists noted that {term} remains the key variable for {kw} exposure.",
    "The move in {kw} names was read through the lens of {term}.",
    "Desks reported that {term} drove positioning in {kw} stocks into the close.",
    "With {term} in view, investors trimmed risk in {kw} and rotated elsewhere.",
    "Several brokers revised their {kw} outlook, citing {term}.",
)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


_T = TypeVar("_T")


def _pick_weighted(rng: random.Random, pairs: Sequence[tuple[_T, int]]) -> _T:
    values = [value for value, _ in pairs]
    weights = [weight for _, weight in pairs]
    return rng.choices(values, weights=weights)[0]


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A KST wall-clock time on ``day``: the demo's calls open and close in Korean hours."""
    return dt.datetime.combine(day, dt.time(hour, minute), _KST)


def _between(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A whole-second instant in [start, end]; whole seconds keep rows byte-identical."""
    span = max(0, int((end - start).total_seconds()))
    return start + dt.timedelta(seconds=rng.randint(0, span))


def _q(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_EVEN)


def _fee(notional: Decimal) -> Decimal:
    return _q(notional * FEE_BPS / Decimal(10_000), _CASH_Q)


@dataclass(slots=True)
class _Ctx:
    rng: random.Random
    scale: int
    today: dt.date
    anchor: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)


class _Writer:
    """Bulk inserts in chunks, with an optional progress bar per table."""

    def __init__(self, conn: AsyncConnection, *, progress: bool) -> None:
        self._conn = conn
        self._progress = progress

    @contextmanager
    def _bar(self, label: str, length: int) -> Iterator[Any]:
        if not self._progress:
            yield None
            return
        with click.progressbar(length=length, label=f"{label:<24}", file=sys.stderr) as bar:
            yield bar

    async def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        with self._bar(table.name, len(rows)) as bar:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                await self._conn.execute(insert(table), chunk)
                if bar is not None:
                    bar.update(len(chunk))

    async def insert_returning_ids(self, table: Table, rows: list[dict[str, Any]]) -> list[int]:
        # sort_by_parameter_order: ids come back in the order of ``rows`` even though the
        # rows are sent as multi-row INSERTs, so later tables can refer to them by position.
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids: list[int] = []
        with self._bar(table.name, len(rows)) as bar:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                result = await self._conn.execute(stmt, chunk)
                ids.extend(result.scalars().all())
                if bar is not None:
                    bar.update(len(chunk))
        return ids


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


# --------------------------------------------------------------------------------------
# Generators: each returns plain rows; ids are assigned by the database on insert.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _UserRow:
    role: Role
    active: bool


def _users(ctx: _Ctx) -> tuple[list[dict[str, Any]], list[_UserRow]]:
    rng = ctx.rng
    total = 40 * ctx.scale
    editors = 2 * ctx.scale
    rows: list[dict[str, Any]] = []
    meta: list[_UserRow] = []
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
            _between(rng, ctx.anchor - dt.timedelta(days=30), ctx.anchor)
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
        meta.append(_UserRow(role=role, active=active))
    return rows, meta


@dataclass(frozen=True, slots=True)
class _BusinessRow:
    name: str
    industry: str
    size: BusinessSize
    region: str
    owner: int | None  # index into users


def _businesses(ctx: _Ctx, members: list[int]) -> tuple[list[dict[str, Any]], list[_BusinessRow]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    meta: list[_BusinessRow] = []
    registration_numbers: set[str] = set()
    names: set[str] = set()
    for _ in range(60 * ctx.scale):
        industry = rng.choice(_INDUSTRIES)
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
        size = _pick_weighted(rng, _SIZE_WEIGHTS)
        region = rng.choice(_REGIONS)
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
            _BusinessRow(name=name, industry=industry, size=size, region=region, owner=owner)
        )
    return rows, meta


@dataclass(frozen=True, slots=True)
class _AnnouncementRow:
    status: AnnouncementStatus
    opens_at: dt.datetime | None
    closes_at: dt.datetime | None
    industries: tuple[str, ...]
    sizes: tuple[str, ...]
    regions: tuple[str, ...]
    business: int | None


def _announcement_window(
    ctx: _Ctx, status: AnnouncementStatus
) -> tuple[dt.datetime | None, dt.datetime | None, dt.datetime | None]:
    """(opens_at, closes_at, published_at) relative to today; see the module docstring."""
    rng = ctx.rng
    today = ctx.today
    if status is AnnouncementStatus.DRAFT:
        if rng.random() < 0.4:
            return None, None, None
        opens = _at(today + dt.timedelta(days=rng.randint(7, 40)), 9)
        return opens, _at(opens.date() + dt.timedelta(days=rng.randint(14, 45)), 18), None
    if status is AnnouncementStatus.CLOSED:
        closes = _at(today - dt.timedelta(days=rng.randint(1, 240)), 18)
        opens = _at(closes.date() - dt.timedelta(days=rng.randint(14, 60)), 9)
        published = opens - dt.timedelta(days=rng.randint(0, 7), hours=rng.randint(0, 8))
        return opens, closes, published
    roll = rng.random()
    if roll < 0.10:
        # Announced ahead of its window: published, not yet open.
        opens = _at(today + dt.timedelta(days=rng.randint(1, 10)), 9)
        closes = _at(opens.date() + dt.timedelta(days=rng.randint(14, 45)), 18)
        published = _at(today - dt.timedelta(days=rng.randint(1, 5)), 10)
        return opens, closes, published
    opens = _at(today - dt.timedelta(days=rng.randint(1, 40)), 9)
    published = opens - dt.timedelta(days=rng.randint(0, 7), hours=rng.randint(0, 8))
    if roll < 0.15:
        return opens, None, published  # rolling call, open until the budget runs out
    if roll < 0.50:
        # Closes on one of the next six days at 18:00 KST (09:00 UTC): after "now" for the
        # whole of today in any time zone, and within seven days.
        return opens, _at(today + dt.timedelta(days=rng.randint(1, 6)), 18), published
    return opens, _at(today + dt.timedelta(days=rng.randint(8, 60)), 18), published


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


def _announcements(
    ctx: _Ctx, businesses: list[_BusinessRow], staff: list[int]
) -> tuple[list[dict[str, Any]], list[_AnnouncementRow]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    meta: list[_AnnouncementRow] = []
    for i in range(200 * ctx.scale):
        status = _pick_weighted(rng, _ANNOUNCEMENT_STATUS_WEIGHTS)
        opens, closes, published = _announcement_window(ctx, status)
        category = rng.choice(_CATEGORIES)
        regions = tuple(rng.sample(_REGIONS, rng.randint(1, 2))) if rng.random() < 0.4 else ()
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
            industries = tuple(rng.sample(_INDUSTRIES, rng.randint(0, 3)))
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
        keywords = rng.sample(_KEYWORDS, rng.randint(3, 6))
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
            _AnnouncementRow(
                status=status,
                opens_at=opens,
                closes_at=closes,
                industries=industries,
                sizes=sizes,
                regions=regions,
                business=business,
            )
        )
    return rows, meta


def _matches(announcement: _AnnouncementRow, business: _BusinessRow) -> bool:
    return (
        (not announcement.industries or business.industry in announcement.industries)
        and (not announcement.sizes or business.size.value in announcement.sizes)
        and (not announcement.regions or business.region in announcement.regions)
    )


def _applications(
    ctx: _Ctx,
    announcements: list[_AnnouncementRow],
    businesses: list[_BusinessRow],
    staff: list[int],
) -> list[dict[str, Any]]:
    rng = ctx.rng
    now = ctx.anchor
    # Only calls that have opened can have received applications.
    open_or_closed = [
        i
        for i, a in enumerate(announcements)
        if a.status is not AnnouncementStatus.DRAFT and a.opens_at is not None and a.opens_at < now
    ]
    target = 300 * ctx.scale
    eligible: dict[int, list[int]] = {}
    seen: set[tuple[int, int]] = set()
    rows: list[dict[str, Any]] = []
    attempts = 0
    while len(rows) < target and attempts < target * 20:
        attempts += 1
        a_index = rng.choice(open_or_closed)
        announcement = announcements[a_index]
        # Most applicants are eligible; a few apply anyway and are usually rejected.
        if rng.random() < 0.8:
            if a_index not in eligible:
                eligible[a_index] = [
                    b for b, business in enumerate(businesses) if _matches(announcement, business)
                ]
            candidates = eligible[a_index]
        else:
            candidates = []
        b_index = rng.choice(candidates) if candidates else rng.randrange(len(businesses))
        if b_index == announcement.business or (b_index, a_index) in seen:
            continue
        seen.add((b_index, a_index))
        assert announcement.opens_at is not None
        window_end = min(announcement.closes_at or now, now)
        submitted = _between(rng, announcement.opens_at, window_end)
        closed = announcement.status is AnnouncementStatus.CLOSED
        status = _pick_weighted(rng, _CLOSED_CALL_OUTCOMES if closed else _OPEN_CALL_OUTCOMES)
        decided = status in (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED)
        decided_at = None
        if decided:
            # Closed calls are decided after the deadline; open (rolling) ones as they come.
            earliest = max(submitted, announcement.closes_at or submitted) if closed else submitted
            decided_at = _between(rng, earliest, min(earliest + dt.timedelta(days=30), now))
        note = rng.choice(_DECISION_NOTES) if decided and rng.random() < 0.5 else None
        rows.append(
            {
                "business_id": b_index,
                "announcement_id": a_index,
                "status": status,
                "submitted_at": submitted,
                "decided_at": decided_at,
                "decided_by_id": rng.choice(staff) if decided else None,
                "note": note,
            }
        )
    return rows


def _glossary(ctx: _Ctx) -> list[dict[str, Any]]:
    rng = ctx.rng
    total = 60 * ctx.scale
    rows: list[dict[str, Any]] = []
    for n in range(total):
        term, definition = _GLOSSARY[n % len(_GLOSSARY)]
        round_ = n // len(_GLOSSARY)
        if round_:
            # Beyond the base list (scale > 1), terms are qualified by a context so that
            # lower(term) stays unique; they rarely appear verbatim in briefing text.
            context = _GLOSSARY_CONTEXTS[(round_ - 1) % len(_GLOSSARY_CONTEXTS)]
            cycle = (round_ - 1) // len(_GLOSSARY_CONTEXTS)
            term = f"{term} ({context})" + (f" {cycle + 1}" if cycle else "")
            definition = f"{definition} Here as it applies to {context.lower()}."
        created = ctx.anchor - dt.timedelta(days=rng.randint(100, 800))
        rows.append(
            {"term": term, "definition": definition, "created_at": created, "updated_at": created}
        )
    return rows


def _term_patterns(terms: Sequence[str]) -> list[re.Pattern[str]]:
    # Word-boundary match that tolerates punctuation inside terms such as "P/E ratio".
    return [re.compile(rf"(?<!\w){re.escape(t)}(?!\w)", re.IGNORECASE) for t in terms]


@dataclass(slots=True)
class _Market:
    kospi: float = 2550.0
    kosdaq: float = 820.0
    sp500: float = 5200.0
    usd_krw: float = 1330.0
    kr_3y: float = 3.30
    us_10y: float = 4.20
    wti: float = 78.0
    gold: float = 2300.0

    def step(self, rng: random.Random) -> dict[str, Any]:
        def move(value: float, vol: float) -> tuple[float, float]:
            change = rng.gauss(0.0, vol)
            return value * (1 + change), change * 100

        self.kospi, kospi_pct = move(self.kospi, 0.011)
        self.kosdaq, kosdaq_pct = move(self.kosdaq, 0.015)
        self.sp500, sp_pct = move(self.sp500, 0.009)
        self.usd_krw, _ = move(self.usd_krw, 0.004)
        self.wti, _ = move(self.wti, 0.02)
        self.gold, _ = move(self.gold, 0.008)
        self.kr_3y = max(0.5, self.kr_3y + rng.gauss(0.0, 0.03))
        self.us_10y = max(0.5, self.us_10y + rng.gauss(0.0, 0.04))
        return {
            "indices": {
                "kospi": {"close": round(self.kospi, 2), "change_pct": round(kospi_pct, 2)},
                "kosdaq": {"close": round(self.kosdaq, 2), "change_pct": round(kosdaq_pct, 2)},
                "sp500": {"close": round(self.sp500, 2), "change_pct": round(sp_pct, 2)},
            },
            "fx": {"usd_krw": round(self.usd_krw, 2)},
            "rates": {"kr_3y": round(self.kr_3y, 3), "us_10y": round(self.us_10y, 3)},
            "commodities": {"wti": round(self.wti, 2), "gold": round(self.gold, 2)},
        }


def _mid_sentence(term: str) -> str:
    """Lower-case a glossary term's capital for use inside a sentence; keep acronyms."""
    return term if term[:2].isupper() else term[0].lower() + term[1:]


def _briefings(ctx: _Ctx) -> list[dict[str, Any]]:
    rng = ctx.rng
    total = 90 * ctx.scale
    market = _Market()
    base_terms = [term for term, _ in _GLOSSARY]
    rows: list[dict[str, Any]] = []
    # Themes persist for a while, as real market narratives do.
    themes = rng.sample(_KEYWORDS, 4)
    for n in range(total):
        day = ctx.today - dt.timedelta(days=total - 1 - n)
        if rng.random() < 0.2:
            themes[rng.randrange(len(themes))] = rng.choice(_KEYWORDS)
        others = [k for k in _KEYWORDS if k not in themes]
        chosen = list(dict.fromkeys(themes + rng.sample(others, rng.randint(3, 6))))
        chosen = chosen[: rng.randint(5, 8)]
        scores = sorted((round(rng.uniform(0.25, 1.0), 3) for _ in chosen), reverse=True)
        top_keywords = dict(zip(chosen, scores, strict=True))
        snapshot = market.step(rng)
        kospi = snapshot["indices"]["kospi"]
        direction = "rises" if kospi["change_pct"] >= 0 else "falls"
        lead = chosen[0]
        title = f"KOSPI {direction} {abs(kospi['change_pct']):.2f}% as {lead} leads the tape"
        terms = rng.sample(base_terms, rng.randint(2, 5))
        summary = (
            f"KOSPI closed at {kospi['close']:,.2f} ({kospi['change_pct']:+.2f}%) with the won "
            f"at {snapshot['fx']['usd_krw']:,.2f} per dollar. {lead.capitalize()} and "
            f"{chosen[1]} drew the most attention; {terms[0]} was the theme of the day."
        )
        paragraphs = []
        for p in range(rng.randint(3, 5)):
            sentences = [
                rng.choice(_NARRATIVE_SENTENCES).format(
                    term=_mid_sentence(terms[(p + s) % len(terms)]),
                    kw=chosen[(p + s) % len(chosen)],
                )
                for s in range(rng.randint(2, 3))
            ]
            paragraphs.append(" ".join(sentences))
        paragraphs.append(
            f"Rates: Korea 3-year {snapshot['rates']['kr_3y']:.3f}%, US 10-year "
            f"{snapshot['rates']['us_10y']:.3f}%. WTI ${snapshot['commodities']['wti']:.2f}."
        )
        status = BriefingStatus.DRAFT if rng.random() < 0.07 else BriefingStatus.PUBLISHED
        # The pipeline writes at 06:30 KST and publishes by 07:00 KST (before midnight UTC
        # of the same date, so even today's briefing is in the past).
        written = _at(day, 6, 30)
        rows.append(
            {
                "date": day,
                "title": title,
                "summary": summary,
                "narrative": "\n\n".join(paragraphs),
                "top_keywords": top_keywords,
                "market_snapshot": snapshot,
                "status": status,
                "published_at": _at(day, 7) if status is BriefingStatus.PUBLISHED else None,
                "content_hash": None,
                "created_at": written,
                "updated_at": written,
            }
        )
    return rows


def _briefing_terms(briefings: list[dict[str, Any]], terms: list[str]) -> list[tuple[int, int]]:
    """(briefing position, term position) for every term found in a briefing's text."""
    patterns = _term_patterns(terms)
    lowered = [term.lower() for term in terms]
    pairs: list[tuple[int, int]] = []
    for b, briefing in enumerate(briefings):
        text = "\n".join((briefing["title"], briefing["summary"], briefing["narrative"]))
        folded = text.lower()
        # A substring test first: most terms are absent, and it is far cheaper than a regex.
        pairs.extend(
            (b, t)
            for t, pattern in enumerate(patterns)
            if lowered[t] in folded and pattern.search(text)
        )
    return pairs


def _historical_cases(ctx: _Ctx) -> list[dict[str, Any]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    total = 200 * ctx.scale
    for n in range(total):
        if n < len(_FAMOUS_CASES):
            name, occurred, base_keywords = _FAMOUS_CASES[n]
            title = f"{occurred.year} {name}"
            keywords = list(base_keywords) + rng.sample(
                [k for k in _KEYWORDS if k not in base_keywords], rng.randint(0, 2)
            )
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            source_url: str | None = f"https://archive.example.org/market-history/{slug}"
        else:
            keywords = rng.sample(_KEYWORDS, rng.randint(3, 6))
            occurred = dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 35))
            title = f"{occurred.year} {keywords[0]} {rng.choice(_CASE_EVENTS)}"
            source_url = (
                f"https://archive.example.org/market-history/{occurred.isoformat()}-{n}"
                if rng.random() < 0.5
                else None
            )
        summary = (
            f"{title}: a period in which {', '.join(keywords[:-1])} and {keywords[-1]} moved "
            f"together. Over the following {rng.randint(2, 26)} weeks the KOSPI moved "
            f"{rng.uniform(-35, 40):+.1f}% and the won {rng.uniform(-15, 12):+.1f}% against the "
            "dollar; the episode is a reference point when the same themes return."
        )
        rows.append(
            {
                "title": title[:200],
                "summary": summary,
                "occurred_on": occurred,
                "keywords": keywords,
                "source_url": source_url,
                "created_at": ctx.anchor - dt.timedelta(days=rng.randint(30, 400)),
            }
        )
    return rows


@dataclass(frozen=True, slots=True)
class _SecurityRow:
    currency: str
    last_price: Decimal
    tick: Decimal


def _securities(ctx: _Ctx) -> tuple[list[dict[str, Any]], list[_SecurityRow]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    meta: list[_SecurityRow] = []
    symbols: set[str] = set()
    for _ in range(50 * ctx.scale):
        market, currency = _pick_weighted(rng, _MARKETS)
        if currency == "KRW":
            symbol = f"{rng.randint(1, 99999):05d}0"
            while symbol in symbols:
                symbol = f"{rng.randint(1, 99999):05d}0"
            name = f"{rng.choice(_SECURITY_STEMS)} {rng.choice(_SECURITY_SECTORS)}"
            # Whole won prices: every notional and fee is then exact at 4 decimal places.
            tick = Decimal(1)
            price = Decimal(rng.randint(1_000, 900_000))
        else:
            letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            symbol = "".join(rng.choice(letters) for _ in range(rng.randint(2, 4)))
            while symbol in symbols:
                symbol = "".join(rng.choice(letters) for _ in range(rng.randint(2, 4)))
            name = f"{rng.choice(_US_STEMS)} {rng.choice(_SECURITY_SECTORS)}"
            tick = Decimal("0.01")
            price = Decimal(rng.randint(500, 90_000)) / 100
        symbols.add(symbol)
        price = _q(price, _PRICE_Q)
        rows.append(
            {
                "symbol": symbol,
                "name": name,
                "market": market,
                "currency": currency,
                "last_price": price,
                "price_updated_at": ctx.anchor - dt.timedelta(minutes=rng.randint(1, 600)),
            }
        )
        meta.append(_SecurityRow(currency=currency, last_price=price, tick=tick))
    return rows, meta


@dataclass(slots=True)
class _Position:
    quantity: Decimal = Decimal(0)
    average_cost: Decimal = Decimal(0)
    updated_at: dt.datetime | None = None


@dataclass(slots=True)
class _PortfolioPlan:
    row: dict[str, Any]
    trades: list[dict[str, Any]]
    positions: dict[int, _Position]


def _portfolio_plan(
    ctx: _Ctx, index: int, owner: int, name: str, securities: list[_SecurityRow]
) -> _PortfolioPlan:
    """Trades first; cash and holdings are then exactly what replaying them gives."""
    rng = ctx.rng
    currency = rng.choice(("USD", "KRW"))
    universe = [s for s, security in enumerate(securities) if security.currency == currency]
    focus = rng.sample(universe, min(len(universe), rng.randint(3, 8)))
    cash = INITIAL_CASH[currency]
    positions: dict[int, _Position] = {}
    trades: list[dict[str, Any]] = []
    start = ctx.anchor - dt.timedelta(days=rng.randint(60, 365))
    span = int((ctx.anchor - dt.timedelta(hours=1) - start).total_seconds())
    n_trades = rng.randint(8, 32)
    offsets = sorted(rng.sample(range(span), n_trades))
    for offset in offsets:
        executed = start + dt.timedelta(seconds=offset)
        held = [s for s in focus if s in positions and positions[s].quantity > 0]
        side = TradeSide.SELL if held and rng.random() < 0.35 else TradeSide.BUY
        security_index = rng.choice(held) if side is TradeSide.SELL else rng.choice(focus)
        security = securities[security_index]
        # Historic fill: the last price moved back in time by a random walk.
        years_ago = (ctx.anchor - executed).days / 365
        drift = Decimal(str(round(1 + rng.gauss(0.0, 0.25) * years_ago**0.5, 4)))
        price = (security.last_price * max(drift, Decimal("0.3"))).quantize(security.tick)
        price = _q(price, _PRICE_Q)
        position = positions.setdefault(security_index, _Position())
        if side is TradeSide.BUY:
            budget = cash * Decimal(str(round(rng.uniform(0.05, 0.25), 4)))
            quantity = Decimal(int(budget / (price * (1 + FEE_BPS / 10_000))))
            if quantity < 1:
                continue
        else:
            quantity = Decimal(rng.randint(1, int(position.quantity)))
        notional = _q(quantity * price, _CASH_Q)
        fee = _fee(notional)
        if side is TradeSide.BUY:
            cash -= notional + fee
            total = position.quantity + quantity
            position.average_cost = _q(
                (position.quantity * position.average_cost + quantity * price) / total, _PRICE_Q
            )
            position.quantity = total
        else:
            cash += notional - fee
            position.quantity -= quantity
            if position.quantity == 0:
                position.average_cost = Decimal(0)
        position.updated_at = executed
        trades.append(
            {
                "portfolio_id": index,  # position; replaced by the id before insert
                "security_id": security_index,
                "side": side,
                "quantity": _q(quantity, _PRICE_Q),
                "price": price,
                "fee": fee,
                "idempotency_key": (
                    str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    if rng.random() < 0.6
                    else None
                ),
                "executed_at": executed,
            }
        )
    assert cash >= 0
    last = trades[-1]["executed_at"] if trades else start
    row = {
        "owner_id": owner,
        "name": name,
        "base_currency": currency,
        "cash_balance": _q(cash, _CASH_Q),
        "created_at": start - dt.timedelta(days=1),
        "updated_at": last,
    }
    return _PortfolioPlan(row=row, trades=trades, positions=positions)


def _portfolios(
    ctx: _Ctx, members: list[int], securities: list[_SecurityRow]
) -> list[_PortfolioPlan]:
    rng = ctx.rng
    plans: list[_PortfolioPlan] = []
    names_by_owner: dict[int, list[str]] = {}
    for index in range(40 * ctx.scale):
        owner = rng.choice(members)
        taken = names_by_owner.setdefault(owner, [])
        free = [n for n in _PORTFOLIO_NAMES if n not in taken]
        name = rng.choice(free) if free else f"Portfolio {len(taken) + 1}"
        taken.append(name)
        plans.append(_portfolio_plan(ctx, index, owner, name, securities))
    return plans


# --------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------


async def _has_users(conn: AsyncConnection) -> bool:
    return (await conn.execute(select(User.id).limit(1))).first() is not None


async def is_seeded(engine: AsyncEngine) -> bool:
    """True when the database already holds users (seeded, or in real use: leave it alone)."""
    async with engine.connect() as conn:
        return await _has_users(conn)


async def seed_demo(
    engine: AsyncEngine,
    *,
    scale: int = 1,
    seed: int = 42,
    progress: bool = False,
    today: dt.date | None = None,
) -> dict[str, int]:
    """Fill an empty, migrated database with demo data; return the row count per table.

    At ``scale=1``: 40 users, 60 businesses, 200 announcements, ~300 applications,
    90 daily briefings, 200 historical cases, 60 glossary terms, 50 securities and
    40 portfolios with their transactions and holdings; counts grow linearly with ``scale``.
    Everything is written in one transaction. Raises ``AlreadySeededError`` when the
    database already has users (``is_seeded``), so it never mixes with real data.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    day = today or dt.datetime.now(dt.UTC).date()
    # Midnight UTC of ``today``: nothing seeded is later than this, except future windows.
    anchor = dt.datetime.combine(day, dt.time(0, 0), dt.UTC)
    # Not for security: a seeded PRNG is exactly what makes the demo data reproducible.
    ctx = _Ctx(rng=random.Random(seed), scale=scale, today=day, anchor=anchor)  # noqa: S311

    async with engine.begin() as conn:
        await conn.execute(select(func.pg_advisory_xact_lock(_SEED_LOCK_KEY)))
        if await _has_users(conn):
            raise AlreadySeededError("the database already has users; not seeding demo data")
        writer = _Writer(conn, progress=progress)
        counts = ctx.counts

        user_rows, users = _users(ctx)
        user_ids = await writer.insert_returning_ids(_table(User), user_rows)
        counts["users"] = len(user_ids)
        staff = [i for i, u in enumerate(users) if u.role in (Role.ADMIN, Role.EDITOR)]
        members = [i for i, u in enumerate(users) if u.role is Role.MEMBER and u.active]

        business_rows, businesses = _businesses(ctx, members)
        for row in business_rows:
            row["owner_id"] = None if row["owner_id"] is None else user_ids[row["owner_id"]]
        business_ids = await writer.insert_returning_ids(_table(Business), business_rows)
        counts["businesses"] = len(business_ids)

        announcement_rows, announcements = _announcements(ctx, businesses, staff)
        for row in announcement_rows:
            position = row["business_id"]
            row["business_id"] = None if position is None else business_ids[position]
            row["created_by_id"] = user_ids[row["created_by_id"]]
        announcement_ids = await writer.insert_returning_ids(
            _table(Announcement), announcement_rows
        )
        counts["announcements"] = len(announcement_ids)

        application_rows = _applications(ctx, announcements, businesses, staff)
        for row in application_rows:
            row["business_id"] = business_ids[row["business_id"]]
            row["announcement_id"] = announcement_ids[row["announcement_id"]]
            if row["decided_by_id"] is not None:
                row["decided_by_id"] = user_ids[row["decided_by_id"]]
        await writer.insert(_table(Application), application_rows)
        counts["applications"] = len(application_rows)

        glossary_rows = _glossary(ctx)
        term_ids = await writer.insert_returning_ids(_table(GlossaryTerm), glossary_rows)
        counts["glossary_terms"] = len(term_ids)

        briefing_rows = _briefings(ctx)
        briefing_ids = await writer.insert_returning_ids(_table(Briefing), briefing_rows)
        counts["briefings"] = len(briefing_ids)

        links = [
            {"briefing_id": briefing_ids[b], "glossary_term_id": term_ids[t]}
            for b, t in _briefing_terms(briefing_rows, [r["term"] for r in glossary_rows])
        ]
        await writer.insert(_table(BriefingGlossaryTerm), links)
        counts["briefing_glossary_terms"] = len(links)

        case_rows = _historical_cases(ctx)
        await writer.insert(_table(HistoricalCase), case_rows)
        counts["historical_cases"] = len(case_rows)

        security_rows, securities = _securities(ctx)
        security_ids = await writer.insert_returning_ids(_table(Security), security_rows)
        counts["securities"] = len(security_ids)

        plans = _portfolios(ctx, members, securities)
        for plan in plans:
            plan.row["owner_id"] = user_ids[plan.row["owner_id"]]
        portfolio_ids = await writer.insert_returning_ids(
            _table(Portfolio), [plan.row for plan in plans]
        )
        counts["portfolios"] = len(portfolio_ids)

        transaction_rows: list[dict[str, Any]] = []
        holding_rows: list[dict[str, Any]] = []
        for portfolio_id, plan in zip(portfolio_ids, plans, strict=True):
            for trade in plan.trades:
                trade["portfolio_id"] = portfolio_id
                trade["security_id"] = security_ids[trade["security_id"]]
                transaction_rows.append(trade)
            # Sold-out positions leave no holding row; their history stays in transactions.
            holding_rows.extend(
                {
                    "portfolio_id": portfolio_id,
                    "security_id": security_ids[s],
                    "quantity": position.quantity,
                    "average_cost": position.average_cost,
                    "updated_at": position.updated_at,
                }
                for s, position in sorted(plan.positions.items())
                if position.quantity > 0
            )
        await writer.insert(_table(Transaction), transaction_rows)
        counts["transactions"] = len(transaction_rows)
        await writer.insert(_table(Holding), holding_rows)
        counts["holdings"] = len(holding_rows)

    return dict(counts)
