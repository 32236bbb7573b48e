"""The Gemini API on the conformance server (`gemini/echo`):
`POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`.

Checked as Gemini does: `contents` required, roles user and model, parts of `text`,
`inline_data` (snake_case or camelCase; image, audio and video types Gemini lists, the declared
type matching the bytes) or `file_data` (described, never fetched), at most 20 MB of inline data
a request; `generationConfig.maxOutputTokens` cuts the answer, `candidateCount` repeats it.
Media are decoded with the real decoders like every other route. Auth: `x-goog-api-key` (or
`?key=`) when the server has a key.
"""

from __future__ import annotations

import hmac
import itertools
import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from mmkit.server.answer import Answer, describe_text, make_answer
from mmkit.server.native_body import NativeChat, Readers
from mmkit.server.options import ServerOptions
from mmkit.server.parse import TOKENS_PER, Kind, MediaJob, Plan
from mmkit.server.replies import Rejection, error_response

MIME_TYPES: dict[str, frozenset[str]] = {
    "image": frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}),
    "audio": frozenset(
        {
            "audio/wav",
            "audio/mp3",
            "audio/mpeg",
            "audio/aiff",
            "audio/aac",
            "audio/ogg",
            "audio/flac",
        }
    ),
    "video": frozenset(
        {
            "video/mp4",
            "video/mpeg",
            "video/mov",
            "video/quicktime",
            "video/avi",
            "video/x-msvideo",
            "video/x-flv",
            "video/mpg",
            "video/webm",
            "video/wmv",
            "video/x-ms-wmv",
            "video/3gpp",
        }
    ),
}
MAX_INLINE_BYTES = 20 * 1024 * 1024
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS"}
_ids = itertools.count(1)


def routes(options: ServerOptions, readers: Readers) -> list[Route]:
    handler = _Generate(options, readers)
    return [
        Route("/v1beta/models/{model}:generateContent", handler.generate, methods=["POST"]),
        Route("/v1beta/models/{model}:streamGenerateContent", handler.stream, methods=["POST"]),
    ]


class _Generate:
    def __init__(self, options: ServerOptions, readers: Readers) -> None:
        self.options = options
        self.readers = readers
        self._key = options.api_key.encode() if options.api_key else None

    async def generate(self, request: Request) -> Response:
        return await self._answer(request, stream=False)

    async def stream(self, request: Request) -> Response:
        if request.query_params.get("alt") != "sse":
            rejection = Rejection(400, "the conformance server streams with alt=sse only")
            return error_response("gemini", rejection)
        return await self._answer(request, stream=True)

    async def _answer(self, request: Request, stream: bool) -> Response:
        model = request.path_params["model"]
        try:
            self._authorize(request)
            raw = await self.readers.read_body(request, self.options)
            chat = await self.readers.parsed(raw, self._planner(model, stream))
        except Rejection as rejection:
            return error_response("gemini", rejection)
        answer = make_answer(chat.plan.descriptions(), chat.plan.prompt_tokens, chat.max_tokens)
        if stream:
            return _stream(answer, model)
        return JSONResponse(_response(answer, model, chat.candidates))

    def _planner(self, model: str, stream: bool) -> Callable[[bytes], NativeChat]:
        def plan(raw: bytes) -> NativeChat:
            return _plan_generate(self.readers.json_body(raw), model, stream)

        return plan

    def _authorize(self, request: Request) -> None:
        if self._key is None:
            return
        given = request.headers.get("x-goog-api-key") or request.query_params.get("key", "")
        # compare_digest: the time taken says nothing about how much of the key matched.
        if not given:
            raise Rejection(403, "Method doesn't allow unregistered callers; send x-goog-api-key")
        if not hmac.compare_digest(given.strip().encode("latin-1", "replace"), self._key):
            raise Rejection(400, "API key not valid. Please pass a valid API key.")


def _plan_generate(body: Mapping[str, Any], model: str, stream: bool) -> NativeChat:
    plan = Plan()
    inline = [0]
    system = body.get("systemInstruction", body.get("system_instruction"))
    if system is not None:
        if not isinstance(system, Mapping):
            raise Rejection(400, "systemInstruction: must be a Content object")
        _parts(system.get("parts"), "systemInstruction", plan, inline)
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        raise Rejection(400, "contents is not specified")
    for c, content in enumerate(contents):
        where = f"contents[{c}]"
        if not isinstance(content, Mapping):
            raise Rejection(400, f"{where}: must be a Content object")
        role = content.get("role", "user")
        if role not in ("user", "model"):
            raise Rejection(400, f"{where}.role: please use a valid role: user, model")
        start = len(plan.items)
        plan.items.extend(_parts(content.get("parts"), where, plan, inline))
        if role == "user":
            plan.last_user = range(start, len(plan.items))
    if inline[0] > MAX_INLINE_BYTES:
        raise Rejection(
            400, f"Request payload size exceeds the limit: {MAX_INLINE_BYTES} bytes of inline data"
        )
    max_tokens, candidates = _generation_config(body)
    return NativeChat(plan, stream, max_tokens, model, candidates)


