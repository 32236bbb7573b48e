"""The two APIs' reply shapes: OpenAI and Bytez bodies, headers, streams and errors."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator, Mapping
from http import HTTPStatus
from typing import Any, Literal

from starlette.responses import JSONResponse, Response, StreamingResponse

from mmkit.server.answer import Answer

Api = Literal["openai", "bytez", "anthropic", "gemini"]

# OpenAI's error `type` for each status (what its SDKs and LiteLLM switch on).
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_exceeded",
    500: "server_error",
    503: "server_error",
}
# Bytez's error strings where it is known; other statuses say what went wrong.
_BYTEZ_MESSAGES = {401: "Unauthorized", 429: "Rate limit exceeded"}
_ids = itertools.count(1)


class RateWindow:
    """Requests counted in fixed windows, for Bytez's ratelimit-* headers (a made-up quota)."""

    def __init__(self, limit: int = 1000, seconds: int = 60) -> None:
        self.limit = limit
        self.seconds = seconds
        self._window = -1
        self._used = 0

    def hit(self) -> tuple[int, int]:
        """(remaining, seconds until the window resets) after counting this request."""
        now = time.time()
        window = int(now // self.seconds)
        if window != self._window:
            self._window, self._used = window, 0
        self._used += 1
        reset = (window + 1) * self.seconds - now
        return max(0, self.limit - self._used), max(1, int(reset + 0.5))


class Rejection(Exception):
    """A request refused with `status`; rendered in the shape of the API it came to."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})


def api_of(path: str) -> Api:
    """Bytez native routes are /models/v2/<org>/<model>, Anthropic's /v1/messages, Gemini's
    /v1beta/...; the rest speak OpenAI."""
    if path.startswith("/models/v2/") and not path.startswith("/models/v2/openai/"):
        return "bytez"
    if path == "/v1/messages":
        return "anthropic"
    if path.startswith("/v1beta/"):
        return "gemini"
    return "openai"


def error_response(api: Api, rejection: Rejection) -> Response:
    status = rejection.status
    body: dict[str, Any]
    if api == "bytez":
        message = _BYTEZ_MESSAGES.get(status, rejection.message)
        body = {"error": message, "output": None}
    elif api in ("anthropic", "gemini"):
        from mmkit.server.native_errors import native_error

        body = native_error(api, status, rejection.message)
    else:
        fallback = "server_error" if status >= 500 else "invalid_request_error"
        kind = _OPENAI_TYPES.get(status, fallback)
        body = {
            "error": {
                "message": rejection.message,
                "type": kind,
                "param": None,
                "code": rejection.code,
            }
        }
    return JSONResponse(body, status_code=status, headers=rejection.headers or None)


def status_message(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def openai_reply(answer: Answer, model: str) -> Response:
    body = {
        "id": _new_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": answer.finish_reason,
            }
        ],
        "usage": answer.usage(),
    }
    return JSONResponse(body)


def openai_stream(answer: Answer, model: str, include_usage: bool) -> Response:
    """SSE: a role chunk, one chunk a word piece, a finish chunk, then `[DONE]`."""
    base = {
        "id": _new_id(),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, str], finish: str | None = None, **extra: Any) -> bytes:
        payload = {
            **base,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    async def events() -> AsyncIterator[bytes]:
        yield chunk({"role": "assistant"})
        for piece in answer.pieces:
            yield chunk({"content": piece})
        extra = {"usage": answer.usage()} if include_usage else {}
        yield chunk({}, answer.finish_reason, **extra)
        yield b"data: [DONE]\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


def bytez_reply(
    answer: Answer, content_as_list: bool, quota: RateWindow, started: float
) -> Response:
    content: Any = [{"type": "text", "text": answer.text}] if content_as_list else answer.text
    body = {"error": None, "output": {"role": "assistant", "content": content}}
    return JSONResponse(body, headers=bytez_headers(answer, quota, started))


def bytez_stream(answer: Answer, quota: RateWindow, started: float) -> Response:
    """Plain text chunks (not SSE): the pieces join to the whole reply."""

    async def pieces() -> AsyncIterator[bytes]:
        for piece in answer.pieces:
            yield piece.encode()

    return StreamingResponse(
        pieces(),
        media_type="text/plain; charset=utf-8",
        headers=bytez_headers(answer, quota, started),
    )


def bytez_headers(answer: Answer, quota: RateWindow, started: float) -> dict[str, str]:
    """The headers Bytez sends: quota, tokens metered, and seconds spent on the request."""
    remaining, reset = quota.hit()
    return {
        "ratelimit-limit": str(quota.limit),
        "ratelimit-remaining": str(remaining),
        "ratelimit-reset": str(reset),
        "inference-meter": str(answer.prompt_tokens + answer.completion_tokens),
        "inference-time": f"{max(0.0, time.perf_counter() - started):.4f}",
    }


def seconds_header(value: float) -> str:
    """`Retry-After` as an integer when whole ("1"), else a short decimal ("0.25")."""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _new_id() -> str:
    return f"chatcmpl-echo{next(_ids):010d}"
