"""The permission matrix (R7, DESIGN.md "Roles and permissions"), generated from ONE table.

`MATRIX` lists, for every protected field and operation, the outcome for every principal;
each (row, principal) pair is its own test. Cells that must not write (reads and refused
writes) share one dataset per module, and each proves it wrote nothing (one that did marks
the dataset dirty, and the next cell gets a new one); a cell whose write succeeds gets a fresh
database of its own from the conftest fixtures. Every principal calls with real credentials: a
JWT from the `login` mutation for users, an `X-API-Key` header for services (a real key,
stored hashed); the revoked key is revoked through `revokeApiKey` after it was used once.

Outcomes:
- DATA  the expected value is there and nothing failed;
- HIDE  a list omits the row (also from `totalCount`) or the lookup is null, with no error;
- FORB  FORBIDDEN at the denied field's path (the rest of the response still resolves);
- NOTF  NOT_FOUND, and the response is the same as for an object that does not exist;
- UNAU  UNAUTHENTICATED on the field (the operation needs a signed-in user);
- 401   the whole request is refused: HTTP 401, UNAUTHENTICATED (revoked / expired key);
- E-NF  the mutation's payload carries the UserError code NOT_FOUND and no data;
- E-IV  ... the UserError code INVALID_VALUE.

For every outcome but DATA, none of the row's protected values (registration number, revenue,
e-mail, cash balance, draft title, ...) may appear anywhere in the raw response, and a
mutation must have changed nothing in the database.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from graphql_api.core.auth.api_keys import generate_key
from graphql_api.core.auth.passwords import hash_password
from graphql_api.core.config import Environment, Settings
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
    ApiKey,
    Application,
    AuditLog,
    Briefing,
    Business,
    Holding,
    Portfolio,
    Security,
    Transaction,
    User,
)
from graphql_api.core.ids import encode_id
from tests.auth_helpers import PASSWORD, bearer, login

PRINCIPALS = (
    "anonymous",
    "member",  # owns the business, the portfolio and the application under test
    "other_member",
    "editor",
    "admin",
    "key_briefings",  # a service key with briefings:write
    "key_prices",  # ... prices:write
    "key_announcements",  # ... announcements:write
    "key_revoked",  # every scope, revoked through revokeApiKey
    "key_expired",  # every scope, expired
)
ALL_SCOPES = ["briefings:write", "prices:write", "announcements:write"]
KEY_SCOPES = {
    "key_briefings": ["briefings:write"],
    "key_prices": ["prices:write"],
    "key_announcements": ["announcements:write"],
}
MISSING_PK = 987_654_321

# Protected values: distinctive, written with every significant digit so that the text
# the server would show contains them verbatim.
OWNER_EMAIL = "owner.q7x@matrix.example"
OTHER_EMAIL = "other.w2z@matrix.example"
REGISTRATION_NUMBER = "731-29-48156"
ANNUAL_REVENUE = "87654321.09"
CASH_BALANCE = "4242.4242"
HOLDING_QUANTITY = "37.123457"
TRADE_PRICE = "98.765431"
DRAFT_TITLE = "Embargoed call zq41"
DRAFT_BRIEFING_TITLE = "Embargoed briefing k9"
DRAFT_BRIEFING_DATE = date(2025, 12, 30)
AUDIT_MARKER = "audit-marker-5521"
KEY_NAME = "matrix-key-name-77"
SECURITY_PRICE = "123.456789"


# --- The dataset ------------------------------------------------------------------------


@dataclass
class Dataset:
    users: dict[str, int]
    business: int
    other_business: int
    published_call: int
    open_call: int
    draft_call: int
    application: int
    portfolio: int
    transaction: int
    draft_briefing: int
    audit_log: int
    api_key: int
    api_key_prefix: str
    keys: dict[str, str] = field(default_factory=dict)

    def gid(self, type_name: str, attr: str) -> str:
        return encode_id(type_name, getattr(self, attr))

    def user(self, name: str) -> str:
        return encode_id("User", self.users[name])


_password_hash: list[str] = []


async def _hash() -> str:
    """One real Argon2 hash of PASSWORD, reused for every account (logins verify it)."""
    if not _password_hash:
        _password_hash.append(await hash_password(PASSWORD))
    return _password_hash[0]


async def build(engine: AsyncEngine) -> Dataset:
    now = datetime.now(UTC)
    password_hash = await _hash()

    display_names = {
        OWNER_EMAIL: "Owner Person",
        OTHER_EMAIL: "Other Person",
        "editor.e5@matrix.example": "Editor Person",
        "admin.a3@matrix.example": "Admin Person",
    }

    def account(email: str, role: Role) -> dict[str, Any]:
        return {
            "email": email,
            "password_hash": password_hash,
            "display_name": display_names[email],
            "role": role,
        }

    async with engine.begin() as conn:

        async def add(model: Any, row: dict[str, Any]) -> int:
            return int((await conn.execute(insert(model).returning(model.id), [row])).scalar_one())

        users = {
            "member": await add(User, account(OWNER_EMAIL, Role.MEMBER)),
            "other_member": await add(User, account(OTHER_EMAIL, Role.MEMBER)),
            "editor": await add(User, account("editor.e5@matrix.example", Role.EDITOR)),
            "admin": await add(User, account("admin.a3@matrix.example", Role.ADMIN)),
        }
        business = {
            "industry": "software",
            "size": BusinessSize.SMALL,
            "region": "Seoul",
            "employee_count": 12,
        }
        business_id = await add(
            Business,
            {
                **business,
                "name": "Owner Works",
                "registration_number": REGISTRATION_NUMBER,
                "annual_revenue": Decimal(ANNUAL_REVENUE),
                "owner_id": users["member"],
            },
        )
        other_business_id = await add(
            Business,
            {
                **business,
                "name": "Other Works",
                "registration_number": "555-55-55555",
                "annual_revenue": Decimal("1000.00"),
                "owner_id": users["other_member"],
            },
        )
        call = {
            "body": "Support for small software companies.",
            "organization": "Ministry of SMEs",
            "category": "funding",
            "opens_at": now - timedelta(days=5),
            "closes_at": now + timedelta(days=30),
        }
        published = {**call, "status": AnnouncementStatus.PUBLISHED, "published_at": now}
        published_call = await add(Announcement, {**published, "title": "Open call A"})
        open_call = await add(Announcement, {**published, "title": "Open call B"})
        draft_call = await add(
            Announcement, {**call, "title": DRAFT_TITLE, "status": AnnouncementStatus.DRAFT}
        )
        application = await add(
            Application,
            {
                "business_id": business_id,
                "announcement_id": published_call,
                "status": ApplicationStatus.SUBMITTED,
            },
        )
        security = await add(
            Security,
            {
                "symbol": "MTRX",
                "name": "Matrix Corp",
                "market": "NASDAQ",
                "currency": "USD",
                "last_price": Decimal(SECURITY_PRICE),
                "price_updated_at": now,
            },
        )
        portfolio = await add(
            Portfolio,
            {
                "owner_id": users["member"],
                "name": "Owner Retirement",
                "base_currency": "USD",
                "cash_balance": Decimal(CASH_BALANCE),
            },
        )
        await conn.execute(
            insert(Holding),
            [
                {
                    "portfolio_id": portfolio,
                    "security_id": security,
                    "quantity": Decimal(HOLDING_QUANTITY),
                    "average_cost": Decimal(TRADE_PRICE),
                }
            ],
        )
        transaction = await add(
            Transaction,
            {
                "portfolio_id": portfolio,
                "security_id": security,
                "side": TradeSide.BUY,
                "quantity": Decimal(HOLDING_QUANTITY),
                "price": Decimal(TRADE_PRICE),
            },
        )
        briefing = {
            "summary": "Markets summary.",
            "narrative": "Markets narrative.",
            "top_keywords": {"rates": 0.9},
        }
        await add(
            Briefing,
            {
                **briefing,
                "date": DRAFT_BRIEFING_DATE - timedelta(days=1),
                "title": "Published briefing",
                "status": BriefingStatus.PUBLISHED,
                "published_at": now,
            },
        )
        draft_briefing = await add(
            Briefing,
            {
                **briefing,
                "date": DRAFT_BRIEFING_DATE,
                "title": DRAFT_BRIEFING_TITLE,
                "status": BriefingStatus.DRAFT,
            },
        )
        audit_log = await add(
            AuditLog,
            {
                "actor_user_id": users["admin"],
                "action": "matrix.probe",
                "success": True,
                "details": {"marker": AUDIT_MARKER},
            },
        )
        issued = generate_key()
        api_key = await add(
            ApiKey,
            {
                "name": KEY_NAME,
                "prefix": issued.prefix,
                "key_hash": issued.key_hash,
                "scopes": ["prices:write"],
                "created_by_id": users["admin"],
                "expires_at": now + timedelta(days=30),
            },
        )
        keys: dict[str, str] = {}
        for principal, scopes, expires_at in [
            *((p, s, now + timedelta(days=30)) for p, s in KEY_SCOPES.items()),
            ("key_revoked", ALL_SCOPES, now + timedelta(days=30)),
            ("key_expired", ALL_SCOPES, now - timedelta(seconds=5)),
        ]:
            issued_for = generate_key()
            await add(
                ApiKey,
                {
                    "name": principal,
                    "prefix": issued_for.prefix,
                    "key_hash": issued_for.key_hash,
                    "scopes": scopes,
                    "created_by_id": users["admin"],
                    "expires_at": expires_at,
                },
            )
            keys[principal] = issued_for.raw
    return Dataset(
        users=users,
        business=business_id,
        other_business=other_business_id,
        published_call=published_call,
        open_call=open_call,
        draft_call=draft_call,
        application=application,
        portfolio=portfolio,
        transaction=transaction,
        draft_briefing=draft_briefing,
        audit_log=audit_log,
        api_key=api_key,
        api_key_prefix=issued.prefix,
        keys=keys,
    )


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


REVOKE = "mutation ($id: ID!) { revokeApiKey(id: $id) { errors { code } apiKey { revokedAt } } }"


async def credentials(client: httpx.AsyncClient, ds: Dataset, principal: str) -> dict[str, str]:
    """Real credentials for `principal`: a login for users, an API key for services."""
    if principal == "anonymous":
        return {}
    if principal in ds.users:
        email = {
            "member": OWNER_EMAIL,
            "other_member": OTHER_EMAIL,
            "editor": "editor.e5@matrix.example",
            "admin": "admin.a3@matrix.example",
        }[principal]
        signed_in = await login(client, email)
        assert signed_in["errors"] == [], signed_in
        return bearer(signed_in["accessToken"])
    headers = {"X-API-Key": ds.keys[principal]}
    if principal == "key_revoked":
        # Used once (so a cache knows it as valid), then revoked by an admin.
        used = await post(client, "{ __typename }", {}, headers)
        assert used.status_code == 200, used.text
        admin = await credentials(client, ds, "admin")
        key_id = await _key_id(client, admin, principal)
        revoked = await post(client, REVOKE, {"id": key_id}, admin)
        assert revoked.json()["data"]["revokeApiKey"]["errors"] == [], revoked.text
    return headers


async def _key_id(client: httpx.AsyncClient, admin: dict[str, str], name: str) -> str:
    listing = await post(client, "{ apiKeys { id name } }", {}, admin)
    [key_id] = [k["id"] for k in listing.json()["data"]["apiKeys"] if k["name"] == name]
    return str(key_id)


# Tables a denied mutation must leave alone (the audit log may record the attempt; the last
# use of a key and of a login are bookkeeping written outside the operation).
CHECKED_TABLES = (
    "users",
    "businesses",
    "announcements",
    "applications",
    "briefings",
    "securities",
    "portfolios",
    "holdings",
    "transactions",
    "api_keys",
)


async def snapshot(engine: AsyncEngine) -> dict[str, list[str]]:
    state: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for table in CHECKED_TABLES:
            # Table names are this module's constants, never input.
            rows = await conn.execute(
                text(
                    f"SELECT (to_jsonb(t) - 'last_used_at' - 'last_login_at')::text AS r "
                    f"FROM {table} t ORDER BY r"
                )
            )
            state[table] = [row[0] for row in rows]
    return state


# --- The probes: how each row of the matrix is exercised --------------------------------

Data = dict[str, Any]


def dig(data: Any, *path: str | int) -> Any:
    for step in path:
        if data is None:
            return None
        data = data[step]
    return data


def dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


@dataclass(frozen=True)
class Probe:
    """One protected field or operation, and how to tell its outcomes apart."""

    name: str
    query: str
    variables: Callable[[Dataset], dict[str, Any]]
    # pick(data) is compared with want(ds) on DATA, with `hidden` on HIDE.
    pick: Callable[[Data], Any]
    want: Callable[[Dataset], Any]
    # Never in the text of a denied response.
    secrets: Callable[[Dataset], tuple[str, ...]]
    root: str
    hidden: Any = None
    # FORBIDDEN paths when the denial is on a field below the root; the rest resolves.
    denied: tuple[tuple[str, ...], ...] = ()
    public: Callable[[Data], Any] | None = None
    public_want: Any = None
    # Mutations: the payload's data part (null on a UserError); the database must not change.
    result: str | None = None
    # Variables naming an object that does not exist: NOT_FOUND must look the same.
    missing: Callable[[Dataset], dict[str, Any]] | None = None

    @property
    def is_mutation(self) -> bool:
        return self.query.lstrip().startswith("mutation")


def missing_id(type_name: str, var: str = "id") -> Callable[[Dataset], dict[str, Any]]:
    return lambda ds: {var: encode_id(type_name, MISSING_PK)}


def ids_of(connection: Any) -> list[str]:
    return [edge["node"]["id"] for edge in (connection or {}).get("edges", [])]


NODE = "query ($id: ID!) {{ node(id: $id) {{ id {fragment} }} }}"
ANNOUNCEMENT_LISTS = """
{
  all: announcements(first: 100) { totalCount edges { node { id title status } } }
  drafts: announcements(first: 100, filter: {status: [DRAFT]}) {
    totalCount edges { node { id title status } }
  }
}
"""
ANNOUNCEMENT_FIELDS = "id title status"
BUSINESS_FIELDS = "id name registrationNumber annualRevenue"
PORTFOLIO_FIELDS = "id name cashBalance holdings { quantity }"

DRAFTS_IN_ANNOUNCEMENT_LISTS = Probe(
    name="announcements: drafts in lists",
    query=ANNOUNCEMENT_LISTS,
    variables=lambda ds: {},
    pick=lambda d: (
        [
            e["node"]["title"]
            for alias in ("all", "drafts")
            for e in d[alias]["edges"]
            if e["node"]["status"] == "DRAFT"
        ],
        d["all"]["totalCount"],
        d["drafts"]["totalCount"],
    ),
    want=lambda ds: ([DRAFT_TITLE, DRAFT_TITLE], 3, 1),
    hidden=([], 2, 0),
    secrets=lambda ds: (DRAFT_TITLE, ds.gid("Announcement", "draft_call")),
    root="announcements",
)
DRAFT_ANNOUNCEMENT_BY_ID = Probe(
    name="node(draft Announcement)",
    query=NODE.format(fragment="... on Announcement { title status }"),
    variables=lambda ds: {"id": ds.gid("Announcement", "draft_call")},
    pick=lambda d: dig(d, "node", "title"),
    want=lambda ds: DRAFT_TITLE,
    secrets=lambda ds: (DRAFT_TITLE,),
    root="node",
    missing=missing_id("Announcement"),
)
CREATE_ANNOUNCEMENT = Probe(
    name="createAnnouncement",
    query="""
    mutation ($input: CreateAnnouncementInput!) {
      createAnnouncement(input: $input) {
        announcement { id title status } errors { field code }
      }
    }
    """,
    variables=lambda ds: {
        "input": {
            "title": "Matrix new call",
            "body": "Body.",
            "organization": "Ministry of SMEs",
            "category": "funding",
        }
    },
    pick=lambda d: dig(d, "createAnnouncement", "announcement", "title"),
    want=lambda ds: "Matrix new call",
    secrets=lambda ds: (DRAFT_TITLE,),
    root="createAnnouncement",
    result="announcement",
)
UPDATE_DRAFT_ANNOUNCEMENT = Probe(
    name="updateAnnouncement(draft)",
    query="""
    mutation ($id: ID!, $input: UpdateAnnouncementInput!) {
      updateAnnouncement(id: $id, input: $input) {
        announcement { id title body status } errors { field code }
      }
    }
    """,
    variables=lambda ds: {
        "id": ds.gid("Announcement", "draft_call"),
        "input": {"body": "Rewritten body."},
    },
    pick=lambda d: (
        dig(d, "updateAnnouncement", "announcement", "title"),
        dig(d, "updateAnnouncement", "announcement", "body"),
    ),
    want=lambda ds: (DRAFT_TITLE, "Rewritten body."),
    secrets=lambda ds: (DRAFT_TITLE,),
    root="updateAnnouncement",
    result="announcement",
)
PUBLISH_DRAFT_ANNOUNCEMENT = Probe(
    name="publishAnnouncement(draft)",
    query="""
    mutation ($id: ID!) {
      publishAnnouncement(id: $id) { announcement { id title status } errors { field code } }
    }
    """,
    variables=lambda ds: {"id": ds.gid("Announcement", "draft_call")},
    pick=lambda d: (
        dig(d, "publishAnnouncement", "announcement", "title"),
        dig(d, "publishAnnouncement", "announcement", "status"),
    ),
    want=lambda ds: (DRAFT_TITLE, "PUBLISHED"),
    secrets=lambda ds: (DRAFT_TITLE,),
    root="publishAnnouncement",
    result="announcement",
)


def business_field(fragment: str, pick: Callable[[Data], Any], want: Any) -> Probe:
    return Probe(
        name=f"Business.{fragment.split()[0]} (node)",
        query=NODE.format(fragment=f"... on Business {{ name {fragment} }}"),
        variables=lambda ds: {"id": ds.gid("Business", "business")},
        pick=pick,
        want=want,
        secrets=lambda ds: (
            REGISTRATION_NUMBER,
            ANNUAL_REVENUE,
            ds.gid("Application", "application"),
        ),
        root="node",
        denied=(("node", fragment.split()[0]),),
        public=lambda d: dig(d, "node", "name"),
        public_want="Owner Works",
    )


REGISTRATION_NUMBER_BY_ID = business_field(
    "registrationNumber",
    lambda d: dig(d, "node", "registrationNumber"),
    lambda ds: REGISTRATION_NUMBER,
)
ANNUAL_REVENUE_BY_ID = business_field(
    "annualRevenue",
    lambda d: dec(dig(d, "node", "annualRevenue")),
    lambda ds: Decimal(ANNUAL_REVENUE),
)
APPLICATIONS_BY_ID = business_field(
    "applications { totalCount edges { node { id status } } }",
    lambda d: ids_of(dig(d, "node", "applications")),
    lambda ds: [ds.gid("Application", "application")],
)
SENSITIVE_FIELDS_IN_BUSINESS_LIST = Probe(
    name="businesses list: registrationNumber, annualRevenue",
    query="""
    { businesses(first: 100, filter: {namePrefix: "Owner W"}) {
        edges { node { name registrationNumber annualRevenue } } } }
    """,
    variables=lambda ds: {},
    pick=lambda d: (
        dig(d, "businesses", "edges", 0, "node", "registrationNumber"),
        dec(dig(d, "businesses", "edges", 0, "node", "annualRevenue")),
    ),
    want=lambda ds: (REGISTRATION_NUMBER, Decimal(ANNUAL_REVENUE)),
    secrets=lambda ds: (REGISTRATION_NUMBER, ANNUAL_REVENUE),
    root="businesses",
    denied=(
        ("businesses", "edges", 0, "node", "registrationNumber"),
        ("businesses", "edges", 0, "node", "annualRevenue"),
    ),
    public=lambda d: [e["node"]["name"] for e in d["businesses"]["edges"]],
    public_want=["Owner Works"],
)
APPLICATION_BY_ID = Probe(
    name="node(Application)",
    query=NODE.format(
        fragment="... on Application { status business { name registrationNumber } }"
    ),
    variables=lambda ds: {"id": ds.gid("Application", "application")},
    pick=lambda d: (dig(d, "node", "status"), dig(d, "node", "business", "registrationNumber")),
    want=lambda ds: ("SUBMITTED", REGISTRATION_NUMBER),
    secrets=lambda ds: (REGISTRATION_NUMBER, "Owner Works"),
    root="node",
    missing=missing_id("Application"),
)
BUSINESS_PAYLOAD = "business { name registrationNumber annualRevenue employeeCount owner { id } }"
CREATE_BUSINESS = (
    "mutation ($input: CreateBusinessInput!) { createBusiness(input: $input) { "
    + BUSINESS_PAYLOAD
    + " errors { field code } } }"
)
NEW_BUSINESS = {
    "name": "Matrix New Co",
    "registrationNumber": "222-33-44444",
    "industry": "software",
    "size": "MICRO",
    "region": "Seoul",
}
CREATE_OWN_BUSINESS = Probe(
    name="createBusiness (for oneself)",
    query=CREATE_BUSINESS,
    variables=lambda ds: {"input": NEW_BUSINESS},
    pick=lambda d: dig(d, "createBusiness", "business", "name"),
    want=lambda ds: "Matrix New Co",
    secrets=lambda ds: (REGISTRATION_NUMBER, ANNUAL_REVENUE, "222-33-44444"),
    root="createBusiness",
    result="business",
)
CREATE_BUSINESS_FOR_MEMBER = Probe(
    name="createBusiness (owner: member)",
    query=CREATE_BUSINESS,
    variables=lambda ds: {"input": {**NEW_BUSINESS, "ownerId": ds.user("member")}},
    pick=lambda d: dig(d, "createBusiness", "business", "owner", "id"),
    want=lambda ds: ds.user("member"),
    secrets=lambda ds: (REGISTRATION_NUMBER, ANNUAL_REVENUE, "222-33-44444"),
    root="createBusiness",
    result="business",
)
UPDATE_MEMBERS_BUSINESS = Probe(
    name="updateBusiness (member's)",
    query=(
        "mutation ($id: ID!, $input: UpdateBusinessInput!) { updateBusiness(id: $id, "
        "input: $input) { " + BUSINESS_PAYLOAD + " errors { field code } } }"
    ),
    variables=lambda ds: {"id": ds.gid("Business", "business"), "input": {"employeeCount": 77}},
    pick=lambda d: (
        dig(d, "updateBusiness", "business", "employeeCount"),
        dig(d, "updateBusiness", "business", "registrationNumber"),
    ),
    want=lambda ds: (77, REGISTRATION_NUMBER),
    secrets=lambda ds: (REGISTRATION_NUMBER, ANNUAL_REVENUE, "Owner Works"),
    root="updateBusiness",
    result="business",
)
APPLY_WITH_MEMBERS_BUSINESS = Probe(
    name="applyToAnnouncement (member's business)",
    query="""
    mutation ($b: ID!, $a: ID!) {
      applyToAnnouncement(businessId: $b, announcementId: $a) {
        application { status business { name registrationNumber } } errors { field code }
      }
    }
    """,
    variables=lambda ds: {
        "b": ds.gid("Business", "business"),
        "a": ds.gid("Announcement", "open_call"),
    },
    pick=lambda d: (
        dig(d, "applyToAnnouncement", "application", "status"),
        dig(d, "applyToAnnouncement", "application", "business", "registrationNumber"),
    ),
    want=lambda ds: ("SUBMITTED", REGISTRATION_NUMBER),
    secrets=lambda ds: (REGISTRATION_NUMBER, ANNUAL_REVENUE, "Owner Works"),
    root="applyToAnnouncement",
    result="application",
)
DECIDE_APPLICATION = Probe(
    name="decideApplication",
    query="""
    mutation ($id: ID!) {
      decideApplication(id: $id, status: APPROVED) {
        application { status business { registrationNumber } } errors { field code }
      }
    }
    """,
    variables=lambda ds: {"id": ds.gid("Application", "application")},
    pick=lambda d: (
        dig(d, "decideApplication", "application", "status"),
        dig(d, "decideApplication", "application", "business", "registrationNumber"),
    ),
    want=lambda ds: ("APPROVED", REGISTRATION_NUMBER),
    secrets=lambda ds: (REGISTRATION_NUMBER, ANNUAL_REVENUE),
    root="decideApplication",
    result="application",
)
PORTFOLIO_SECRETS: Callable[[Dataset], tuple[str, ...]] = lambda ds: (  # noqa: E731
    CASH_BALANCE,
    HOLDING_QUANTITY,
    TRADE_PRICE,
    "Owner Retirement",
    ds.gid("Transaction", "transaction"),
)
PORTFOLIO_BY_ID = Probe(
    name="portfolio(id)",
    query="query ($id: ID!) { portfolio(id: $id) { id name cashBalance } }",
    variables=lambda ds: {"id": ds.gid("Portfolio", "portfolio")},
    pick=lambda d: dec(dig(d, "portfolio", "cashBalance")),
    want=lambda ds: Decimal(CASH_BALANCE),
    secrets=PORTFOLIO_SECRETS,
    root="portfolio",
    missing=missing_id("Portfolio"),
)
PORTFOLIO_BY_NODE = Probe(
    name="node(Portfolio)",
    query=NODE.format(fragment="... on Portfolio { name cashBalance }"),
    variables=lambda ds: {"id": ds.gid("Portfolio", "portfolio")},
    pick=lambda d: dec(dig(d, "node", "cashBalance")),
    want=lambda ds: Decimal(CASH_BALANCE),
    secrets=PORTFOLIO_SECRETS,
    root="node",
    missing=missing_id("Portfolio"),
)
PORTFOLIO_HOLDINGS = Probe(
    name="Portfolio.holdings",
    query="""
    query ($id: ID!) {
      portfolio(id: $id) { holdings { quantity averageCost security { symbol } } }
    }
    """,
    variables=lambda ds: {"id": ds.gid("Portfolio", "portfolio")},
    pick=lambda d: [
        (h["security"]["symbol"], dec(h["quantity"])) for h in dig(d, "portfolio", "holdings")
    ],
    want=lambda ds: [("MTRX", Decimal(HOLDING_QUANTITY))],
    secrets=PORTFOLIO_SECRETS,
    root="portfolio",
    missing=missing_id("Portfolio"),
)
PORTFOLIO_TRANSACTIONS = Probe(
    name="Portfolio.transactions",
    query="""
    query ($id: ID!) {
      portfolio(id: $id) { transactions { totalCount edges { node { id price quantity } } } }
    }
    """,
    variables=lambda ds: {"id": ds.gid("Portfolio", "portfolio")},
    pick=lambda d: ids_of(dig(d, "portfolio", "transactions")),
    want=lambda ds: [ds.gid("Transaction", "transaction")],
    secrets=PORTFOLIO_SECRETS,
    root="portfolio",
    missing=missing_id("Portfolio"),
)
TRANSACTION_BY_NODE = Probe(
    name="node(Transaction)",
    query=NODE.format(fragment="... on Transaction { price quantity }"),
    variables=lambda ds: {"id": ds.gid("Transaction", "transaction")},
    pick=lambda d: dec(dig(d, "node", "price")),
    want=lambda ds: Decimal(TRADE_PRICE),
    secrets=lambda ds: (TRADE_PRICE, HOLDING_QUANTITY),
    root="node",
    missing=missing_id("Transaction"),
)
USER_PORTFOLIOS = Probe(
    name="User.portfolios",
    query=NODE.format(fragment="... on User { displayName portfolios { name cashBalance } }"),
    variables=lambda ds: {"id": ds.user("member")},
    pick=lambda d: [dec(p["cashBalance"]) for p in dig(d, "node", "portfolios")],
    want=lambda ds: [Decimal(CASH_BALANCE)],
    secrets=PORTFOLIO_SECRETS,
    root="node",
    denied=(("node", "portfolios"),),
    public=lambda d: dig(d, "node", "displayName"),
    public_want="Owner Person",
)
PLACE_TRADE = Probe(
    name="placeTrade (member's portfolio)",
    query="""
    mutation ($input: PlaceTradeInput!) {
      placeTrade(input: $input) {
        transaction { price quantity side }
        portfolio { cashBalance holdings { quantity } }
        errors { field code }
      }
    }
    """,
    variables=lambda ds: {
        "input": {
            "portfolioId": ds.gid("Portfolio", "portfolio"),
            "symbol": "MTRX",
            "side": "BUY",
            "quantity": "1",
        }
    },
    pick=lambda d: (
        dec(dig(d, "placeTrade", "transaction", "price")),
        dig(d, "placeTrade", "transaction", "side"),
    ),
    want=lambda ds: (Decimal(SECURITY_PRICE), "BUY"),
    secrets=PORTFOLIO_SECRETS,
    root="placeTrade",
    result="transaction",
)
USER_EMAIL = Probe(
    name="User.email (node)",
    query=NODE.format(fragment="... on User { displayName email }"),
    variables=lambda ds: {"id": ds.user("member")},
    pick=lambda d: dig(d, "node", "email"),
    want=lambda ds: OWNER_EMAIL,
    secrets=lambda ds: (OWNER_EMAIL, "matrix.example"),
    root="node",
    denied=(("node", "email"),),
    public=lambda d: dig(d, "node", "displayName"),
    public_want="Owner Person",
)
OWNER_EMAIL_VIA_BUSINESS = Probe(
    name="Business.owner.email",
    query=NODE.format(fragment="... on Business { name owner { displayName email } }"),
    variables=lambda ds: {"id": ds.gid("Business", "business")},
    pick=lambda d: dig(d, "node", "owner", "email"),
    want=lambda ds: OWNER_EMAIL,
    secrets=lambda ds: (OWNER_EMAIL, "matrix.example"),
    root="node",
    denied=(("node", "owner", "email"),),
    public=lambda d: dig(d, "node", "owner", "displayName"),
    public_want="Owner Person",
)
UPSERT_BRIEFING = Probe(
    name="upsertBriefing",
    query="""
    mutation ($input: BriefingInput!) {
      upsertBriefing(input: $input) { briefing { title status } changed errors { field code } }
    }
    """,
    variables=lambda ds: {
        "input": {
            "date": DRAFT_BRIEFING_DATE.isoformat(),
            "title": "Rewritten briefing",
            "summary": "S.",
            "narrative": "N.",
            "topKeywords": [{"keyword": "rates", "score": 0.5}],
        }
    },
    pick=lambda d: (
        dig(d, "upsertBriefing", "briefing", "title"),
        dig(d, "upsertBriefing", "changed"),
    ),
    want=lambda ds: ("Rewritten briefing", True),
    secrets=lambda ds: (DRAFT_BRIEFING_TITLE,),
    root="upsertBriefing",
    result="briefing",
)
DRAFTS_IN_BRIEFING_LIST = Probe(
    name="briefings: drafts in the list",
    query="{ briefings(first: 100) { totalCount edges { node { id title status } } } }",
    variables=lambda ds: {},
    pick=lambda d: (
        [e["node"]["title"] for e in d["briefings"]["edges"] if e["node"]["status"] == "DRAFT"],
        d["briefings"]["totalCount"],
    ),
    want=lambda ds: ([DRAFT_BRIEFING_TITLE], 2),
    hidden=([], 1),
    secrets=lambda ds: (DRAFT_BRIEFING_TITLE, ds.gid("Briefing", "draft_briefing")),
    root="briefings",
)
DRAFT_BRIEFING_BY_DATE = Probe(
    name="briefing(date) of a draft",
    query="query ($d: Date!) { briefing(date: $d) { id title status } }",
    variables=lambda ds: {"d": DRAFT_BRIEFING_DATE.isoformat()},
    pick=lambda d: dig(d, "briefing", "title"),
    want=lambda ds: DRAFT_BRIEFING_TITLE,
    secrets=lambda ds: (DRAFT_BRIEFING_TITLE, ds.gid("Briefing", "draft_briefing")),
    root="briefing",
)
DRAFT_BRIEFING_BY_ID = Probe(
    name="node(draft Briefing)",
    query=NODE.format(fragment="... on Briefing { title status }"),
    variables=lambda ds: {"id": ds.gid("Briefing", "draft_briefing")},
    pick=lambda d: dig(d, "node", "title"),
    want=lambda ds: DRAFT_BRIEFING_TITLE,
    secrets=lambda ds: (DRAFT_BRIEFING_TITLE,),
    root="node",
    missing=missing_id("Briefing"),
)
UPDATE_PRICES = Probe(
    name="updatePrices",
    query="""
    mutation ($prices: [PriceInput!]!) {
      updatePrices(prices: $prices) { updatedCount securities { symbol lastPrice } errors { code } }
    }
    """,
    variables=lambda ds: {"prices": [{"symbol": "MTRX", "price": "150.25"}]},
    pick=lambda d: [
        (s["symbol"], dec(s["lastPrice"])) for s in dig(d, "updatePrices", "securities")
    ],
    want=lambda ds: [("MTRX", Decimal("150.25"))],
    secrets=lambda ds: ("150.25",),
    root="updatePrices",
    result="securities",
)
AUDIT_LOGS = Probe(
    name="auditLogs",
    query="{ auditLogs(first: 100) { edges { node { id action details } } } }",
    variables=lambda ds: {},
    pick=lambda d: [
        e["node"]["details"]
        for e in d["auditLogs"]["edges"]
        if e["node"]["action"] == "matrix.probe"
    ],
    want=lambda ds: [{"marker": AUDIT_MARKER}],
    secrets=lambda ds: (AUDIT_MARKER, "matrix.probe"),
    root="auditLogs",
)
AUDIT_LOG_BY_ID = Probe(
    name="node(AuditLog)",
    query=NODE.format(fragment="... on AuditLog { action details }"),
    variables=lambda ds: {"id": ds.gid("AuditLog", "audit_log")},
    pick=lambda d: dig(d, "node", "details"),
    want=lambda ds: {"marker": AUDIT_MARKER},
    secrets=lambda ds: (AUDIT_MARKER, "matrix.probe"),
    root="node",
    missing=missing_id("AuditLog"),
)
API_KEY_SECRETS: Callable[[Dataset], tuple[str, ...]] = lambda ds: (  # noqa: E731
    KEY_NAME,
    ds.api_key_prefix,
    "gak_",
)
API_KEYS = Probe(
    name="apiKeys",
    query="{ apiKeys { id name prefix scopes } }",
    variables=lambda ds: {},
    pick=lambda d: [k["prefix"] for k in d["apiKeys"] if k["name"] == KEY_NAME],
    want=lambda ds: [ds.api_key_prefix],
    secrets=API_KEY_SECRETS,
    root="apiKeys",
)
API_KEY_BY_ID = Probe(
    name="node(ApiKey)",
    query=NODE.format(fragment="... on ApiKey { name prefix }"),
    variables=lambda ds: {"id": ds.gid("ApiKey", "api_key")},
    pick=lambda d: dig(d, "node", "prefix"),
    want=lambda ds: ds.api_key_prefix,
    secrets=API_KEY_SECRETS,
    root="node",
    missing=missing_id("ApiKey"),
)
CREATE_API_KEY = Probe(
    name="createApiKey",
    query="""
    mutation ($input: CreateApiKeyInput!) {
      createApiKey(input: $input) { secret apiKey { name scopes } errors { field code } }
    }
    """,
    variables=lambda ds: {"input": {"name": "matrix-created", "scopes": ["PRICES_WRITE"]}},
    pick=lambda d: (
        dig(d, "createApiKey", "apiKey", "name"),
        str(dig(d, "createApiKey", "secret")).startswith("gak_"),
    ),
    want=lambda ds: ("matrix-created", True),
    secrets=lambda ds: ("gak_", KEY_NAME),
    root="createApiKey",
    result="apiKey",
)
ROTATE_API_KEY = Probe(
    name="rotateApiKey",
    query="""
    mutation ($id: ID!) {
      rotateApiKey(id: $id) { secret apiKey { name rotatedFrom { id } } errors { field code } }
    }
    """,
    variables=lambda ds: {"id": ds.gid("ApiKey", "api_key")},
    pick=lambda d: (
        dig(d, "rotateApiKey", "apiKey", "name"),
        dig(d, "rotateApiKey", "apiKey", "rotatedFrom", "id"),
    ),
    want=lambda ds: (KEY_NAME, ds.gid("ApiKey", "api_key")),
    secrets=API_KEY_SECRETS,
    root="rotateApiKey",
    result="apiKey",
)
REVOKE_API_KEY = Probe(
    name="revokeApiKey",
    query="""
    mutation ($id: ID!) {
      revokeApiKey(id: $id) { apiKey { name prefix revokedAt } errors { field code } }
    }
    """,
    variables=lambda ds: {"id": ds.gid("ApiKey", "api_key")},
    pick=lambda d: (
        dig(d, "revokeApiKey", "apiKey", "name"),
        dig(d, "revokeApiKey", "apiKey", "revokedAt") is not None,
    ),
    want=lambda ds: (KEY_NAME, True),
    secrets=API_KEY_SECRETS,
    root="revokeApiKey",
    result="apiKey",
)
SET_USER_ROLE = Probe(
    name="setUserRole",
    query="""
    mutation ($id: ID!) {
      setUserRole(userId: $id, role: EDITOR) { user { id role email } errors { field code } }
    }
    """,
    variables=lambda ds: {"id": ds.user("other_member")},
    pick=lambda d: (dig(d, "setUserRole", "user", "role"), dig(d, "setUserRole", "user", "email")),
    want=lambda ds: ("EDITOR", OTHER_EMAIL),
    secrets=lambda ds: (OTHER_EMAIL, "EDITOR"),
    root="setUserRole",
    result="user",
)


# --- THE TABLE --------------------------------------------------------------------------
# One row per protected field or operation of DESIGN.md's permission table; one column per
# principal, in the order of PRINCIPALS (mmbr: the member who owns the data; othr: another
# member; kbrf/kprc/kann: keys with briefings:/prices:/announcements:write; rvkd/xprd:
# revoked and expired keys). The contract for anonymous callers differs by
# operation as the schema documents it: operations that need a user (portfolios, trading)
# and the service-writable ones (briefings, prices) answer UNAUTHENTICATED; the rest FORBIDDEN.

# fmt: off
MATRIX: tuple[tuple[Probe, str], ...] = (
    #                                     anon mmbr othr edtr admn kbrf kprc kann rvkd xprd
    (DRAFTS_IN_ANNOUNCEMENT_LISTS,       "HIDE HIDE HIDE DATA DATA HIDE HIDE DATA 401  401"),
    (DRAFT_ANNOUNCEMENT_BY_ID,           "NOTF NOTF NOTF DATA DATA NOTF NOTF DATA 401  401"),
    (CREATE_ANNOUNCEMENT,                "FORB FORB FORB DATA DATA FORB FORB DATA 401  401"),
    (UPDATE_DRAFT_ANNOUNCEMENT,          "FORB FORB FORB DATA DATA FORB FORB DATA 401  401"),
    (PUBLISH_DRAFT_ANNOUNCEMENT,         "FORB FORB FORB DATA DATA FORB FORB DATA 401  401"),
    (REGISTRATION_NUMBER_BY_ID,          "FORB DATA FORB DATA DATA FORB FORB FORB 401  401"),
    (ANNUAL_REVENUE_BY_ID,               "FORB DATA FORB DATA DATA FORB FORB FORB 401  401"),
    (APPLICATIONS_BY_ID,                 "FORB DATA FORB DATA DATA FORB FORB FORB 401  401"),
    (SENSITIVE_FIELDS_IN_BUSINESS_LIST,  "FORB DATA FORB DATA DATA FORB FORB FORB 401  401"),
    (APPLICATION_BY_ID,                  "NOTF DATA NOTF DATA DATA NOTF NOTF NOTF 401  401"),
    (CREATE_OWN_BUSINESS,                "FORB DATA DATA DATA DATA FORB FORB FORB 401  401"),
    (CREATE_BUSINESS_FOR_MEMBER,         "FORB DATA E-IV DATA DATA FORB FORB FORB 401  401"),
    (UPDATE_MEMBERS_BUSINESS,            "FORB DATA E-NF DATA DATA FORB FORB FORB 401  401"),
    (APPLY_WITH_MEMBERS_BUSINESS,        "FORB DATA E-NF DATA DATA FORB FORB FORB 401  401"),
    (DECIDE_APPLICATION,                 "FORB FORB FORB DATA DATA FORB FORB FORB 401  401"),
    (PORTFOLIO_BY_ID,                    "NOTF DATA NOTF NOTF DATA NOTF NOTF NOTF 401  401"),
    (PORTFOLIO_BY_NODE,                  "NOTF DATA NOTF NOTF DATA NOTF NOTF NOTF 401  401"),
    (PORTFOLIO_HOLDINGS,                 "NOTF DATA NOTF NOTF DATA NOTF NOTF NOTF 401  401"),
    (PORTFOLIO_TRANSACTIONS,             "NOTF DATA NOTF NOTF DATA NOTF NOTF NOTF 401  401"),
    (TRANSACTION_BY_NODE,                "NOTF DATA NOTF NOTF DATA NOTF NOTF NOTF 401  401"),
    (USER_PORTFOLIOS,                    "FORB DATA FORB FORB DATA FORB FORB FORB 401  401"),
    (PLACE_TRADE,                        "UNAU DATA E-NF E-NF E-NF UNAU UNAU UNAU 401  401"),
    (USER_EMAIL,                         "FORB DATA FORB FORB DATA FORB FORB FORB 401  401"),
    (OWNER_EMAIL_VIA_BUSINESS,           "FORB DATA FORB FORB DATA FORB FORB FORB 401  401"),
    (UPSERT_BRIEFING,                    "UNAU FORB FORB FORB DATA DATA FORB FORB 401  401"),
    (DRAFTS_IN_BRIEFING_LIST,            "HIDE HIDE HIDE HIDE DATA DATA HIDE HIDE 401  401"),
    (DRAFT_BRIEFING_BY_DATE,             "HIDE HIDE HIDE HIDE DATA DATA HIDE HIDE 401  401"),
    (DRAFT_BRIEFING_BY_ID,               "NOTF NOTF NOTF NOTF DATA DATA NOTF NOTF 401  401"),
    (UPDATE_PRICES,                      "UNAU FORB FORB FORB DATA FORB DATA FORB 401  401"),
    (AUDIT_LOGS,                         "FORB FORB FORB FORB DATA FORB FORB FORB 401  401"),
    (AUDIT_LOG_BY_ID,                    "NOTF NOTF NOTF NOTF DATA NOTF NOTF NOTF 401  401"),
    (API_KEYS,                           "FORB FORB FORB FORB DATA FORB FORB FORB 401  401"),
    (API_KEY_BY_ID,                      "NOTF NOTF NOTF NOTF DATA NOTF NOTF NOTF 401  401"),
    (CREATE_API_KEY,                     "FORB FORB FORB FORB DATA FORB FORB FORB 401  401"),
    (ROTATE_API_KEY,                     "FORB FORB FORB FORB DATA FORB FORB FORB 401  401"),
    (REVOKE_API_KEY,                     "FORB FORB FORB FORB DATA FORB FORB FORB 401  401"),
    (SET_USER_ROLE,                      "FORB FORB FORB FORB DATA FORB FORB FORB 401  401"),
)
# fmt: on

OUTCOMES = {"DATA", "HIDE", "FORB", "NOTF", "UNAU", "401"}
# A UserError code in the mutation's payload (and no data).
PAYLOAD_ERRORS = {"E-NF": "NOT_FOUND", "E-IV": "INVALID_VALUE"}


def _cells() -> list[Any]:
    cells = []
    names = [probe.name for probe, _ in MATRIX]
    assert len(set(names)) == len(names), "row names must be unique"
    for probe, outcomes in MATRIX:
        row = outcomes.split()
        assert len(row) == len(PRINCIPALS), (probe.name, row)
        for principal, outcome in zip(PRINCIPALS, row, strict=True):
            assert outcome in OUTCOMES | PAYLOAD_ERRORS.keys(), (probe.name, outcome)
            assert outcome not in PAYLOAD_ERRORS or probe.result, probe.name
            cells.append(pytest.param(probe, principal, outcome, id=f"{probe.name}|{principal}"))
    return cells


CELLS = _cells()


# --- The test ---------------------------------------------------------------------------


def _codes(body: dict[str, Any]) -> list[str | None]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors") or []]


def _paths(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    return sorted(tuple(e.get("path") or ()) for e in body.get("errors") or [])


class World:
    """A database with the dataset, the app serving it, and each principal's credentials."""

    def __init__(self, engine: AsyncEngine, client: httpx.AsyncClient, ds: Dataset) -> None:
        self.engine = engine
        self.client = client
        self.ds = ds
        self.dirty = False
        self._headers: dict[str, dict[str, str]] = {}

    async def headers(self, principal: str) -> dict[str, str]:
        if principal not in self._headers:
            self._headers[principal] = await credentials(self.client, self.ds, principal)
        return self._headers[principal]


