"""Anthropic's Messages API on the conformance server: `POST /v1/messages` (`anthropic/echo`).

Checked as Anthropic does: `model`, `max_tokens` and `messages` required, roles user and
assistant, text and image blocks only (an image's declared `media_type` must be JPEG, PNG, GIF
or WEBP and match its bytes, at most 5 MB, at most 100 a request). Images are decoded with the
real decoders like every other route; the answer describes the last user turn, as a message or
as Anthropic's named SSE events. Auth: `x-api-key` when the server has a key.
"""

from __future__ import annotations

import hmac
import itertools
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mmkit.server.answer import Answer, describe_text, make_answer
from mmkit.server.native_body import NativeChat, Readers, flag, positive_int
from mmkit.server.options import ServerOptions
from mmkit.server.parse import TOKENS_PER, MediaJob, Plan
from mmkit.server.replies import Rejection, error_response

IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_IMAGES = 100
MAX_IMAGE_BYTES = 5 * 1024 * 1024
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}
_ids = itertools.count(1)


def routes(options: ServerOptions, readers: Readers) -> list[Route]:
    handler = _Messages(options, readers)
    return [Route("/v1/messages", handler.messages, methods=["POST"])]


class _Messages:
    def __init__(self, options: ServerOptions, readers: Readers) -> None:
        self.options = options
        self.readers = readers
        self._key = options.api_key.encode() if options.api_key else None

    async def messages(self, request: Request) -> Response:
        try:
            self._authorize(request)
            raw = await self.readers.read_body(request, self.options)
            chat = await self.readers.parsed(raw, self._plan)
        except Rejection as rejection:
            return error_response("anthropic", rejection)
        answer = make_answer(chat.plan.descriptions(), chat.plan.prompt_tokens, chat.max_tokens)
        if chat.stream:
            return _stream(answer, chat.model)
        return JSONResponse(_message(answer, chat.model))

    def _plan(self, raw: bytes) -> NativeChat:
        return _plan_messages(self.readers.json_body(raw))

    def _authorize(self, request: Request) -> None:
        if self._key is None:
            return
        given = request.headers.get("x-api-key", "")
        # compare_digest: the time taken says nothing about how much of the key matched.
        if not hmac.compare_digest(given.strip().encode("latin-1", "replace"), self._key):
            said = "invalid x-api-key" if given else "x-api-key header is required"
            raise Rejection(401, said)


def _plan_messages(body: Mapping[str, Any]) -> NativeChat:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Rejection(400, "model: Field required")
    max_tokens = positive_int(body, "max_tokens")
    if max_tokens is None:
        raise Rejection(400, "max_tokens: Field required")
    stream = flag(body, "stream")
    plan = Plan()
    system = body.get("system")
    if isinstance(system, str):
        plan.prompt_tokens += len(system.split())
    elif isinstance(system, list):
        for index, block in enumerate(system):
            if not isinstance(block, Mapping) or block.get("type") != "text":
                raise Rejection(400, f"system.{index}: system blocks must be text blocks")
            _text(block.get("text"), f"system.{index}", plan)
    elif system is not None:
        raise Rejection(400, "system: must be a string or a list of text blocks")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejection(400, "messages: at least one message is required")
    images = 0
    for m, message in enumerate(messages):
        where = f"messages.{m}"
        if not isinstance(message, Mapping):
            raise Rejection(400, f"{where}: must be an object")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise Rejection(400, f"{where}.role: must be 'user' or 'assistant', not {role!r}")
        start = len(plan.items)
        content = message.get("content")
        if isinstance(content, str):
            plan.items.append(_text(content, f"{where}.content", plan))
        elif isinstance(content, list) and content:
            for b, block in enumerate(content):
                item = _block(block, f"{where}.content.{b}", role, plan)
                images += isinstance(item, MediaJob) or str(item).startswith("image URL")
                plan.items.append(item)
        else:
            raise Rejection(400, f"{where}.content: must be a string or a non-empty list")
        if role == "user":
            plan.last_user = range(start, len(plan.items))
    if images > MAX_IMAGES:
        raise Rejection(400, f"messages: too many images ({images}); at most {MAX_IMAGES}")
    return NativeChat(plan, stream, max_tokens, model)


