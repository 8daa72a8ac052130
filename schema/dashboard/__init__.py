"""The dashboard domain: aggregates over the other domains, computed in SQL (R5)."""