@asynccontextmanager
async def shared_world(pg_server: Any, template_db: str, redis_url: str) -> AsyncIterator[World]:
    from graphql_api.face.app import create_app

    name = f"matrix_{uuid.uuid4().hex[:12]}"
    await pg_server.create_database(name, template=template_db)
    engine = create_async_engine(pg_server.url(name))
    settings = Settings(
        env=Environment.TEST,
        database_url=pg_server.url(name),
        redis_url=redis_url,
        jwt_secret="matrix-secret-" + "x" * 40,
        auto_migrate=False,
        seed_demo_data=False,
        rate_limit=False,  # hundreds of probes from one address; tests/test_rate_limit.py
        # On: no cached answer or rows may reach a caller who may not see them (issue 12).
        response_cache=True,
        query_cache=True,
    )
    application = create_app(settings)
    try:
        async with (
            application.router.lifespan_context(application),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=application), base_url="http://testserver"
            ) as client,
        ):
            yield World(engine, client, await build(engine))
    finally:
        await engine.dispose()
        await pg_server.drop_database(name)


class WorldHolder:
    """The module's shared world; replaced when a cell wrote to it (so nothing leaks)."""

    def __init__(self, pg_server: Any, template_db: str, redis_url: str) -> None:
        self.args = (pg_server, template_db, redis_url)
        self.stack = AsyncExitStack()
        self.world: World | None = None

    async def get(self) -> World:
        if self.world is None or self.world.dirty:
            await self.stack.aclose()
            self.stack = AsyncExitStack()
            self.world = await self.stack.enter_async_context(shared_world(*self.args))
        return self.world


