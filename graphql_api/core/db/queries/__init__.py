"""Reads per domain: keyword-only functions taking the `Database`, on the lean row path."""
