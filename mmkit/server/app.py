"""The starlette app: routes, auth, bounded body reading, and the two chat handlers."""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mmkit.server import anthropic_routes, gemini_routes
from mmkit.server.answer import make_answer
from mmkit.server.budget import check_json_budget
from mmkit.server.faults import FaultMiddleware, StatsCounter
from mmkit.server.native_body import Readers
from mmkit.server.options import DEFAULT_OPTIONS, ServerOptions
from mmkit.server.parse import Plan, plan_bytez, plan_openai
from mmkit.server.replies import (
    Api,
    RateWindow,
    Rejection,
    api_of,
    bytez_reply,
    bytez_stream,
    error_response,
    openai_reply,
    openai_stream,
    status_message,
)

MODEL_ID = "echo"
_MODELS_BODY = {
    "object": "list",
    "data": [{"id": MODEL_ID, "object": "model", "owned_by": "mmkit"}],
}
# Bodies above this size are parsed and checked in a worker thread, not on the event loop
# (parsing costs about 60 ns a byte: 64 KiB holds the loop a few milliseconds at most).
_THREADED_PARSE_BYTES = 64 * 1024
# A \uD800-\uDFFF escape in the raw body (cheap to look for), and a lone surrogate in a parsed
# string: json.loads lets "\ud800" through, and no UTF-8 reply or stream can carry it.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def create_app(options: ServerOptions = DEFAULT_OPTIONS) -> Starlette:
    """The conformance server as an ASGI app; `app.state.stats` counts its requests."""
    server = _Handlers(options)
    routes = [
        Route("/v1/chat/completions", server.openai_chat, methods=["POST"]),
        Route("/chat/completions", server.openai_chat, methods=["POST"]),
        Route("/models/v2/openai/v1/chat/completions", server.openai_chat, methods=["POST"]),
        Route("/v1/models", server.models, methods=["GET"]),
        Route("/models", server.models, methods=["GET"]),
        Route("/models/v2/openai/v1/models", server.models, methods=["GET"]),
        Route("/models/v2/{org}/{model}", server.bytez_chat, methods=["POST"]),
    ]
    # Anthropic's and Gemini's routes read bodies with this module's readers, handed to them
    readers = Readers(_read_body, partial(_json_body, options=options), _native_parsed(options))
    routes += anthropic_routes.routes(options, readers) + gemini_routes.routes(options, readers)
    stats = StatsCounter()
    app = Starlette(
        routes=routes,
        middleware=[Middleware(FaultMiddleware, options=options, stats=stats)],
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.stats = stats
    app.state.options = options
    return app


class _Handlers:
    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self._key = options.api_key.encode() if options.api_key else None
        self._quota = RateWindow()

    async def models(self, request: Request) -> Response:
        try:
            self._authorize(request, "openai")
        except Rejection as rejection:
            return error_response("openai", rejection)
        return JSONResponse(_MODELS_BODY)

    async def openai_chat(self, request: Request) -> Response:
        try:
            self._authorize(request, "openai")
            raw = await _read_body(request, self.options)
            chat = await _parsed(raw, _openai_chat, self.options)
        except Rejection as rejection:
            return error_response("openai", rejection)
        answer = make_answer(chat.plan.descriptions(), chat.plan.prompt_tokens, chat.max_tokens)
        if chat.stream:
            return openai_stream(answer, chat.model, chat.include_usage)
        return openai_reply(answer, chat.model)

    async def bytez_chat(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            self._authorize(request, "bytez")
            raw = await _read_body(request, self.options)
            chat = await _parsed(raw, _bytez_chat, self.options)
        except Rejection as rejection:
            return error_response("bytez", rejection)
        answer = make_answer(chat.plan.descriptions(), chat.plan.prompt_tokens, chat.max_tokens)
        if chat.stream:
            return bytez_stream(answer, self._quota, started)
        return bytez_reply(answer, self.options.bytez_content_as_list, self._quota, started)

    def _authorize(self, request: Request, api: Api) -> None:
        if self._key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        wanted = "bearer" if api == "openai" else "key"
        # compare_digest: the time taken says nothing about how much of the key matched.
        if scheme.lower() != wanted or not hmac.compare_digest(
            token.strip().encode("latin-1", "replace"), self._key
        ):
            how = "Bearer <key>" if api == "openai" else "Key <key>"
            message = (
                "Incorrect API key provided"
                if token
                else f"You didn't provide an API key; send the header 'Authorization: {how}'"
            )
            raise Rejection(401, message, "invalid_api_key")


@dataclass
class _Chat:
    """A chat request, checked and planned (media not decoded yet)."""

    plan: Plan
    stream: bool
    max_tokens: int | None
    model: str = MODEL_ID
    include_usage: bool = False


def _openai_chat(raw: bytes, options: ServerOptions) -> _Chat:
    body = _json_body(raw, options)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Rejection(400, "you must provide a model parameter", "missing_model")
    stream = _flag(body, "stream")
    max_tokens = _positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens")
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, Mapping):
        raise Rejection(400, "'stream_options' must be an object", "invalid_value")
    include_usage = bool(stream_options and stream_options.get("include_usage"))
    return _Chat(plan_openai(body), stream, max_tokens, model, include_usage)


def _bytez_chat(raw: bytes, options: ServerOptions) -> _Chat:
    body = _json_body(raw, options)
    stream = _flag(body, "stream")
    params = body.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise Rejection(400, "'params' must be an object of generation settings")
    return _Chat(plan_bytez(body), stream, _positive_int(params, "max_new_tokens"))


def _native_parsed(
    options: ServerOptions,
) -> Callable[[bytes, Callable[[bytes], Any]], Awaitable[Any]]:
    """`_parsed` for the Anthropic and Gemini routes, whose planners take the raw body only."""

    async def parsed(raw: bytes, plan: Callable[[bytes], Any]) -> Any:
        return await _parsed(raw, lambda body, _: plan(body), options)

    return parsed


async def _parsed(
    raw: bytes, parse: Callable[[bytes, ServerOptions], _Chat], options: ServerOptions
) -> _Chat:
    """Parse and check a body, then decode its media: a big body is parsed in a worker thread
    (a 1M-part body held the event loop, and every other request, for seconds)."""
    if len(raw) > _THREADED_PARSE_BYTES:
        chat = await run_in_threadpool(parse, raw, options)
    else:
        chat = parse(raw, options)
    media = len(chat.plan.jobs)
    if media > options.max_media_parts:  # each is a real decode: count them before any runs
        raise Rejection(
            400,
            f"The request has {media:,} inline media parts, over the server's limit of "
            f"{options.max_media_parts:,}; send fewer images, audio or video parts",
            "too_many_media_parts",
        )
    if media:  # CPU-bound decoding never runs on the loop
        await run_in_threadpool(chat.plan.decode)
    return chat


def _json_body(raw: bytes, options: ServerOptions) -> Mapping[str, Any]:
    # Counted before parsing: json.loads builds every value it reads, whatever their number.
    check_json_budget(raw, options.max_json_values, options.max_json_depth)
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # Recursion: nested too deep
        raise Rejection(
            400,
            "We could not parse the JSON body of your request; send valid JSON",
            "invalid_json",
        ) from None
    if not isinstance(body, dict):
        raise Rejection(400, "The request body must be a JSON object", "invalid_json")
    if _SURROGATE_ESCAPE.search(raw) and _has_lone_surrogate(body):
        raise Rejection(
            400,
            "The JSON body has an unpaired UTF-16 surrogate escape (\\ud800-\\udfff); "
            "send valid Unicode text",
            "invalid_json",
        )
    return body


def _has_lone_surrogate(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


async def _read_body(request: Request, options: ServerOptions) -> bytes:
    """The body, refused with 413 as soon as it is known (header) or seen (count) to be too big,
    and with 408 when it does not arrive within `options.body_timeout` (a trickling client)."""
    limit = options.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(options.body_timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
    except ClientDisconnect:
        # The client gave up (a timeout): nobody reads this answer, and it is no server error.
        raise Rejection(499, "The client closed the connection", "client_closed") from None
    except TimeoutError:
        raise Rejection(
            408,
            f"The request body did not arrive within {options.body_timeout:g} s; send it at once",
            "request_timeout",
            {"connection": "close"},
        ) from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> Rejection:
    return Rejection(
        413, f"The request body is over the server's {limit:,}-byte limit", "request_too_large"
    )


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise Rejection(400, f"'{name}' must be true or false", "invalid_value")
    return value


def _positive_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Rejection(400, f"'{name}' must be a positive integer", "invalid_value")
    return value


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors (404, 405) in the shape of the API the path belongs to."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"{status_message(status)}: {request.method} {request.url.path}"
    code = "not_found" if status == 404 else None
    headers = getattr(exc, "headers", None)
    return error_response(api_of(request.url.path), Rejection(status, message, code, headers))


async def _internal_error(request: Request, exc: Exception) -> Response:
    """A bug in the server still answers in the API's shape (uvicorn logs the traceback)."""
    rejection = Rejection(500, "The conformance server failed on this request", "server_error")
    return error_response(api_of(request.url.path), rejection)