@pytest.fixture(scope="module")
async def world_holder(
    pg_server: Any, template_db: str, redis_server: Any
) -> AsyncIterator[WorldHolder]:
    holder = WorldHolder(pg_server, template_db, redis_server.url)
    try:
        yield holder
    finally:
        await holder.stack.aclose()


def _writes(probe: Probe, outcome: str) -> bool:
    """Cells that change the database get a database of their own."""
    return probe.is_mutation and outcome == "DATA"


SHARED_CELLS = [c for c in CELLS if not _writes(c.values[0], c.values[2])]
FRESH_CELLS = [c for c in CELLS if _writes(c.values[0], c.values[2])]


@pytest.mark.parametrize(("probe", "principal", "outcome"), SHARED_CELLS)
async def test_cell(world_holder: WorldHolder, probe: Probe, principal: str, outcome: str) -> None:
    """Reads and refused writes, on the module's dataset (a write would be caught and the
    dataset rebuilt for the next cell)."""
    world = await world_holder.get()
    await check_cell(world, probe, principal, outcome)


@pytest.mark.parametrize(("probe", "principal", "outcome"), FRESH_CELLS)
async def test_writing_cell(
    client: httpx.AsyncClient, engine: AsyncEngine, probe: Probe, principal: str, outcome: str
) -> None:
    """Writes that succeed, each on a fresh database."""
    world = World(engine, client, await build(engine))
    await check_cell(world, probe, principal, outcome)


