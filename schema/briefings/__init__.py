"""Briefings: daily market briefings, historical cases and the glossary (R3)."""
