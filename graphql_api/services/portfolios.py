"""Portfolio workflows: price updates, new portfolios and trades (R4, R9, R12).

Trades are serialised per portfolio by a row lock on the portfolio (SELECT ... FOR UPDATE)
taken first in the trade's transaction. Everything that decides a trade (the idempotency
key, cash, the holding) is read after the lock, so concurrent trades on one portfolio see
each other's committed effects: cash is never overdrawn, a holding never oversold, and a
retried key finds the first execution. Trades on different portfolios never wait on each
other. A trade reads the price without locking the security; the KEY SHARE locks of its
foreign keys make it wait for a price batch that holds the security (or the batch wait for
it), never both ways. Concurrent price batches lock their securities in id order, so
overlapping batches queue instead of deadlocking (`writes.update_prices`).

Arithmetic is `graphql_api.core.money`'s; a holding sold to zero is deleted. A refusal is
raised as `Rejected` inside the transaction, so nothing of the workflow is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, NoReturn

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit, events
from graphql_api.core.actor import Actor
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import TradeSide
from graphql_api.core.db.models import Portfolio, Security, Transaction
from graphql_api.core.db.writes import portfolios as writes
from graphql_api.core.errors import DomainError, Rejected, Unauthenticated, UserErrorCode
from graphql_api.core.money import (
    CASH_PLACES,
    MONEY_LIMIT,
    QUANTITY_LIMIT,
    average_cost_after_buy,
    notional_of,
    rounded,
    trade_fee,
)
from graphql_api.core.validation import Checks
from graphql_api.services.inputs import Invalid, accept

PRICES_MAX: Final = 1_000
SYMBOL_MAX: Final = 16
PRICE_MAX: Final = Decimal(10) ** 12
NAME_MAX: Final = 100
CASH_MAX: Final = Decimal(10) ** 12
QUANTITY_MAX: Final = Decimal(10) ** 12
IDEMPOTENCY_KEY_MAX: Final = 64
_CURRENCY: Final = re.compile(r"^[A-Z]{3}$")


# --- Prices ---------------------------------------------------------------------------


async def update_prices(*, db: Database, prices: Sequence[tuple[str, Decimal]]) -> list[Security]:
    """Set the last prices of securities, all or nothing, and notify their holders.

    `prices` is (symbol, price) pairs: 1 to 1,000, each symbol once. Returns the
    securities in the order of the input; any unknown symbol refuses the whole batch.
    """
    batch = _checked_prices(prices)
    async with db.write() as session:
        updated = await writes.update_prices(session, prices=batch)
        by_symbol = {security.symbol: security for security in updated}
        unknown = [
            _unknown_symbol(symbol, f"prices.{index}.symbol")
            for index, (symbol, _) in enumerate(batch)
            if symbol not in by_symbol
        ]
        if unknown:
            raise Rejected(*unknown)
        security_ids = sorted(security.id for security in updated)
        portfolio_ids = await writes.holder_portfolio_ids(session, security_ids=security_ids)
        events.emit(session, events.PRICES_UPDATED, {"security_ids": security_ids})
        if portfolio_ids:
            events.emit(
                session,
                events.PORTFOLIO_UPDATED,
                {"portfolio_ids": portfolio_ids, "reason": "prices"},
            )
    return [by_symbol[symbol] for symbol, _ in batch]


def _checked_prices(prices: Sequence[tuple[str, Decimal]]) -> list[tuple[str, Decimal]]:
    check = Checks()
    if not prices:
        check.fail(UserErrorCode.REQUIRED, "At least one price is required.", "prices")
    elif len(prices) > PRICES_MAX:
        check.fail(UserErrorCode.OUT_OF_RANGE, f"At most {PRICES_MAX} prices per call.", "prices")
    check.reject_if_failed()
    seen: set[str] = set()
    batch: list[tuple[str, Decimal]] = []
    for index, (raw_symbol, raw_price) in enumerate(prices):
        symbol = _symbol(check, raw_symbol, f"prices.{index}.symbol")
        price = check.decimal(
            raw_price,
            f"prices.{index}.price",
            minimum=Decimal(0),
            exclusive_minimum=True,
            maximum=PRICE_MAX,
            places=6,
            required=True,
        )
        if symbol is not None and symbol in seen:
            check.fail(
                UserErrorCode.DUPLICATE, "This symbol is listed twice.", f"prices.{index}.symbol"
            )
        if symbol is not None:
            seen.add(symbol)
        if symbol is not None and price is not None:
            batch.append((symbol, price))
    check.reject_if_failed()
    return batch


def _symbol(check: Checks, value: str, path: str) -> str | None:
    # Checks.text strips, bounds the length and refuses NUL characters.
    return check.text(value, path, max_length=SYMBOL_MAX)


def _unknown_symbol(symbol: str, field: str) -> DomainError:
    return DomainError(
        UserErrorCode.UNKNOWN_SYMBOL, f"No security has the symbol {symbol!r}.", field
    )


# --- Portfolios -----------------------------------------------------------------------


async def create_portfolio(
    *, db: Database, actor: Actor, name: str, base_currency: str, initial_cash: Decimal
) -> Portfolio:
    """A new portfolio of the actor's user, with its starting cash (audited).

    `base_currency` is an ISO 4217 code; the name is unique among the user's portfolios.
    """
    owner_id = _user_id(actor)
    check = Checks()
    cleaned_name = check.text(name, "input.name", max_length=NAME_MAX)
    if not _CURRENCY.match(base_currency):
        check.fail(
            UserErrorCode.INVALID_FORMAT,
            "Must be an ISO 4217 code of three capital letters.",
            "input.baseCurrency",
        )
    cash = check.decimal(
        initial_cash,
        "input.initialCash",
        minimum=Decimal(0),
        maximum=CASH_MAX,
        places=4,
        required=True,
    )
    check.reject_if_failed()
    # Required values: None only with an error, and there is none.
    assert cleaned_name is not None
    assert cash is not None
    async with db.write() as session:
        portfolio = await writes.insert_portfolio(
            session, owner_id=owner_id, name=cleaned_name, base_currency=base_currency, cash=cash
        )
        if portfolio is None:
            raise Rejected(
                DomainError(
                    UserErrorCode.DUPLICATE,
                    "You already have a portfolio with this name.",
                    "input.name",
                )
            )
        await audit.record_request(
            session,
            actor,
            action="portfolio.created",
            target_type="Portfolio",
            target_id=portfolio.id,
            details={"base_currency": base_currency, "initial_cash": str(cash)},
        )
    return portfolio


def _user_id(actor: Actor) -> int:
    # The resolvers refuse such callers first; this guards the other callers (CLI, seed).
    if actor.principal.user_id is None:
        raise Unauthenticated("Portfolios belong to users: act as a signed-in user.")
    return actor.principal.user_id


# --- Trades ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trade:
    transaction: Transaction
    # The portfolio after the trade (cash as written).
    portfolio: Portfolio
    # True when the idempotency key matched an earlier trade, which is returned unchanged.
    replayed: bool


@dataclass(frozen=True, slots=True)
class _Order:
    portfolio_id: int
    symbol: str
    side: TradeSide
    quantity: Decimal
    idempotency_key: str | None


def _checked_order(
    check: Checks, *, symbol: str, quantity: Decimal, idempotency_key: str | None
) -> tuple[str | None, Decimal | None, str | None]:
    cleaned_symbol = _symbol(check, symbol, "input.symbol")
    checked_quantity = check.decimal(
        quantity,
        "input.quantity",
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=QUANTITY_MAX,
        places=6,
        required=True,
    )
    return cleaned_symbol, checked_quantity, _idempotency_key(check, idempotency_key)


def _idempotency_key(check: Checks, key: str | None) -> str | None:
    """Used verbatim (never trimmed): it is the client's own opaque token."""
    path = "input.idempotencyKey"
    if key is None:
        return None
    if not key.strip():
        check.fail(UserErrorCode.REQUIRED, "Omit the key or give 1 to 64 characters.", path)
    elif len(key) > IDEMPOTENCY_KEY_MAX:
        check.fail(UserErrorCode.TOO_LONG, f"At most {IDEMPOTENCY_KEY_MAX} characters.", path)
    elif "\x00" in key:
        check.fail(UserErrorCode.INVALID_FORMAT, "Must not contain NUL characters.", path)
    return key


