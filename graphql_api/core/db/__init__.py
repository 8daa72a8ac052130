"""Database access: engine and sessions, typed models per domain, queries per domain."""
