"""The Gemini API: `gemini/<model>` (and `gemini/echo`, the local server).

`POST {base_url}/v1beta/models/{model}:generateContent`, streaming from
`:streamGenerateContent?alt=sse`, the key in `x-goog-api-key` (from GEMINI_API_KEY, else
GOOGLE_API_KEY). The body is `to_gemini`'s `{systemInstruction, contents}` plus
`generationConfig`, where the standard parameters go under Gemini's names. Finish reasons are
given in OpenAI's words (`STOP` -> `stop`, `MAX_TOKENS` -> `length`); the raw body keeps Gemini's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from mmkit.errors import AuthError, BadRequestError, ServerError, TransportError
from mmkit.formats.gemini import request
from mmkit.transport.json_events import JsonEventParser
from mmkit.transport.providers import Provider, StreamParser, echo_root, register, register_echo
from mmkit.transport.reply import Reply, Usage
from mmkit.transport.secret import Secret

FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
}
# The caller's (OpenAI) names -> generationConfig's.
GENERATION = {
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
    "max_output_tokens": "maxOutputTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "stop": "stopSequences",
    "stop_sequences": "stopSequences",
    "n": "candidateCount",
    "candidate_count": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "response_mime_type": "responseMimeType",
}
# Top-level request fields passed under their REST names.
TOP_LEVEL = {
    "safety_settings": "safetySettings",
    "tools": "tools",
    "tool_config": "toolConfig",
    "cached_content": "cachedContent",
}
KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


def finish_reason(value: Any) -> str | None:
    return FINISH_REASONS.get(value, value.lower()) if isinstance(value, str) else None


def usage(data: Any) -> Usage:
    """`usageMetadata` in mmkit's (OpenAI's) names."""
    if not isinstance(data, Mapping):
        return Usage()
    return Usage.from_json(
        {
            "prompt_tokens": data.get("promptTokenCount"),
            "completion_tokens": data.get("candidatesTokenCount"),
            "total_tokens": data.get("totalTokenCount"),
        }
    )


def candidate_text(candidate: Any) -> str:
    content = candidate.get("content") if isinstance(candidate, Mapping) else None
    parts = content.get("parts") if isinstance(content, Mapping) else None
    if not isinstance(parts, list):
        return ""
    return "".join(
        str(part["text"])
        for part in parts
        if isinstance(part, Mapping)
        and isinstance(part.get("text"), str)
        and not part.get("thought")
    )


@dataclass(frozen=True, kw_only=True)
class GeminiGenerate(Provider):
    def url(self, base_url: str, model_id: str) -> str:
        return f"{base_url}/v1beta/models/{quote(model_id, safe='')}:generateContent"

    def stream_url(self, base_url: str, model_id: str) -> str:
        return f"{base_url}/v1beta/models/{quote(model_id, safe='')}:streamGenerateContent?alt=sse"

    def auth_headers(self, key: Secret) -> dict[str, str]:
        return {"x-goog-api-key": key.reveal()}

    def api_key(
        self, api_key: str | Secret | None, custom_base_url: bool, model: str | None = None
    ) -> Secret | None:
        """The caller's key, else GEMINI_API_KEY, else GOOGLE_API_KEY (as google-genai reads)."""
        if self.key_env is not None and not api_key and not os.environ.get(self.key_env):
            google = os.environ.get("GOOGLE_API_KEY")
            if google:
                return self._header_safe(Secret(google), "GOOGLE_API_KEY", model)
        try:
            return super().api_key(api_key, custom_base_url, model)
        except AuthError as exc:
            if exc.status is None and "environment variable" in str(exc):
                raise AuthError(
                    f"no API key for {self.name}: set the GEMINI_API_KEY (or GOOGLE_API_KEY) "
                    "environment variable or pass api_key=",
                    status=None,
                    provider=self.name,
                    model=model,
                ) from None
            raise

    def map_params(self, params: Mapping[str, Any], drop: bool) -> dict[str, Any]:
        """Generation parameters into `generationConfig`; the rest as top-level fields."""
        out = super().map_params(params, drop)
        config: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for name, value in out.items():
            if name in ("generationConfig", "generation_config"):
                config.update(value)
            elif name in GENERATION.values():
                config[name] = value
            else:
                body[name] = value
        if isinstance(config.get("stopSequences"), str):  # OpenAI's stop may be one string
            config["stopSequences"] = [config["stopSequences"]]
        if config:
            body["generationConfig"] = config
        return body

    def body(
        self, model_id: str, messages: list[dict[str, Any]], params: dict[str, Any], stream: bool
    ) -> dict[str, Any]:
        return {**request(messages), **params}  # the model and streaming are in the URL

    def reply(self, data: Any, model_id: str, headers: dict[str, str], attempts: int) -> Reply:
        candidates = data.get("candidates") if isinstance(data, Mapping) else None
        if not isinstance(candidates, list) or not candidates:
            feedback = data.get("promptFeedback") if isinstance(data, Mapping) else None
            blocked = feedback.get("blockReason") if isinstance(feedback, Mapping) else None
            if blocked:
                raise BadRequestError(
                    f"{self.name} {model_id}: Gemini blocked the prompt ({blocked}); change "
                    "the prompt or its safety_settings",
                    status=200,
                    provider=self.name,
                    model=model_id,
                )
            said = self.error_message(data, "") if isinstance(data, Mapping) else ""
            raise ServerError(
                f"{self.name} {model_id}: the reply has no candidates"
                + (f": {said}" if data and said != "(empty body)" else ""),
                status=200,
                provider=self.name,
                model=model_id,
            )
        texts = [candidate_text(c) for c in candidates]
        first = candidates[0] if isinstance(candidates[0], Mapping) else {}
        return Reply(
            text=texts[0],
            texts=texts,
            model=str(data.get("modelVersion") or model_id),
            finish_reason=finish_reason(first.get("finishReason")),
            usage=usage(data.get("usageMetadata")),
            headers=headers,
            raw=data,
            id=data.get("responseId"),
            provider=self.name,
            attempts=attempts,
        )

    def stream_parser(self, model_id: str) -> StreamParser:
        return _GeminiEvents(self, model_id)

    def error_class(self, status: int, data: Any) -> type[TransportError] | None:
        # Gemini answers a wrong key with 400 INVALID_ARGUMENT; its ErrorInfo says API_KEY_INVALID
        error = data.get("error") if isinstance(data, Mapping) else None
        details = error.get("details") if isinstance(error, Mapping) else None
        for detail in details if isinstance(details, list) else []:
            if isinstance(detail, Mapping) and detail.get("reason") == "API_KEY_INVALID":
                return AuthError
        return None


