"""Data access per domain: small keyword-only functions taking a session."""