async def check_cell(world: World, probe: Probe, principal: str, outcome: str) -> None:
    ds, client = world.ds, world.client
    headers = await world.headers(principal)
    before = await snapshot(world.engine) if probe.is_mutation else None

    response = await post(client, probe.query, probe.variables(ds), headers)
    if before is not None and outcome != "DATA" and await snapshot(world.engine) != before:
        world.dirty = True
        pytest.fail(f"{probe.name} as {principal}: the refused mutation wrote: {response.text}")
    raw = response.text
    body = response.json()
    cell = f"{probe.name} as {principal}: expected {outcome}, got {response.status_code} {raw}"

    if outcome == "DATA":
        assert response.status_code == 200, cell
        assert "errors" not in body, cell
        if probe.result is not None:
            assert body["data"][probe.root]["errors"] == [], cell
        assert probe.pick(body["data"]) == probe.want(ds), cell
        if before is not None:
            assert await snapshot(world.engine) != before, f"{cell}\nnothing was written"
        return

    # Every denial: the protected values are nowhere in the response.
    for secret in probe.secrets(ds):
        assert secret not in raw, f"{cell}\nLEAKED {secret!r}"

    if outcome == "401":
        assert response.status_code == 401, cell
        assert _codes(body) == ["UNAUTHENTICATED"], cell
        assert body.get("data") is None, cell
    elif outcome == "HIDE":
        assert response.status_code == 200, cell
        assert "errors" not in body, cell
        assert probe.pick(body["data"]) == probe.hidden, cell
    elif outcome == "FORB":
        assert response.status_code == 200, cell
        denied = probe.denied or ((probe.root,),)
        assert _codes(body) == ["FORBIDDEN"] * len(denied), cell
        assert _paths(body) == sorted(denied), cell
        if probe.public is None:
            assert body["data"] is None or body["data"].get(probe.root) is None, cell
        else:
            # The denied field is null; the rest of the response still resolves.
            for path in denied:
                assert dig(body["data"], *path) is None, cell
            assert probe.public(body["data"]) == probe.public_want, cell
    elif outcome == "UNAU":
        assert response.status_code == 200, cell
        assert _codes(body) == ["UNAUTHENTICATED"], cell
        assert _paths(body) == [(probe.root,)], cell
        assert body["data"] is None or body["data"].get(probe.root) is None, cell
    elif outcome == "NOTF":
        assert response.status_code == 200, cell
        assert _codes(body) == ["NOT_FOUND"], cell
        assert _paths(body) == [(probe.root,)], cell
        assert body["data"] == {probe.root: None}, cell
        assert probe.missing is not None, probe.name
        # Indistinguishable from an object that does not exist.
        absent = await post(client, probe.query, probe.missing(ds), headers)
        assert absent.status_code == 200, absent.text
        same = _canonical(body) == _canonical(absent.json())
        assert same, f"{cell}\nfor a missing object: {absent.text}"
    else:
        code = PAYLOAD_ERRORS[outcome]
        assert response.status_code == 200, cell
        assert "errors" not in body, cell
        payload = body["data"][probe.root]
        assert [e["code"] for e in payload["errors"]] == [code], cell
        assert payload[probe.result] is None, cell


