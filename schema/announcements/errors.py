"""Expected failures of announcement mutations (R11, R13).

They are the announcement service's refusals (`graphql_api.services.announcements`:
NOT_FOUND, INVALID_TRANSITION, INVALID_VALUE for a closing time already past, and the input
checks), raised there as `Rejected` and shown by `Payload.failed` as `UserError`s in the
order the service found them. A malformed or foreign global ID is read by the resolver
(`graphql_api.services.inputs.decode_global_id`) and reported in its field's place.
"""