def _text(text: Any, where: str, plan: Plan) -> str:
    if not isinstance(text, str) or not text.strip():
        raise Rejection(400, f"{where}: text content blocks must contain non-whitespace text")
    plan.prompt_tokens += len(text.split())
    return describe_text(text)


def _block(block: Any, where: str, role: str, plan: Plan) -> str | MediaJob:
    if not isinstance(block, Mapping):
        raise Rejection(400, f"{where}: must be an object with a 'type'")
    kind = block.get("type")
    if kind == "text":
        return _text(block.get("text"), where, plan)
    if kind != "image":
        raise Rejection(400, f"{where}.type: {kind!r} is not a block type this server reads")
    if role != "user":
        raise Rejection(400, f"{where}: image blocks are only allowed in user messages")
    source = block.get("source")
    if not isinstance(source, Mapping):
        raise Rejection(400, f"{where}.source: Field required")
    plan.prompt_tokens += TOKENS_PER["image"]
    if source.get("type") == "url":
        return f"image URL {_shown_url(source.get('url'), where)}"
    if source.get("type") != "base64":
        raise Rejection(400, f"{where}.source.type: must be 'base64' or 'url'")
    media_type, data = source.get("media_type"), source.get("data")
    if media_type not in IMAGE_TYPES:
        raise Rejection(
            400,
            f"{where}.source.media_type: Input should be 'image/jpeg', 'image/png', "
            "'image/gif' or 'image/webp'",
        )
    if not isinstance(data, str) or not data:
        raise Rejection(400, f"{where}.source.data: Field required")
    if len(data) // 4 * 3 > MAX_IMAGE_BYTES:
        raise Rejection(400, f"{where}.source.base64: image exceeds 5 MB maximum")
    return MediaJob("image", where, data, declared=media_type, allowed=IMAGE_TYPES)


def _shown_url(url: Any, where: str) -> str:
    """An image URL as shown in the answer: never fetched (offline), its query left out."""
    if not isinstance(url, str):
        raise Rejection(400, f"{where}.source.url: Field required")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Rejection(400, f"{where}.source.url: must be an http(s) URL")
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _message(answer: Answer, model: str) -> dict[str, Any]:
    return {
        "id": _new_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": _STOP_REASONS[answer.finish_reason],
        "stop_sequence": None,
        "usage": {"input_tokens": answer.prompt_tokens, "output_tokens": answer.completion_tokens},
    }


def _stream(answer: Answer, model: str) -> Response:
    """Anthropic's named events: message_start, a text block's start/deltas/stop (a ping in
    between, as Anthropic sends), message_delta with the stop reason and usage, message_stop."""

    def event(name: str, data: dict[str, Any]) -> bytes:
        payload = json.dumps({"type": name, **data}, separators=(",", ":"))
        return f"event: {name}\ndata: {payload}\n\n".encode()

    async def events() -> AsyncIterator[bytes]:
        start = _message(answer, model)
        start.update(content=[], stop_reason=None)
        start["usage"] = {"input_tokens": answer.prompt_tokens, "output_tokens": 1}
        yield event("message_start", {"message": start})
        block = {"type": "text", "text": ""}
        yield event("content_block_start", {"index": 0, "content_block": block})
        yield event("ping", {})
        for piece in answer.pieces:
            delta = {"type": "text_delta", "text": piece}
            yield event("content_block_delta", {"index": 0, "delta": delta})
        yield event("content_block_stop", {"index": 0})
        stop = {"stop_reason": _STOP_REASONS[answer.finish_reason], "stop_sequence": None}
        usage = {"output_tokens": answer.completion_tokens}
        yield event("message_delta", {"delta": stop, "usage": usage})
        yield event("message_stop", {})

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


def _new_id() -> str:
    return f"msg_echo{next(_ids):010d}"
