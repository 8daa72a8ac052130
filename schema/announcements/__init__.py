"""Announcements: public support-programme calls (R1)."""
