"""Businesses: companies that apply to support programmes (R2)."""