def _canonical(body: dict[str, Any]) -> str:
    """A whole response as sorted JSON, to compare two responses exactly."""
    return json.dumps(body, sort_keys=True)


def test_the_table_covers_every_principal_and_row() -> None:
    """The generated cells: every row times every principal, each cell once."""
    assert len(CELLS) == len(MATRIX) * len(PRINCIPALS)
    assert len(SHARED_CELLS) + len(FRESH_CELLS) == len(CELLS)
    assert {c.values[1] for c in CELLS} == set(PRINCIPALS)
    # Revoked and expired keys are refused for everything.
    assert all(c.values[2] == "401" for c in CELLS if c.values[1] in ("key_revoked", "key_expired"))


# --- The same read cells, from a warm response cache (issue 12) -------------------------

READ_CELLS = [c for c in SHARED_CELLS if not c.values[0].is_mutation]


@pytest.mark.parametrize(("probe", "principal", "outcome"), READ_CELLS)
async def test_read_cell_after_every_principal_read_it(
    world_holder: WorldHolder, probe: Probe, principal: str, outcome: str
) -> None:
    """Every principal reads the probe first, so the cache holds each scope's answer; the
    cell's caller must still get exactly its own (a wrong scope key fails here)."""
    world = await world_holder.get()
    # Credentials first: a login is a write, and a write would empty the cache.
    every = {name: await world.headers(name) for name in PRINCIPALS}
    variables = probe.variables(world.ds)
    asking = {**every[principal], "x-cache-status": "1"}
    for _ in range(3):
        for name in PRINCIPALS:
            await post(world.client, probe.query, variables, every[name])
        served = (await post(world.client, probe.query, variables, asking)).json()
        # A write in between (the API keys' last-use flush, which `apiKeys` runs first)
        # drops or keeps out what it changed: then warm it once more.
        if outcome not in ("DATA", "HIDE") or served["extensions"]["cacheStatus"] == "HIT":
            break
    if outcome in ("DATA", "HIDE"):
        # Answers without errors were stored: the cell's read came from the cache.
        assert served["extensions"]["cacheStatus"] == "HIT", f"{probe.name} as {principal}"
    await check_cell(world, probe, principal, outcome)
