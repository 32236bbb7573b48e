"""Anthropic's Messages API: `anthropic/<model>` (and `anthropic/echo`, the local server).

`POST {base_url}/v1/messages` with `x-api-key` and `anthropic-version: 2023-06-01`. The body is
`to_anthropic`'s `{system, messages}` plus the model, `max_tokens` (required by Anthropic:
`DEFAULT_MAX_TOKENS` when the caller sets none) and the parameters under Anthropic's names.
Streams are named SSE events whose data carry the same `type`. Finish reasons are given in
OpenAI's words (`end_turn` -> `stop`, `max_tokens` -> `length`); the raw body keeps Anthropic's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from mmkit.errors import ServerError
from mmkit.formats.anthropic import request
from mmkit.transport.json_events import JsonEventParser
from mmkit.transport.providers import Provider, StreamParser, echo_root, register, register_echo
from mmkit.transport.reply import Reply, Usage
from mmkit.transport.secret import Secret

API_VERSION = "2023-06-01"
# Sent when the caller sets no max_tokens (Anthropic requires one): room for a long answer on
# every current Claude model (LiteLLM's default is 4096 too).
DEFAULT_MAX_TOKENS = 4096
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# The caller's (OpenAI) names that Anthropic spells differently.
PARAM_NAMES = {
    "max_completion_tokens": "max_tokens",
    "stop": "stop_sequences",
}
ACCEPTED = frozenset(
    {
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop",
        "stop_sequences",
        "metadata",
        "service_tier",
        "thinking",
        "tools",
        "tool_choice",
    }
)
REFUSED = {
    "n": "Anthropic returns one answer a call; make n calls",
    "presence_penalty": "Anthropic has no penalties",
    "frequency_penalty": "Anthropic has no penalties",
    "seed": "Anthropic takes no seed",
}


def finish_reason(value: Any) -> str | None:
    return FINISH_REASONS.get(value, value) if isinstance(value, str) else None


def usage(data: Any) -> Usage:
    """Anthropic's `input_tokens`/`output_tokens` in mmkit's (OpenAI's) names."""
    if not isinstance(data, Mapping):
        return Usage()
    return Usage.from_json(
        {"prompt_tokens": data.get("input_tokens"), "completion_tokens": data.get("output_tokens")}
    )


def _text(content: Any) -> str:
    if not isinstance(content, list):
        return ""
    return "".join(
        str(block.get("text", ""))
        for block in content
        if isinstance(block, Mapping) and block.get("type") == "text"
    )


@dataclass(frozen=True, kw_only=True)
class AnthropicMessages(Provider):
    def url(self, base_url: str, model_id: str) -> str:
        return f"{base_url}/v1/messages"

    def auth_headers(self, key: Secret) -> dict[str, str]:
        return {"x-api-key": key.reveal()}

    def map_params(self, params: Mapping[str, Any], drop: bool) -> dict[str, Any]:
        out = super().map_params(params, drop)
        if isinstance(out.get("stop_sequences"), str):  # OpenAI's stop may be one string
            out["stop_sequences"] = [out["stop_sequences"]]
        return out

    def body(
        self, model_id: str, messages: list[dict[str, Any]], params: dict[str, Any], stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model_id, "max_tokens": DEFAULT_MAX_TOKENS}
        body.update(request(messages))
        body.update(params)
        if stream:
            body["stream"] = True
        return body

    def reply(self, data: Any, model_id: str, headers: dict[str, str], attempts: int) -> Reply:
        if not isinstance(data, Mapping) or data.get("type") == "error" or "content" not in data:
            said = self.error_message(data, "") if isinstance(data, Mapping) else ""
            raise ServerError(
                f"{self.name} {model_id}: the reply has no content"
                + (f": {said}" if said and said != "(empty body)" else ""),
                status=200,
                provider=self.name,
                model=model_id,
            )
        text = _text(data.get("content"))
        return Reply(
            text=text,
            texts=[text],
            model=str(data.get("model") or model_id),
            finish_reason=finish_reason(data.get("stop_reason")),
            usage=usage(data.get("usage")),
            headers=headers,
            raw=data,
            id=data.get("id"),
            provider=self.name,
            attempts=attempts,
        )

    def stream_parser(self, model_id: str) -> StreamParser:
        return _AnthropicEvents(self, model_id)


class _AnthropicEvents(JsonEventParser):
    """message_start, content_block_start/delta/stop, message_delta, message_stop, ping, error."""

    def __init__(self, provider: Provider, model_id: str) -> None:
        super().__init__(provider, model_id)
        self._input: Any = None
        self._output: Any = None

    def event(self, data: Any, text: str) -> str | None:
        if not isinstance(data, Mapping):
            return None
        kind = data.get("type")
        if kind == "error":
            error = data.get("error")
            overloaded = isinstance(error, Mapping) and error.get("type") == "overloaded_error"
            raise self.failed(data, text, 529 if overloaded else None)
        self._last = data
        if kind == "message_start" and isinstance(data.get("message"), Mapping):
            message = data["message"]
            self._id = message.get("id")
            self._model_seen = message.get("model")
            start = message.get("usage")
            if isinstance(start, Mapping):
                self._input = start.get("input_tokens")
                self._output = start.get("output_tokens")
        elif kind == "content_block_delta":
            delta = data.get("delta")
            if isinstance(delta, Mapping) and delta.get("type") == "text_delta":
                piece = delta.get("text")
                return piece if isinstance(piece, str) else None
        elif kind == "message_delta":
            delta = data.get("delta")
            if isinstance(delta, Mapping) and delta.get("stop_reason"):
                self._finish = finish_reason(delta["stop_reason"])
            end = data.get("usage")
            if isinstance(end, Mapping):  # counts so far: the last one holds
                self._output = end.get("output_tokens", self._output)
                self._input = end.get("input_tokens") or self._input
        elif kind == "message_stop":
            self.finished = True
        return None

    def usage(self) -> Usage:
        return usage({"input_tokens": self._input, "output_tokens": self._output})


ANTHROPIC = register(
    AnthropicMessages(
        name="anthropic",
        prefix="anthropic",
        wire_format="anthropic",
        base_url="https://api.anthropic.com",
        key_env="ANTHROPIC_API_KEY",
        key_required=True,
        param_names=PARAM_NAMES,
        accepted=ACCEPTED,
        refused=REFUSED,
        extra_headers={"anthropic-version": API_VERSION},
    )
)
# `anthropic/echo`: the same API on the local conformance server, with no key.
ANTHROPIC_ECHO = register_echo(
    replace(ANTHROPIC, name="anthropic-echo", base_url=echo_root, key_env=None, key_required=False)
)
