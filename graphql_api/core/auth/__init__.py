"""Who is calling: principals, and (later) tokens and API keys."""
