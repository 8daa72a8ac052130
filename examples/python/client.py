"""A Python client of the API with `gql`: a public query, a signed-in mutation, a subscription.

Run against `graphql-api serve` (its demo data has the account and the securities):

    python examples/python/client.py --url http://127.0.0.1:8000/graphql \\
        --email member@example.com --password demo-password

What it shows:
1. the latest announcements, anonymously, over HTTP;
2. `login`, then `createPortfolio` with the access token in the Authorization header;
3. `portfolioUpdated` over WebSocket (graphql-transport-ws, the token in the connection's
   init payload), then a `placeTrade` whose effect arrives on that subscription.
Decimal, Date and DateTime travel as strings (see the README's "Typed clients").
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from gql import Client, gql
from gql.transport.httpx import HTTPXAsyncTransport
from gql.transport.websockets import WebsocketsTransport

LATEST = gql("""
query Latest($first: Int!) {
  announcements(first: $first) { edges { node { id title closesAt business { name } } } }
}
""")
FIRST_SYMBOL = gql("query First { securities(first: 1) { edges { node { symbol } } } }")
LOGIN = gql("""
mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken errors { code message } }
}
""")
CREATE_PORTFOLIO = gql("""
mutation Create($input: CreatePortfolioInput!) {
  createPortfolio(input: $input) { portfolio { id name cashBalance } errors { code field } }
}
""")
UPDATED = gql("""
subscription Updated($id: ID!) {
  portfolioUpdated(portfolioId: $id) { cashBalance holdings { quantity security { symbol } } }
}
""")
TRADE = gql("""
mutation Trade($input: PlaceTradeInput!) {
  placeTrade(input: $input) { portfolio { cashBalance } errors { code field message } }
}
""")


def ws_url(http_url: str) -> str:
    return "ws" + http_url.removeprefix("http")


async def run(url: str, email: str, password: str, symbol: str | None) -> dict[str, Any]:
    report: dict[str, Any] = {}
    async with Client(transport=HTTPXAsyncTransport(url=url)) as anonymous:
        latest = await anonymous.execute(LATEST, variable_values={"first": 3})
        report["announcements"] = [e["node"]["title"] for e in latest["announcements"]["edges"]]
        if symbol is None:
            first = await anonymous.execute(FIRST_SYMBOL)
            symbol = first["securities"]["edges"][0]["node"]["symbol"]
        signed_in = await anonymous.execute(
            LOGIN, variable_values={"input": {"email": email, "password": password}}
        )
    login = signed_in["login"]
    if login["errors"]:
        raise SystemExit(f"login failed: {login['errors']}")
    token = login["accessToken"]

    headers = {"Authorization": f"Bearer {token}"}
    async with Client(transport=HTTPXAsyncTransport(url=url, headers=headers)) as member:
        created = await member.execute(
            CREATE_PORTFOLIO,
            variable_values={"input": {"name": "Example", "initialCash": "10000.00"}},
        )
        if created["createPortfolio"]["errors"]:
            raise SystemExit(f"createPortfolio failed: {created['createPortfolio']['errors']}")
        portfolio = created["createPortfolio"]["portfolio"]
        report["portfolio"] = portfolio

        socket = WebsocketsTransport(
            url=ws_url(url),
            init_payload={"authorization": f"Bearer {token}"},
            subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
        )
        async with Client(transport=socket) as live:
            updates = live.subscribe(UPDATED, variable_values={"id": portfolio["id"]})
            first = asyncio.ensure_future(anext(updates))
            # The subscription is registered once the server has answered the subscribe
            # message; a trade before that would be missed, so retry until one arrives.
            trade = {"portfolioId": portfolio["id"], "symbol": symbol, "side": "BUY"}
            trades = 0
            for _ in range(20):
                await asyncio.sleep(0.1)
                trades += 1
                placed = await member.execute(
                    TRADE, variable_values={"input": {**trade, "quantity": "1"}}
                )
                if placed["placeTrade"]["errors"]:
                    raise SystemExit(f"placeTrade failed: {placed['placeTrade']['errors']}")
                done, _ = await asyncio.wait({first}, timeout=0.5)
                if done:
                    break
            update = await asyncio.wait_for(first, timeout=5)
            report["update"] = update["portfolioUpdated"]
            report["trades"] = trades
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql")
    parser.add_argument("--email", default="member@example.com")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--symbol", default=None, help="default: the first security")
    args = parser.parse_args()
    report = asyncio.run(run(args.url, args.email, args.password, args.symbol))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