def _generation_config(body: Mapping[str, Any]) -> tuple[int | None, int]:
    config = body.get("generationConfig", body.get("generation_config"))
    if config is None:
        return None, 1
    if not isinstance(config, Mapping):
        raise Rejection(400, "generationConfig: must be an object")
    values = []
    for camel, snake in (
        ("maxOutputTokens", "max_output_tokens"),
        ("candidateCount", "candidate_count"),
    ):
        value = config.get(camel, config.get(snake))
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise Rejection(400, f"generationConfig.{camel}: must be a positive integer")
        values.append(value)
    if values[1] is not None and values[1] > 8:
        raise Rejection(400, "generationConfig.candidateCount: must be at most 8")
    return values[0], values[1] or 1


def _parts(parts: Any, where: str, plan: Plan, inline: list[int]) -> list[str | MediaJob]:
    if not isinstance(parts, list) or not parts:
        raise Rejection(400, f"{where}: must include at least one parts field")
    out: list[str | MediaJob] = []
    for p, part in enumerate(parts):
        here = f"{where}.parts[{p}]"
        if not isinstance(part, Mapping):
            raise Rejection(400, f"{here}: must be a Part object")
        if "text" in part:
            text = part["text"]
            if not isinstance(text, str) or not text:
                raise Rejection(
                    400, f"{here}: Unable to submit request because it has an empty text parameter"
                )
            plan.prompt_tokens += len(text.split())
            out.append(describe_text(text))
        elif "inline_data" in part or "inlineData" in part:
            out.append(_inline(part.get("inline_data", part.get("inlineData")), here, plan, inline))
        elif "file_data" in part or "fileData" in part:
            out.append(_file(part.get("file_data", part.get("fileData")), here, plan))
        else:
            raise Rejection(400, f"{here}: a part needs text, inline_data or file_data")
    return out


def _field(spec: Mapping[str, Any], snake: str, camel: str) -> Any:
    return spec.get(snake, spec.get(camel))


def _kind(mime: Any, where: str) -> Kind:
    major = mime.split("/", 1)[0] if isinstance(mime, str) else ""
    if major not in MIME_TYPES or mime not in MIME_TYPES[major]:
        raise Rejection(400, f"{where}: Unsupported MIME type: {mime}")
    return "image" if major == "image" else "audio" if major == "audio" else "video"


def _inline(spec: Any, where: str, plan: Plan, inline: list[int]) -> MediaJob:
    if not isinstance(spec, Mapping):
        raise Rejection(400, f"{where}.inline_data: must be a Blob object")
    mime, data = _field(spec, "mime_type", "mimeType"), spec.get("data")
    kind = _kind(mime, f"{where}.inline_data")
    if not isinstance(data, str) or not data:
        raise Rejection(400, f"{where}.inline_data.data: required")
    inline[0] += len(data)
    plan.prompt_tokens += TOKENS_PER[kind]
    return MediaJob(
        kind, where, data, declared=mime, allowed=MIME_TYPES["image"] if kind == "image" else None
    )


def _file(spec: Any, where: str, plan: Plan) -> str:
    if not isinstance(spec, Mapping):
        raise Rejection(400, f"{where}.file_data: must be a FileData object")
    uri, mime = _field(spec, "file_uri", "fileUri"), _field(spec, "mime_type", "mimeType")
    kind = _kind(mime, f"{where}.file_data")
    if not isinstance(uri, str):
        raise Rejection(400, f"{where}.file_data.file_uri: required")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https", "gs") or not parts.netloc:
        raise Rejection(400, f"{where}.file_data.file_uri: must be a URL")
    plan.prompt_tokens += TOKENS_PER[kind]
    return f"{kind} file {parts.scheme}://{parts.netloc}{parts.path}"


def _usage(answer: Answer) -> dict[str, int]:
    return {
        "promptTokenCount": answer.prompt_tokens,
        "candidatesTokenCount": answer.completion_tokens,
        "totalTokenCount": answer.prompt_tokens + answer.completion_tokens,
    }


def _response(answer: Answer, model: str, count: int) -> dict[str, Any]:
    candidate = {
        "content": {"role": "model", "parts": [{"text": answer.text}]},
        "finishReason": _FINISH[answer.finish_reason],
    }
    return {
        "candidates": [{**candidate, "index": index} for index in range(count)],
        "usageMetadata": _usage(answer),
        "modelVersion": model,
        "responseId": _new_id(),
    }


def _stream(answer: Answer, model: str) -> Response:
    """One GenerateContentResponse an SSE event a word piece; the last carries finishReason and
    usageMetadata. The body's end ends the stream (Gemini sends no [DONE])."""
    response_id = _new_id()

    def chunk(text: str, last: bool) -> bytes:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
        payload: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
        payload["responseId"] = response_id
        if last:
            candidate["finishReason"] = _FINISH[answer.finish_reason]
            payload["usageMetadata"] = _usage(answer)
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\r\n\r\n"

    async def events() -> AsyncIterator[bytes]:
        pieces = answer.pieces or ("",)
        for index, piece in enumerate(pieces):
            yield chunk(piece, index == len(pieces) - 1)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


def _new_id() -> str:
    return f"echo-{next(_ids):010d}"