async def place_trade(
    *,
    db: Database,
    actor: Actor,
    portfolio_id: int | Invalid,
    symbol: str,
    side: TradeSide,
    quantity: Decimal,
    idempotency_key: str | None = None,
    fee_bps: int,
) -> Trade:
    """Buy or sell `quantity` of `symbol` at its last price plus a fee of `fee_bps` basis
    points, in one of the actor's own portfolios.

    `portfolio_id` is `Invalid` when the caller could not read it (a malformed global ID):
    its error comes first, with those of the other values. A retry with an
    `idempotency_key` already used in the portfolio returns the first execution
    (`replayed`); the key used for a different trade is refused.
    """
    check = Checks()
    pk = accept(check, portfolio_id)
    cleaned_symbol, checked_quantity, key = _checked_order(
        check, symbol=symbol, quantity=quantity, idempotency_key=idempotency_key
    )
    check.reject_if_failed()
    # Required values: None only with an error, and there is none.
    assert pk is not None
    assert cleaned_symbol is not None
    assert checked_quantity is not None
    order = _Order(pk, cleaned_symbol, side, checked_quantity, key)
    async with db.write() as session:
        portfolio = await _lock_own_portfolio(session, actor, order.portfolio_id)
        if order.idempotency_key is not None:
            # Under the lock: an earlier trade with this key has committed, or never will.
            earlier = await writes.transaction_by_key(
                session, portfolio_id=portfolio.id, idempotency_key=order.idempotency_key
            )
            if earlier is not None:
                await _check_replay(session, earlier, order)
                return Trade(transaction=earlier, portfolio=portfolio, replayed=True)
        return await _execute(session, actor, portfolio, order, fee_bps=fee_bps)


