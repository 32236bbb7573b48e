"""Client scenarios against tests/hostile_server.py, run in a process of their own by the tests.

`python tests/hostile_client.py PORT SCENARIO...` runs each scenario once and prints one JSON
line for each: the error it ended with, how long it took, and how far the process's peak memory
(VmHWM, which only grows) rose past the baseline taken after imports. A regression that eats
memory or hangs takes this process down, never the test runner.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

from mmkit.media.fetch import FetchPolicy, afetch, fetch
from mmkit.transport import AsyncClient, Client, Timeout

MIB = 1024 * 1024
CAP = 16 * MIB  # the byte cap every scenario sets
TOTAL = 1.5  # the total timeout every timed scenario sets
LOCAL = ("127.0.0.1",)


def _peak_kib() -> int:
    """This process's own peak RSS. Not ru_maxrss: Linux carries the forking parent's peak over
    exec, so a child of a big test runner would report the runner's memory as its own."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _peak() -> int:
    return _peak_kib() * 1024


def _policy(**options: Any) -> FetchPolicy:
    return FetchPolicy(allow_private=LOCAL, max_bytes=CAP, **options)


def _client(port: int, mode: str, **options: Any) -> Client:
    url = f"http://127.0.0.1:{port}/{mode}/v1"
    return Client("m", base_url=url, api_key="sk-hostile-KEY", max_response_bytes=CAP, **options)


def _aclient(port: int, mode: str, **options: Any) -> AsyncClient:
    url = f"http://127.0.0.1:{port}/{mode}/v1"
    return AsyncClient(
        "m", base_url=url, api_key="sk-hostile-KEY", max_response_bytes=CAP, **options
    )


def _stream(port: int, mode: str, model: str = "m", **options: Any) -> None:
    with _client(port, mode, **options) as client:
        for _ in client.stream("hi"):
            pass


async def _astream(port: int, mode: str, **options: Any) -> None:
    async with _aclient(port, mode, **options) as client:
        async for _ in client.stream("hi"):
            pass


def _bytez_stream(port: int) -> None:
    url = f"http://127.0.0.1:{port}/plain-endless"
    with Client("bytez/org/model", base_url=url, api_key="k", max_response_bytes=CAP) as client:
        for _ in client.stream("hi"):
            pass


def _achat(port: int, mode: str, **options: Any) -> None:
    async def run() -> None:
        async with _aclient(port, mode, **options) as client:
            await client.chat("hi")

    asyncio.run(run())


SCENARIOS: dict[str, Callable[[int], Any]] = {
    "fetch-gzip-bomb": lambda p: fetch(f"http://127.0.0.1:{p}/gzip-bomb/x", _policy()),
    "afetch-gzip-bomb": lambda p: asyncio.run(
        afetch(f"http://127.0.0.1:{p}/gzip-bomb/x", _policy())
    ),
    "fetch-drip-headers": lambda p: fetch(
        f"http://127.0.0.1:{p}/drip-headers/x", _policy(total_timeout=TOTAL)
    ),
    "afetch-drip-headers": lambda p: asyncio.run(
        afetch(f"http://127.0.0.1:{p}/drip-headers/x", _policy(total_timeout=TOTAL))
    ),
    "fetch-drip-body": lambda p: fetch(
        f"http://127.0.0.1:{p}/drip-body/x", _policy(total_timeout=TOTAL)
    ),
    "chat-gzip-bomb": lambda p: _client(p, "gzip-bomb").chat("hi"),
    "achat-gzip-bomb": lambda p: _achat(p, "gzip-bomb"),
    "chat-endless": lambda p: _client(p, "endless").chat("hi"),
    "achat-endless": lambda p: _achat(p, "endless"),
    "chat-drip-body": lambda p: _client(p, "drip-body", timeout=Timeout(total=TOTAL)).chat("hi"),
    "achat-drip-body": lambda p: _achat(p, "drip-body", timeout=Timeout(total=TOTAL)),
    "chat-drip-headers": lambda p: _client(p, "drip-headers", timeout=TOTAL).chat("hi"),
    "achat-drip-headers": lambda p: _achat(p, "drip-headers", timeout=TOTAL),
    "chat-never": lambda p: _client(p, "never", timeout=TOTAL, max_retries=2).chat("hi"),
    "achat-never": lambda p: _achat(p, "never", timeout=TOTAL, max_retries=2),
    "stream-drip": lambda p: _stream(p, "drip-body", timeout=TOTAL),
    "astream-drip": lambda p: asyncio.run(_astream(p, "drip-body", timeout=TOTAL)),
    "stream-sse-line": lambda p: _stream(p, "sse-line"),
    "astream-sse-line": lambda p: asyncio.run(_astream(p, "sse-line")),
    "stream-plain-endless": _bytez_stream,
}


def _one(name: str, port: int, baseline: int) -> dict[str, Any]:
    started = time.monotonic()
    error = message = module = None
    try:
        SCENARIOS[name](port)
    except Exception as exc:
        error, message, module = type(exc).__name__, str(exc), type(exc).__module__
    return {
        "name": name,
        "error": error,
        "module": module,
        "message": message,
        "elapsed": time.monotonic() - started,
        "grew": _peak() - baseline,
    }


def main() -> None:
    port, names = int(sys.argv[1]), sys.argv[2:]
    asyncio.run(asyncio.sleep(0))  # warm up the first event loop before the baseline
    baseline = _peak()
    for name in names:
        print(json.dumps(_one(name, port, baseline)), flush=True)


if __name__ == "__main__":
    main()
