"""Masking personal data for audit rows and logs (R9, R18)."""

from __future__ import annotations


def mask_email(email: str) -> str:
    """`jane@example.com` -> `j***@example.com`; anything else -> `***`.

    Enough for an admin to recognise an account or spot a pattern of failed logins, without
    the audit log or the logs holding the address itself.
    """
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    return f"{local[0]}***@{domain.lower()}"
