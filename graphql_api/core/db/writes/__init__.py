"""Writes per domain: small keyword-only async functions taking the write session first.

Called inside `Database.write()`, so each mutation commits or rolls back as one unit.
"""
