"""Expected failures of portfolio mutations (R11, R13).

They are decided by `graphql_api.services.portfolios`, which raises `Rejected` with
`DomainError`s; the payloads show them as `UserError`s (`Payload.failed`). The codes:
REQUIRED, TOO_LONG, INVALID_FORMAT, OUT_OF_RANGE, DUPLICATE (a symbol listed twice, a
portfolio name taken), UNKNOWN_SYMBOL, NOT_FOUND (a portfolio that is not the caller's),
NO_PRICE, INVALID_VALUE (a number that is not finite, another currency, an idempotency key
reused for another trade), INSUFFICIENT_CASH and INSUFFICIENT_HOLDINGS.
"""
