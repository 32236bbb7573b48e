"""A hostile HTTP server for the hostile-server tests, run as a child process on 127.0.0.1.

`python tests/hostile_server.py` prints its port on stdout, then serves until its stdin closes
(the test runner ended or died) or 10 minutes pass. The first path segment picks the attack:

  /gzip-bomb/...     200, `Content-Encoding: gzip, gzip`, ~6 KB that inflate to 512 MiB
  /endless/...       200, a JSON-typed body that never ends, as fast as the client reads
  /drip-body/...     200, a body of one byte every 0.1 s, forever
  /drip-headers/...  a status line, then one header line every 0.5 s, forever
  /never/...         reads the request and never answers
  /sse-line/...      200 text/event-stream: "data: " and then x's, never a newline
  /plain-endless/... 200 text/plain (Bytez's stream framing) that never ends
  /redirect-key/...  302 to a Location that carries the request's Authorization header
  /echo-key/...      401 whose body and headers echo the key in many forms

Every connection is cut after 30 s, so nothing here can outlive a test by much.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
import threading
import zlib
from urllib.parse import quote

_CONNECTION_LIMIT = 30.0
_LIFETIME = 600.0


def _bomb() -> bytes:
    """512 MiB of zeros, gzipped twice: a few KB on the wire."""
    inner = zlib.compressobj(1, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 24)
    parts = [inner.compress(zeros) for _ in range(32)]
    parts.append(inner.flush())
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return outer.compress(b"".join(parts)) + outer.flush()


BOMB = _bomb()


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0") or 0)
    if length:
        await reader.readexactly(length)
    return request_line.split(" ")[1], headers


async def _forever(writer: asyncio.StreamWriter, piece: bytes, pause: float) -> None:
    while True:
        writer.write(piece)
        await writer.drain()
        if pause:
            await asyncio.sleep(pause)


async def _serve(path: str, headers: dict[str, str], writer: asyncio.StreamWriter) -> None:
    mode = path.strip("/").split("/", 1)[0]
    key = headers.get("authorization", "").split(" ", 1)[-1]
    if mode == "gzip-bomb":
        writer.write(
            _head(
                "200 OK",
                {
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip, gzip",
                    "Content-Length": str(len(BOMB)),
                },
            )
            + BOMB
        )
        await writer.drain()
    elif mode == "endless":
        writer.write(_head("200 OK", {"Content-Type": "application/json", "Connection": "close"}))
        await _forever(writer, b" " * 65536, 0)
    elif mode == "drip-body":
        writer.write(_head("200 OK", {"Content-Type": "application/json", "Connection": "close"}))
        await _forever(writer, b" ", 0.1)
    elif mode == "drip-headers":
        writer.write(b"HTTP/1.1 200 OK\r\n")
        n = 0
        while True:
            writer.write(f"X-Drip-{n}: {n}\r\n".encode())
            await writer.drain()
            n += 1
            await asyncio.sleep(0.5)
    elif mode == "never":
        await asyncio.sleep(_CONNECTION_LIMIT)
    elif mode == "sse-line":
        writer.write(_head("200 OK", {"Content-Type": "text/event-stream", "Connection": "close"}))
        writer.write(b"data: ")
        await _forever(writer, b"x" * 65536, 0)
    elif mode == "plain-endless":
        writer.write(_head("200 OK", {"Content-Type": "text/plain", "Connection": "close"}))
        await _forever(writer, b"y" * 65536, 0)
    elif mode == "redirect-key":
        location = f"https://elsewhere.example/v1?key={key}&again={quote(key, safe='')}"
        writer.write(_head("302 Found", {"Location": location, "Content-Length": "0"}))
        await writer.drain()
    elif mode == "echo-key":
        forms = {
            "raw": key,
            "upper": key.upper(),
            "url": quote(key, safe=""),
            "b64": base64.b64encode(key.encode()).decode(),
            "b64_user": base64.b64encode(f"user:{key}".encode()).decode(),
            "b64_bearer": base64.b64encode(f"Bearer {key}".encode()).decode(),
        }
        body = json.dumps({"error": {"message": " ".join(forms.values())}}).encode()
        echoed = {f"X-Echo-{name}": value for name, value in forms.items()}
        writer.write(
            _head(
                "401 Unauthorized",
                {
                    "Content-Type": "application/json",
                    "Content-Length": str(len(body)),
                    **echoed,
                },
            )
            + body
        )
        await writer.drain()
    else:
        writer.write(_head("404 Not Found", {"Content-Length": "0"}))
        await writer.drain()


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        path, headers = await asyncio.wait_for(_read_request(reader), 5.0)
        await asyncio.wait_for(_serve(path, headers, writer), _CONNECTION_LIMIT)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError):
        pass  # the client hung up (cap or timeout): that is the point
    except asyncio.CancelledError:
        pass  # the server is stopping
    finally:
        writer.close()


async def _main() -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def watch_stdin() -> None:  # the parent closes our stdin (or dies): stop
        sys.stdin.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()
    async with server:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), _LIFETIME)


if __name__ == "__main__":
    asyncio.run(_main())
