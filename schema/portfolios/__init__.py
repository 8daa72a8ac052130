"""Portfolios: mock trading with cash, holdings and a trade history (R4)."""
