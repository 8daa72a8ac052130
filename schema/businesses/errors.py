"""Expected failures of business and application mutations (R11, R13).

They are the services' refusals (`graphql_api.services.businesses`: NOT_FOUND for a business
the caller may not manage, DUPLICATE registration numbers, the input checks;
`graphql_api.services.applications`: NOT_OPEN, NOT_ELIGIBLE, ALREADY_APPLIED,
INVALID_TRANSITION), raised there as `Rejected` and shown by `Payload.failed` as
`UserError`s in the order the service found them. A malformed or foreign global ID is read
by the resolver (`graphql_api.services.inputs.decode_global_id`) and reported in its
field's place.
"""
