"""The GraphQL API server: app factory, configuration, data access and operations."""

__version__ = "0.1.0"
