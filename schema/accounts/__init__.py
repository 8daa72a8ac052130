"""Accounts: users, their roles and what they own (R6, R7)."""
