"""A real HTTP server on 127.0.0.1 that records every request and answers from a script.

    with recording_server([Answer(200, {"content": ...})]) as server:
        Client("anthropic/claude-x", base_url=server.url, api_key="k").chat("hi")
        (request,) = server.requests   # method, path, headers (lower-case), json body

The last scripted answer repeats once the script runs out. An SSE answer is sent in pieces.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-encoded unless it is bytes or a list of SSE pieces
    headers: dict[str, str] = field(default_factory=dict)
    sse: list[str] | None = None  # events, each sent as its own write


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class RecordingServer:
    def __init__(self, script: list[Answer]) -> None:
        self.script = list(script)
        self.requests: list[Recorded] = []
        self.url = ""

    def next_answer(self) -> Answer:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]


@contextlib.contextmanager
def recording_server(script: list[Answer]) -> Iterator[RecordingServer]:
    state = RecordingServer(script)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            size = int(self.headers.get("content-length", "0"))
            raw = self.rfile.read(size)
            with lock:
                state.requests.append(
                    Recorded(
                        "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, raw
                    )
                )
                answer = state.next_answer()
            if answer.sse is not None:
                self.send_response(answer.status)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                for event in answer.sse:
                    self.wfile.write(event.encode())
                    self.wfile.flush()
                self.close_connection = True
                return
            body = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body)
            data = body.encode() if isinstance(body, str) else body
            self.send_response(answer.status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def sse(*events: tuple[str | None, Any]) -> list[str]:
    """SSE text for (event name or None, JSON data) pairs."""
    out = []
    for name, data in events:
        head = f"event: {name}\n" if name else ""
        out.append(f"{head}data: {json.dumps(data)}\n\n")
    return out
