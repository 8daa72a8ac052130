"""Development tools off the serving path: embedded PostgreSQL/Redis, demo data."""
