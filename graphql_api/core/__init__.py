"""Core: configuration (the only env reader), database, auth, errors, events, pagination.

Imports nothing above it (see the import-linter contracts in pyproject.toml).
"""
