"""Expected failures of briefing mutations (R11, R13).

They are decided by `graphql_api.services.briefings`, which raises `Rejected` with
`DomainError`s; the payload shows them as `UserError`s (`Payload.failed`). The codes:
REQUIRED, TOO_LONG, INVALID_FORMAT, OUT_OF_RANGE, INVALID_VALUE and DUPLICATE (a keyword
listed twice).
"""
