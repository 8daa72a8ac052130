"""Services: one module per domain, one keyword-only function per workflow.

A workflow validates, locks, applies the business rules, writes, records the audit row (with
the actor's request id and client IP) and queues its events in one transaction, then returns
the row or a typed domain error (`graphql_api.core.errors`). Mutations, subscriptions, the CLI
and the seed call these; none of them repeats a rule. Every time comparison uses the actor's
clock (`Actor.now`, one reading per request).
"""
