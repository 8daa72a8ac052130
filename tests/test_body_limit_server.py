"""Oversized request bodies against a real uvicorn process (issue 14 acceptance).

Three concurrent 200 MB bodies are streamed at the server (chunked, and with a declared
length), each refused with 413 after at most the limit was read; the server's resident
memory afterwards stays within 20 % of what it was before. Before the limit, the process
read every body whole (1.6 GB during, 1.1 GB after).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx

from graphql_api.core.config import Settings
from tests.test_subscriptions_multi import Instance, instances

BODY_BYTES = 200 * 1024 * 1024
CHUNK = b"x" * (256 * 1024)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def send_huge_body(port: int, *, declare_length: bool) -> tuple[bytes, int]:
    """POST a 200 MB body without holding it; (the response head, bytes sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = "POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\n"
    head += (
        f"content-length: {BODY_BYTES}\r\n\r\n"
        if declare_length
        else "transfer-encoding: chunked\r\n\r\n"
    )
    received = bytearray()

    async def read() -> None:
        # Until the whole response is in: its head, then content-length bytes.
        while True:
            data = await reader.read(65536)
            if not data:
                return
            received.extend(data)
            head_end = received.find(b"\r\n\r\n")
            if head_end < 0:
                continue
            length = next(
                int(line.split(b":")[1])
                for line in received[:head_end].lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            if len(received) >= head_end + 4 + length:
                return

    reading = asyncio.create_task(read())
    sent = 0
    try:
        writer.write(head.encode())
        while sent < BODY_BYTES and not received and not reading.done():
            piece = CHUNK if declare_length else b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
            writer.write(piece)
            await writer.drain()
            sent += len(CHUNK)
    except (ConnectionError, OSError):
        pass  # the server answered and closed while we were still sending
    with contextlib.suppress(ConnectionError, OSError):
        await asyncio.wait_for(reading, 10)
    writer.close()
    return bytes(received), sent


async def test_three_concurrent_200_mb_bodies_are_refused_and_memory_returns(
    settings: Settings, db_url: str, redis_url: str, tmp_path: Path
) -> None:
    with instances(settings, db_url, redis_url, tmp_path, count=1) as [server]:
        await _warm_up(server)
        before = rss_bytes(server.process.pid)
        for declare_length in (False, True):
            results = await asyncio.gather(
                *(send_huge_body(server.port, declare_length=declare_length) for _ in range(3))
            )
            for head, sent in results:
                assert head.startswith(b"HTTP/1.1 413"), head[:200]
                assert b'"code":"BAD_REQUEST"' in head
                # How much the client sends before it reads the 413 depends on scheduling:
                # uvicorn discards the rest of a refused body as it arrives, so a fast
                # client may send it all. What must hold is that the server never holds it:
                # its memory, checked below.
                assert sent <= BODY_BYTES
        after = rss_bytes(server.process.pid)
        assert after <= before * 1.2, (before, after)
        # And it still serves.
        async with httpx.AsyncClient(base_url=server.http) as http:
            response = await http.post("/graphql", json={"query": "{ __typename }"})
        assert response.json()["data"] == {"__typename": "Query"}


async def _warm_up(server: Instance) -> None:
    async with httpx.AsyncClient(base_url=server.http) as http:
        for _ in range(20):
            await http.post("/graphql", json={"query": "{ glossary(first: 5) { totalCount } }"})
            await http.post(
                "/graphql", content=b"x" * 1000, headers={"content-type": "application/json"}
            )
