"""Soak: 5,000 requests through one AsyncClient at concurrency 64, against a server that answers
10% of them 503 and drops 2% of connections. Every request is answered exactly once."""

from __future__ import annotations

import asyncio

from mmkit.server import ServerOptions, serve_in_thread
from mmkit.transport import AsyncClient, Reply

REQUESTS = 5_000
CONCURRENCY = 64


async def _run_all(base_url: str) -> list[Reply]:
    semaphore = asyncio.Semaphore(CONCURRENCY)
    async with AsyncClient(
        "bytez/soak/model",
        base_url=base_url,
        api_key="soak-key",
        max_retries=8,
        backoff=0.01,
        max_backoff=0.2,
    ) as client:

        async def one(index: int) -> Reply:
            async with semaphore:
                return await client.chat(f"request {index:05d}", max_tokens=5)

        return await asyncio.gather(*(one(i) for i in range(REQUESTS)))


def test_every_request_is_answered_exactly_once_despite_faults() -> None:
    options = ServerOptions(rate_5xx=0.10, rate_drop=0.02, seed=20_240_601)
    with serve_in_thread(options) as server:
        replies = asyncio.run(_run_all(server.base_url))
        stats = server.stats

    assert len(replies) == REQUESTS
    for index, reply in enumerate(replies):  # each reply echoes its own request's id
        assert reply.text == f'text "request {index:05d}"', index
    assert stats.answered == REQUESTS  # the server answered each id once: none lost or doubled
    retries = sum(reply.attempts - 1 for reply in replies)
    assert stats.by_status.get(503, 0) + stats.dropped == retries
    assert stats.total == REQUESTS + retries
    assert retries > REQUESTS * 0.08  # the faults really happened