class _GeminiEvents(JsonEventParser):
    """Each event a GenerateContentResponse with the next text; the body's end ends it."""

    def __init__(self, provider: Provider, model_id: str) -> None:
        super().__init__(provider, model_id)
        self._usage = Usage()

    def event(self, data: Any, text: str) -> str | None:
        if not isinstance(data, Mapping):
            return None
        if data.get("error"):
            error = data["error"]
            status = error.get("code") if isinstance(error, Mapping) else None
            raise self.failed(data, text, status if isinstance(status, int) else None)
        self._last = data
        self._id = self._id or data.get("responseId")
        self._model_seen = self._model_seen or data.get("modelVersion")
        if data.get("usageMetadata"):
            self._usage = usage(data["usageMetadata"])
        candidates = data.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            return None
        first = candidates[0]
        if isinstance(first, Mapping) and first.get("finishReason"):
            self._finish = finish_reason(first["finishReason"])
        return candidate_text(first) or None

    def usage(self) -> Usage:
        return self._usage


GEMINI = register(
    GeminiGenerate(
        name="gemini",
        prefix="gemini",
        wire_format="gemini",
        base_url="https://generativelanguage.googleapis.com",
        key_env="GEMINI_API_KEY",
        key_required=True,
        param_names={**GENERATION, **TOP_LEVEL},
        accepted=frozenset(GENERATION) | frozenset(TOP_LEVEL) | {"generation_config"},
    )
)
# `gemini/echo`: the same API on the local conformance server, with no key.
GEMINI_ECHO = register_echo(
    replace(GEMINI, name="gemini-echo", base_url=echo_root, key_env=None, key_required=False)
)
