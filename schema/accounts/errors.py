"""Expected failures of account and API key mutations (R6, R8, R11, R13).

They are the services' refusals (`graphql_api.services.accounts`: the new-account checks,
EMAIL_TAKEN, INVALID_CREDENTIALS for every failed login, INVALID_TOKEN for a refresh token
that is unknown, expired, revoked or reused, INVALID_VALUE for one's own role, NOT_FOUND;
`graphql_api.services.api_keys`: the new-key checks, NOT_FOUND, INVALID_TRANSITION for
rotating a revoked key), raised there as `Rejected` and shown by `Payload.failed` as
`UserError`s in the order the service found them. A malformed or foreign `userId` is read
by the resolver (`Checks.global_id`); an ID that names no API key is the service's
NOT_FOUND (`api_keys.key_not_found`), so it leaks nothing.
"""
