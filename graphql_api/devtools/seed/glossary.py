"""Glossary terms: a base list of market terms, qualified by a context beyond it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from graphql_api.devtools.seed.common import Ctx

GLOSSARY: Final = (
    ("KOSPI", "The main Korean stock index, covering the companies listed on the KRX main board."),
    ("KOSDAQ", "Korea's technology-heavy secondary market, home to smaller growth companies."),
    ("Base rate", "The policy interest rate set by the Bank of Korea."),
    ("Bond yield", "The annual return an investor earns by holding a bond at its market price."),
    ("Yield curve", "Yields of bonds of the same credit plotted against their maturities."),
    ("Inflation", "A sustained rise in the general price level, eroding purchasing power."),
    ("CPI", "Consumer price index: the price of a fixed basket of consumer goods over time."),
    ("Exchange rate", "The price of one currency in terms of another, such as won per dollar."),
    ("Current account", "A country's trade in goods and services plus income and transfers."),
    ("Trade balance", "Exports minus imports of goods over a period."),
    ("Foreign net buying", "Purchases by foreign investors minus their sales on a given day."),
    ("Short selling", "Selling borrowed shares in the hope of buying them back cheaper."),
    ("Market capitalisation", "Share price times shares outstanding: a company's market value."),
    ("P/E ratio", "Share price divided by earnings per share."),
    ("P/B ratio", "Share price divided by book value per share."),
    ("Dividend yield", "Annual dividends per share divided by the share price."),
    ("ETF", "An exchange-traded fund: a basket of assets that trades like a single share."),
    ("Volatility", "How widely a price swings over time, usually the standard deviation."),
    ("VIX", "An index of the S&P 500's expected 30-day volatility, implied by option prices."),
    ("Liquidity", "How easily an asset can be bought or sold without moving its price."),
    ("Quantitative tightening", "A central bank shrinking its balance sheet."),
    ("Quantitative easing", "A central bank buying assets to push down long-term rates."),
    ("Basis point", "One hundredth of a percentage point (0.01%)."),
    ("Hawkish", "Favouring tighter monetary policy to fight inflation."),
    ("Dovish", "Favouring looser monetary policy to support growth."),
    ("FOMC", "The US Federal Open Market Committee, which sets the federal funds rate."),
    ("Recession", "A broad decline in economic activity lasting more than a few months."),
    ("Soft landing", "Slowing inflation without pushing the economy into recession."),
    ("Stagflation", "High inflation combined with stagnant growth."),
    ("Earnings surprise", "Reported profit that differs from analysts' consensus."),
    ("Guidance", "A company's own forecast of its coming results."),
    ("Sector rotation", "Money moving from one industry group to another."),
    ("Value stock", "A share priced low relative to its earnings or assets."),
    ("Growth stock", "A share of a company expected to grow faster than the market."),
    ("Blue chip", "A large, established company with a long record of stable earnings."),
    ("Circuit breaker", "An exchange rule halting trading after a large market drop."),
    ("Sidecar", "A KRX rule pausing program trading when futures move sharply."),
    ("Program trading", "Computer-driven trading of baskets of stocks."),
    ("Credit spread", "The extra yield a risky bond pays over a safe one."),
    ("Default", "Failure to make a required interest or principal payment."),
    ("Leverage", "Using borrowed money to increase the size of a position."),
    ("Margin loan", "A broker's loan to buy securities, secured by the account."),
    ("IPO", "Initial public offering: a company's first sale of shares to the public."),
    ("Lock-up", "A period after an IPO during which insiders may not sell."),
    ("Free float", "Shares available for public trading."),
    ("Semiconductor cycle", "The boom-and-bust pattern of chip demand, prices and inventory."),
    ("HBM", "High-bandwidth memory: stacked DRAM used in AI accelerators."),
    ("Foundry", "A company manufacturing chips designed by others."),
    ("Supply chain", "The network of suppliers that turns raw materials into products."),
    ("Tariff", "A tax on imported goods."),
    ("PMI", "Purchasing managers' index: a survey gauge of manufacturing activity."),
    ("GDP", "Gross domestic product: the value of all goods and services produced."),
    ("Dollar index", "The US dollar's value against a basket of major currencies."),
    ("Safe-haven asset", "An asset expected to hold its value in market turmoil."),
    ("Risk-on", "A market mood favouring riskier assets."),
    ("Risk-off", "A market mood favouring safer assets."),
    ("Rebalancing", "Restoring a portfolio's target weights after prices move."),
    ("Window dressing", "Fund managers tidying holdings before a reporting date."),
    ("Export data", "Monthly customs figures on goods shipped abroad."),
    ("Won weakness", "A fall in the won's value against other currencies."),
)
_GLOSSARY_CONTEXTS: Final = (
    "Korea", "US", "China", "Japan", "Europe", "Emerging markets", "Policy",
    "Retail investors", "Institutions", "Derivatives",
)  # fmt: skip


def make_glossary(ctx: Ctx) -> list[dict[str, Any]]:
    rng = ctx.rng
    total = 60 * ctx.scale
    rows: list[dict[str, Any]] = []
    for n in range(total):
        term, definition = GLOSSARY[n % len(GLOSSARY)]
        round_ = n // len(GLOSSARY)
        if round_:
            # Beyond the base list (scale > 1), terms are qualified by a context so that
            # lower(term) stays unique; they rarely appear verbatim in briefing text.
            context = _GLOSSARY_CONTEXTS[(round_ - 1) % len(_GLOSSARY_CONTEXTS)]
            cycle = (round_ - 1) // len(_GLOSSARY_CONTEXTS)
            term = f"{term} ({context})" + (f" {cycle + 1}" if cycle else "")
            definition = f"{definition} Here as it applies to {context.lower()}."
        created = ctx.anchor - dt.timedelta(days=rng.randint(100, 800))
        rows.append(
            {"term": term, "definition": definition, "created_at": created, "updated_at": created}
        )
    return rows