async def _lock_own_portfolio(session: AsyncSession, actor: Actor, portfolio_id: int) -> Portfolio:
    """The actor's own portfolio, locked first; anyone else's (admins' included) is
    NOT_FOUND, never a hint that it exists, and is never locked."""
    owner_id = actor.principal.user_id
    portfolio = (
        None
        if owner_id is None
        else await writes.lock_owned_portfolio(
            session, portfolio_id=portfolio_id, owner_id=owner_id
        )
    )
    if portfolio is None:
        _refuse(UserErrorCode.NOT_FOUND, "input.portfolioId", "No portfolio with this ID.")
    return portfolio


async def _check_replay(session: AsyncSession, earlier: Transaction, order: _Order) -> None:
    """A different trade under the same key is an error rather than a silent replay of
    something the caller did not ask for."""
    symbol = await writes.security_symbol(session, security_id=earlier.security_id)
    # Quantities compare as numbers: 1.5 == 1.500000.
    if (
        symbol != order.symbol
        or earlier.side is not order.side
        or earlier.quantity != order.quantity
    ):
        raise Rejected(
            DomainError(
                UserErrorCode.INVALID_VALUE,
                "This idempotency key was already used for a different trade.",
                "input.idempotencyKey",
            )
        )


async def _execute(
    session: AsyncSession, actor: Actor, portfolio: Portfolio, order: _Order, *, fee_bps: int
) -> Trade:
    """Fill the order at the last price, on the locked portfolio, or refuse it."""
    found = await writes.security_with_holding(
        session, portfolio_id=portfolio.id, symbol=order.symbol
    )
    if found is None:
        _refuse(UserErrorCode.UNKNOWN_SYMBOL, "input.symbol", "No security has this symbol.")
    security, holding = found
    if security.last_price is None:
        _refuse(UserErrorCode.NO_PRICE, "input.symbol", "The security has no price yet.")
    if security.currency != portfolio.base_currency:
        _refuse(
            UserErrorCode.INVALID_VALUE,
            "input.symbol",
            f"The security trades in {security.currency}; the portfolio holds "
            f"{portfolio.base_currency}.",
        )

    price = security.last_price
    notional = notional_of(order.quantity, price)
    if notional >= MONEY_LIMIT:
        _refuse(UserErrorCode.OUT_OF_RANGE, "input.quantity", "The trade is too large.")
    fee = trade_fee(notional, fee_bps)
    held = holding.quantity if holding is not None else Decimal(0)
    cost = holding.average_cost if holding is not None else Decimal(0)
    if order.side is TradeSide.BUY:
        cash = portfolio.cash_balance - notional - fee
        if cash < 0:
            _refuse(
                UserErrorCode.INSUFFICIENT_CASH,
                "input.quantity",
                f"The trade needs {notional + fee} (fee included); the portfolio has "
                f"{portfolio.cash_balance}.",
            )
        quantity = held + order.quantity
        if quantity >= QUANTITY_LIMIT:
            _refuse(UserErrorCode.OUT_OF_RANGE, "input.quantity", "The position is too large.")
        cost = average_cost_after_buy(held, cost, order.quantity, price)
    else:
        if order.quantity > held:
            _refuse(
                UserErrorCode.INSUFFICIENT_HOLDINGS,
                "input.quantity",
                f"The portfolio holds {held.normalize():f} of {order.symbol}.",
            )
        cash = portfolio.cash_balance + notional - fee
        if cash >= MONEY_LIMIT:
            _refuse(UserErrorCode.OUT_OF_RANGE, "input.quantity", "The trade is too large.")
        quantity = held - order.quantity

    transaction = await writes.insert_transaction(
        session,
        portfolio_id=portfolio.id,
        security_id=security.id,
        side=order.side,
        quantity=order.quantity,
        price=price,
        fee=fee,
        idempotency_key=order.idempotency_key,
    )
    position = {"portfolio_id": portfolio.id, "security_id": security.id}
    if quantity == 0:
        await writes.delete_holding(session, **position)
    elif holding is not None:
        await writes.update_holding(session, **position, quantity=quantity, average_cost=cost)
    else:
        await writes.insert_holding(session, **position, quantity=quantity, average_cost=cost)
    portfolio = await writes.set_cash(
        session, portfolio_id=portfolio.id, cash=rounded(cash, CASH_PLACES)
    )
    await audit.record_request(
        session,
        actor,
        action="trade.placed",
        target_type="Portfolio",
        target_id=portfolio.id,
        details={
            "transaction_id": transaction.id,
            "symbol": security.symbol,
            "side": order.side.value,
            "quantity": str(order.quantity),
            "price": str(price),
            "fee": str(fee),
        },
    )
    events.emit(
        session, events.PORTFOLIO_UPDATED, {"portfolio_ids": [portfolio.id], "reason": "trade"}
    )
    return Trade(transaction=transaction, portfolio=portfolio, replayed=False)


def _refuse(code: UserErrorCode, field: str, message: str) -> NoReturn:
    raise Rejected(DomainError(code, message, field))
