"""Transport benchmark: mmkit's clients against plain httpx posting the same JSON, same run.

The local conformance server runs in its own process (so client and server do not share a GIL)
and is measured alone first with a raw-socket client, to show it is not the bottleneck.

1. 1,000 sequential chat calls with a small image: `mmkit.Client.chat` vs `httpx.Client.post`,
   once with mmkit Messages and once with the same messages as OpenAI dicts (data-URI image).
2. 2,000 calls at concurrency 64: `mmkit.AsyncClient.chat` vs `httpx.AsyncClient.post`.
Target: mmkit at least 0.9× the plain client's throughput in all three (medians of 5 interleaved
rounds each: single runs at concurrency 64 vary by ±10% on 2 cores).
3. Captioning distinct photos that need downscaling (encoding is real work) at concurrency 16:
   `mmkit.AsyncClient` vs `mmkit.Client` in a thread pool of 16. Target: AsyncClient at least as
   fast (its encoding runs off the event loop).

Run: .venv/bin/python bench/bench_transport.py [--sequential N] [--concurrent N] [--photos N]
     [--only sequential|dicts|concurrent|photos ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from harness import server_process

import mmkit
from mmkit import Message

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CONCURRENCY = 64
ROUNDS = 5  # each side runs this many times, interleaved; the medians are compared
ROUTE = "/v1/chat/completions"


def raw_server_capacity(base: str, body: bytes, total: int, connections: int) -> float:
    """Requests per second the server answers to a minimal keep-alive socket client."""
    port = int(base.rsplit(":", 1)[1])
    request = (
        f"POST {ROUTE} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body

    async def one_connection(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
        writer.close()

    async def run() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(one_connection(total // connections) for _ in range(connections)))
        return (total // connections * connections) / (time.perf_counter() - start)

    return asyncio.run(run())


def rate(fn: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def sequential(
    base: str, messages: list[Message], wire: dict[str, Any], count: int
) -> tuple[float, float]:
    with (
        httpx.Client(base_url=base) as plain,
        mmkit.Client("bench", base_url=base + "/v1", api_key="unused") as client,
    ):

        def plain_calls() -> None:
            for _ in range(count):
                r = plain.post(ROUTE, json=wire)
                r.raise_for_status()
                assert r.json()["choices"][0]["message"]["content"]

        def mmkit_calls() -> None:
            for _ in range(count):
                assert client.chat(messages).text

        plain_calls()  # warm connections, caches and the server
        mmkit_calls()
        plain_rates, mmkit_rates = [], []
        for _ in range(ROUNDS):  # interleaved, so drift hits both alike
            plain_rates.append(rate(plain_calls, count))
            mmkit_rates.append(rate(mmkit_calls, count))
    return statistics.median(plain_rates), statistics.median(mmkit_rates)


def sequential_dicts(base: str, wire: dict[str, Any], count: int) -> tuple[float, float]:
    """Client.chat given OpenAI dicts (a data-URI image) vs posting the same JSON."""
    dicts = wire["messages"]
    with (
        httpx.Client(base_url=base) as plain,
        mmkit.Client("bench", base_url=base + "/v1", api_key="unused") as client,
    ):

        def plain_calls() -> None:
            for _ in range(count):
                r = plain.post(ROUTE, json=wire)
                r.raise_for_status()
                assert r.json()["choices"][0]["message"]["content"]

        def mmkit_calls() -> None:
            for _ in range(count):
                assert client.chat(dicts).text

        plain_calls()
        mmkit_calls()
        plain_rates, mmkit_rates = [], []
        for _ in range(ROUNDS):
            plain_rates.append(rate(plain_calls, count))
            mmkit_rates.append(rate(mmkit_calls, count))
    return statistics.median(plain_rates), statistics.median(mmkit_rates)


PHOTO_CONCURRENCY = 16


def photos(n: int) -> list[bytes]:
    """`n` distinct 1600×1200 JPEG photos (smooth gradients with noise): each needs a real
    decode and downscale, and no two share an encode cache."""
    import io

    import numpy as np
    from PIL import Image as PILImage

    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:1200, 0:1600]
    out = []
    for i in range(n):
        base = (x * (i + 1) // 7 + y // 5) % 256
        rgb = np.stack([base, (base + 85 * i) % 256, (255 - base) % 256], axis=-1)
        noisy = np.clip(rgb + rng.integers(-12, 12, rgb.shape), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        PILImage.fromarray(noisy).save(buffer, "JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


def captioning(base: str, images: list[bytes], rounds: int) -> tuple[float, float]:
    """Images per second: AsyncClient at PHOTO_CONCURRENCY vs Client in as many threads."""
    from concurrent.futures import ThreadPoolExecutor

    from mmkit import Image

    def message(data: bytes) -> list[Message]:  # a new part each call: no encode cache
        return [Message.user("Caption this photo.", image=Image(data, max_side=512))]

    def threads() -> float:
        with (
            mmkit.Client("bench", base_url=base + "/v1", api_key="unused") as client,
            ThreadPoolExecutor(PHOTO_CONCURRENCY) as pool,
        ):
            start = time.perf_counter()
            for reply in pool.map(lambda d: client.chat(message(d)), images):
                assert reply.text
            return len(images) / (time.perf_counter() - start)

    def async_client() -> float:
        async def run() -> float:
            gate = asyncio.Semaphore(PHOTO_CONCURRENCY)
            async with mmkit.AsyncClient("bench", base_url=base + "/v1", api_key="x") as client:

                async def one(data: bytes) -> None:
                    async with gate:
                        assert (await client.chat(message(data))).text

                start = time.perf_counter()
                await asyncio.gather(*(one(d) for d in images))
                return len(images) / (time.perf_counter() - start)

        return asyncio.run(run())

    threads()  # warm up
    async_client()
    thread_rates, async_rates = [], []
    for _ in range(rounds):
        thread_rates.append(threads())
        async_rates.append(async_client())
    return statistics.median(thread_rates), statistics.median(async_rates)


def concurrent(
    base: str, messages: list[Message], wire: dict[str, Any], count: int
) -> tuple[float, float]:
    async def run() -> tuple[float, float]:
        gate = asyncio.Semaphore(CONCURRENCY)
        # Both with httpx's default pool limits: the plain way as people write it.
        async with (
            httpx.AsyncClient(base_url=base) as plain,
            mmkit.AsyncClient("bench", base_url=base + "/v1", api_key="unused") as client,
        ):

            async def plain_one() -> None:
                async with gate:
                    r = await plain.post(ROUTE, json=wire)
                    r.raise_for_status()
                    assert r.json()["choices"][0]["message"]["content"]

            async def mmkit_one() -> None:
                async with gate:
                    assert (await client.chat(messages)).text

            async def timed(one: Callable[[], Any], n: int) -> float:
                start = time.perf_counter()
                await asyncio.gather(*(one() for _ in range(n)))
                return n / (time.perf_counter() - start)

            await timed(plain_one, CONCURRENCY * 2)
            await timed(mmkit_one, CONCURRENCY * 2)
            plain_rates, mmkit_rates = [], []
            for _ in range(ROUNDS):  # interleaved, so drift hits both alike
                plain_rates.append(await timed(plain_one, count))
                mmkit_rates.append(await timed(mmkit_one, count))
            return statistics.median(plain_rates), statistics.median(mmkit_rates)

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--concurrent", type=int, default=2000)
    parser.add_argument("--photos", type=int, default=96)
    parser.add_argument(
        "--only",
        choices=("sequential", "dicts", "concurrent", "photos"),
        action="append",
        help="run only this race (repeatable); default: all of them",
    )
    args = parser.parse_args()
    only = set(args.only or ("sequential", "dicts", "concurrent", "photos"))

    messages = [Message.user("What is in this picture?", image=FIXTURES / "still.gif")]
    wire = {"model": "bench", "messages": mmkit.to_openai(messages)}
    body = json.dumps(wire).encode()
    print(
        f"request: one user message with a {messages[0].images[0].describe()}; "
        f"{len(body):,} bytes of JSON"
    )
    races: list[tuple[str, float, float, float]] = []
    with server_process() as base:
        alone_seq = raw_server_capacity(base, body, 2000, 1)
        alone_conc = raw_server_capacity(base, body, 4000, CONCURRENCY)
        print(
            f"server alone (raw sockets): {alone_seq:,.0f} req/s on 1 connection, "
            f"{alone_conc:,.0f} req/s on {CONCURRENCY}"
        )
        if "sequential" in only:
            plain, ours = sequential(base, messages, wire, args.sequential)
            races.append((f"sequential ×{args.sequential}", plain, ours, alone_seq))
        if "dicts" in only:
            plain, ours = sequential_dicts(base, wire, args.sequential)
            races.append((f"dicts, sequential ×{args.sequential}", plain, ours, alone_seq))
        if "concurrent" in only:
            plain, ours = concurrent(base, messages, wire, args.concurrent)
            races.append((f"concurrency {CONCURRENCY} ×{args.concurrent}", plain, ours, alone_conc))
        if "photos" in only:
            images = photos(args.photos)
            threads, async_rate = captioning(base, images, 3)
    for label, plain, ours, server in races:
        ratio = ours / plain
        print(
            f"{label:28} plain httpx {plain:7,.0f} req/s | mmkit {ours:7,.0f} req/s | "
            f"ratio {ratio:.2f}× (target ≥ 0.9×) {'OK' if ratio >= 0.9 else 'MISS'} | "
            f"server headroom {server / max(plain, ours):.1f}×"
        )
    if "photos" in only:
        ratio = async_rate / threads
        print(
            f"photos 1600×1200 → 512, concurrency {PHOTO_CONCURRENCY} ×{len(images)}: "
            f"Client in {PHOTO_CONCURRENCY} threads {threads:5,.1f} img/s | AsyncClient "
            f"{async_rate:5,.1f} img/s | ratio {ratio:.2f}× (target ≥ 1.0×) "
            f"{'OK' if ratio >= 1.0 else 'MISS'}"
        )


if __name__ == "__main__":
    main()
