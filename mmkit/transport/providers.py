"""Providers: one entry each, routed by the model's prefix (`bytez/…`, `openai/…`, `echo`).

A Provider is data plus a few small functions: where to send, how to authenticate, which wire
format encodes the messages, how parameters are named, which it refuses, and how to read a reply
or a stream. The client never branches on a provider's name; adding a provider is one `register`.
"""

from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from mmkit.errors import (
    AuthError,
    ConfigError,
    InvalidOptionError,
    ServerError,
    TransportError,
)
from mmkit.transport.reply import Function, Reply, ToolCall, Usage, tool_calls_from_json
from mmkit.transport.secret import Secret
from mmkit.transport.sse import LineTooLongError, SSEDecoder

logger = logging.getLogger("mmkit.transport")

Json = dict[str, Any]

# Response headers worth keeping on a Reply: rate-limit state and Bytez's inference metering.
KEPT_HEADERS = ("ratelimit-", "x-ratelimit-", "inference-", "x-request-id", "retry-after")


class StreamParser(ABC):
    """Push parser for one streamed reply: `feed` text chunks, get text pieces, then `reply`."""

    finished = False  # the body said it is done ([DONE]); the rest is not read

    @abstractmethod
    def feed(self, chunk: str) -> list[str]:
        """The text pieces in this chunk of the body."""

    def end(self) -> list[str]:
        """Pieces still buffered when the body ends."""
        return []

    @abstractmethod
    def reply(self, headers: dict[str, str], attempts: int) -> Reply:
        """The whole answer, once the body has ended."""


@dataclass(frozen=True, kw_only=True)
class Provider(ABC):
    """One chat API. Subclasses say how its requests and replies look."""

    name: str
    prefix: str | None  # routes "<prefix>/<model>"; None: reached only as the fallback
    wire_format: str  # a name registered in mmkit.formats
    base_url: str | Callable[[], str] | None = None  # a callable starts a server (echo)
    key_env: str | None = None
    key_required: bool = False  # against the default base_url; a custom one makes it optional
    auth_scheme: str = "Bearer"
    bare_model: str | None = None  # the model id when the prefix stands alone ("echo")
    param_names: Mapping[str, str] = field(default_factory=dict)  # caller's name -> wire name
    refused: Mapping[str, str] = field(default_factory=dict)  # name -> hint for the caller
    accepted: frozenset[str] | None = None  # None: any other keyword passes through as is
    kept_headers: tuple[str, ...] = KEPT_HEADERS
    extra_headers: Mapping[str, str] = field(default_factory=dict)  # sent on every request

    # --- routing and auth (called once, when a client is made) ---------------------------------

    def resolve_base_url(self, base_url: str | None) -> str:
        chosen = base_url if base_url is not None else self.base_url
        if callable(chosen):
            chosen = chosen()
        if not chosen:
            raise ConfigError(f"provider {self.name!r} needs base_url=")
        return check_base_url(chosen)

    def api_key(
        self, api_key: str | Secret | None, custom_base_url: bool, model: str | None = None
    ) -> Secret | None:
        """The caller's key, else the provider's environment variable; AuthError when required."""
        if isinstance(api_key, Secret):
            return self._header_safe(api_key, "api_key=", model)
        if api_key:
            return self._header_safe(Secret(api_key), "api_key=", model)
        from_env = os.environ.get(self.key_env) if self.key_env else None
        if from_env:
            return self._header_safe(Secret(from_env), str(self.key_env), model)
        if self.key_required and not custom_base_url:
            raise AuthError(
                f"no API key for {self.name}: set the {self.key_env} environment variable "
                "or pass api_key=",
                status=None,
                provider=self.name,
                model=model,
            )
        return None

    def _header_safe(self, key: Secret, source: str, model: str | None) -> Secret:
        """Refuse now a key no HTTP header can carry: httpx would fail at send time with a
        UnicodeEncodeError, or with an error that quotes the header (and so the key)."""
        value = key.reveal()
        if not (value.isascii() and value.isprintable()) or value != value.strip():
            raise AuthError(
                f"the API key for {self.name} (from {source}) has a character an HTTP header "
                "cannot carry: a newline, a control or non-ASCII character, or whitespace at "
                "either end; check that it was copied whole and nothing else",
                status=None,
                provider=self.name,
                model=model,
            )
        return key

    def auth_header(self, key: Secret) -> str:
        return f"{self.auth_scheme} {key.reveal()}"

    def auth_headers(self, key: Secret) -> dict[str, str]:
        """The headers that carry the key (Anthropic and Gemini name their own)."""
        return {"Authorization": self.auth_header(key)}

    @abstractmethod
    def url(self, base_url: str, model_id: str) -> str:
        """Where a chat request for this model goes."""

    def stream_url(self, base_url: str, model_id: str) -> str:
        """Where a streamed request goes (Gemini streams from another method)."""
        return self.url(base_url, model_id)

    # --- requests ------------------------------------------------------------------------------

    def map_params(self, params: Mapping[str, Any], drop: bool) -> Json:
        """Caller's parameters under this provider's names; refused ones raise or are dropped."""
        out: Json = {}
        for name, value in params.items():
            if value is None:  # None means "not set", as in the openai SDK and LiteLLM
                continue
            hint = self.refused.get(name)
            if hint is not None or (self.accepted is not None and name not in self.accepted):
                if drop:
                    logger.debug(
                        "dropped parameter %s: provider %s does not take it", name, self.name
                    )
                    continue
                raise InvalidOptionError(
                    f"provider {self.name} does not take the parameter {name!r}"
                    f"{'; ' + hint if hint else ''}; pass drop_params=True to drop it"
                )
            wire = self.param_names.get(name, name)
            if wire in out:
                raise InvalidOptionError(
                    f"two parameters set {wire!r} for provider {self.name}; pass only one"
                )
            out[wire] = value
        return out

    @abstractmethod
    def body(self, model_id: str, messages: list[Json], params: Json, stream: bool) -> Json:
        """The JSON body from encoded messages and mapped parameters."""

    # --- replies -------------------------------------------------------------------------------

    @abstractmethod
    def reply(self, data: Any, model_id: str, headers: dict[str, str], attempts: int) -> Reply:
        """A Reply from a parsed success body (error bodies sent with 200 raise)."""

    @abstractmethod
    def stream_parser(self, model_id: str) -> StreamParser:
        """A fresh parser for one streamed body."""

    def error_class(self, status: int, data: Any) -> type[TransportError] | None:
        """The error-tree class this provider means by `status` with this body, when its status
        alone says otherwise (Gemini answers a wrong key with 400); None: by the status."""
        return None

    def error_message(self, data: Any, text: str) -> str:
        """The server's own words from an error body (OpenAI, Bytez, FastAPI and plain shapes)."""
        if isinstance(data, Mapping):
            error = data.get("error")
            if isinstance(error, Mapping) and isinstance(error.get("message"), str):
                return str(error["message"])
            if isinstance(error, str) and error:
                return error
            for key in ("message", "detail"):
                value = data.get(key)
                if isinstance(value, str) and value:
                    return value
                if value:
                    return json.dumps(value)
        return text.strip() or "(empty body)"  # the client scrubs the key, then cuts to length

    def keep_headers(self, headers: httpx.Headers) -> dict[str, str]:
        """The response headers worth keeping, read from the raw pairs (no decoding of the rest)."""
        prefixes = self._kept_raw
        return {
            k.decode("latin-1").lower(): v.decode("latin-1")
            for k, v in headers.raw
            if k.lower().startswith(prefixes)
        }

    @cached_property
    def _kept_raw(self) -> tuple[bytes, ...]:
        return tuple(prefix.encode("latin-1") for prefix in self.kept_headers)


def check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url must be an http(s) URL with a host, not {base_url!r}")
    if parts.username or parts.password:  # it would show in reprs and logs
        raise ConfigError("base_url must not carry credentials; pass the key as api_key=")
    return base_url.rstrip("/")


# --- OpenAI Chat Completions (OpenAI, vLLM, LiteLLM proxy, transformers serve, echo) ------------


def _content_text(content: Any) -> str:
    """A message's content as text: a string, or the text parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") in ("text", "output_text")
        )
    return ""


@dataclass(frozen=True, kw_only=True)
class OpenAICompatible(Provider):
    """`POST {base_url}/chat/completions`, Bearer auth, SSE streaming, params as named."""

    stream_usage: bool = False  # ask for usage in the last chunk (servers known to accept it)

    def url(self, base_url: str, model_id: str) -> str:
        return f"{base_url}/chat/completions"

    def body(self, model_id: str, messages: list[Json], params: Json, stream: bool) -> Json:
        body: Json = {"model": model_id, "messages": messages, **params}
        if stream:
            body["stream"] = True
            if self.stream_usage:
                body.setdefault("stream_options", {"include_usage": True})
        return body

    def reply(self, data: Any, model_id: str, headers: dict[str, str], attempts: int) -> Reply:
        choices = data.get("choices") if isinstance(data, Mapping) else None
        if not isinstance(choices, list) or not choices:
            if isinstance(data, Mapping) and data.get("error"):
                raise ServerError(
                    f"{self.name} {model_id}: {self.error_message(data, '')}",
                    status=200,
                    provider=self.name,
                    model=model_id,
                )
            raise ServerError(
                f"{self.name} {model_id}: the reply has no choices",
                status=200,
                provider=self.name,
                model=model_id,
            )
        texts = [_content_text(_get(c, "message", "content")) for c in choices]
        return Reply(
            text=texts[0],
            texts=texts,
            model=str(data.get("model") or model_id),
            finish_reason=_get(choices[0], "finish_reason"),
            usage=Usage.from_json(data.get("usage")),
            headers=headers,
            raw=data,
            id=data.get("id"),
            provider=self.name,
            attempts=attempts,
            tool_calls=tool_calls_from_json(_get(choices[0], "message", "tool_calls")),
        )

    def stream_parser(self, model_id: str) -> StreamParser:
        return _SSEChatParser(self, model_id)


def _get(item: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(item, Mapping):
            return None
        item = item.get(key)
    return item


class _SSEChatParser(StreamParser):
    """OpenAI chunks over SSE: `choices[0].delta.content`, ending with `data: [DONE]`."""

    def __init__(self, provider: Provider, model_id: str) -> None:
        self._provider, self._model = provider, model_id
        self._sse = SSEDecoder()
        self._pieces: list[str] = []
        self._last: Any = None
        self._id: str | None = None
        self._model_seen: str | None = None
        self._finish: str | None = None
        self._usage = Usage()
        self._calls = _ToolCallParts()

    def feed(self, chunk: str) -> list[str]:
        try:
            return self._events(self._sse.feed(chunk))
        except LineTooLongError as exc:
            raise self._too_long(exc) from None

    def end(self) -> list[str]:
        return self._events(self._sse.end())

    def _too_long(self, exc: LineTooLongError) -> TransportError:
        return TransportError(
            f"{self._provider.name} {self._model}: the stream is broken: {exc} without ending "
            "(a chat event is far shorter); check the server",
            provider=self._provider.name,
            model=self._model,
        )

    def _events(self, events: list[str]) -> list[str]:
        pieces: list[str] = []
        for event in events:
            if event.strip() == "[DONE]":
                self.finished = True
                break
            piece = self._chunk(event)
            if piece:
                pieces.append(piece)
        self._pieces.extend(pieces)
        return pieces

    def _chunk(self, event: str) -> str | None:
        try:
            data = json.loads(event)
        except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
            raise ServerError(
                # its length only: the event is not scrubbed of the key here
                f"{self._provider.name} {self._model}: a stream event of {len(event)} chars is "
                "not JSON",
                provider=self._provider.name,
                model=self._model,
            ) from None
        if not isinstance(data, Mapping):
            return None
        if data.get("error"):  # servers report failures mid-stream as an error event
            raise TransportError(
                f"{self._provider.name} {self._model}: the stream failed: "
                f"{self._provider.error_message(data, event)}",
                provider=self._provider.name,
                model=self._model,
            )
        self._last = data
        self._id = self._id or data.get("id")
        self._model_seen = self._model_seen or data.get("model")
        if data.get("usage"):
            self._usage = Usage.from_json(data["usage"])
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices:
            return None
        first = choices[0]
        if _get(first, "finish_reason"):
            self._finish = first["finish_reason"]
        self._calls.add(_get(first, "delta", "tool_calls"))
        content = _get(first, "delta", "content")
        return content if isinstance(content, str) else None

    def reply(self, headers: dict[str, str], attempts: int) -> Reply:
        text = "".join(self._pieces)
        return Reply(
            text=text,
            texts=[text],
            model=self._model_seen or self._model,
            finish_reason=self._finish,
            usage=self._usage,
            headers=headers,
            raw=self._last,
            id=self._id,
            provider=self._provider.name,
            attempts=attempts,
            tool_calls=self._calls.calls(),
        )


class _ToolCallParts:
    """Streamed tool-call deltas joined by their `index`: the first piece of a call carries its
    id and name, the next ones more of its arguments (the openai SDK adds them up the same way)."""

    def __init__(self) -> None:
        self._parts: dict[int, tuple[str, str, str, list[str]]] = {}

    def add(self, deltas: Any) -> None:
        if not isinstance(deltas, list):
            return
        for position, delta in enumerate(deltas):
            if not isinstance(delta, Mapping):
                continue
            index = delta.get("index")
            index = index if isinstance(index, int) else position
            function = delta.get("function")
            function = function if isinstance(function, Mapping) else {}
            call_id, kind, name, arguments = self._parts.get(index, ("", "function", "", []))
            call_id = call_id or str(delta.get("id") or "")
            kind = str(delta.get("type") or kind)
            name = name or str(function.get("name") or "")
            piece = function.get("arguments")
            if isinstance(piece, str):
                arguments.append(piece)
            self._parts[index] = (call_id, kind, name, arguments)

    def calls(self) -> list[ToolCall]:
        return [
            ToolCall(
                id=call_id or f"call_{index}",
                function=Function(name=name, arguments="".join(arguments)),
                type=kind,
            )
            for index, (call_id, kind, name, arguments) in sorted(self._parts.items())
        ]


# --- Bytez native API -------------------------------------------------------------------------

# OpenAI-only features Hugging Face `generate` has no use for; each is refused by name.
_BYTEZ_REFUSED = {
    **{
        name: ""
        for name in (
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "functions",
            "function_call",
            "response_format",
            "logprobs",
            "top_logprobs",
            "logit_bias",
            "user",
            "stream_options",
            "modalities",
            "audio",
            "reasoning_effort",
            "service_tier",
            "store",
            "metadata",
            "prediction",
            "web_search_options",
        )
    },
    "presence_penalty": "Hugging Face models take repetition_penalty",
    "frequency_penalty": "Hugging Face models take repetition_penalty",
}


def model_path(model_id: str) -> str:
    """`org/model` as percent-encoded path segments; empty, `.` and `..` segments refused."""
    segments = model_id.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ConfigError(
                f"model id {model_id!r} has an empty, '.' or '..' path segment; "
                "expected <org>/<model>"
            )
    return "/".join(quote(segment, safe="") for segment in segments)


@dataclass(frozen=True, kw_only=True)
class BytezNative(Provider):
    """`POST {base_url}/models/v2/<org>/<model>`, `Key` auth, params in Hugging Face names."""

    def url(self, base_url: str, model_id: str) -> str:
        return f"{base_url}/models/v2/{model_path(model_id)}"

    def body(self, model_id: str, messages: list[Json], params: Json, stream: bool) -> Json:
        return {"messages": messages, "stream": stream, "params": params}

    def reply(self, data: Any, model_id: str, headers: dict[str, str], attempts: int) -> Reply:
        if isinstance(data, Mapping) and data.get("error"):
            raise ServerError(
                f"{self.name} {model_id}: {self.error_message(data, '')}",
                status=200,
                provider=self.name,
                model=model_id,
            )
        output = data.get("output") if isinstance(data, Mapping) else None
        # One answer is a message (content a string or a list of parts); several are a list.
        items = output if isinstance(output, list) else [output]
        texts = [_bytez_text(item) for item in items if item is not None]
        if not texts:
            raise ServerError(
                f"{self.name} {model_id}: the reply has no output",
                status=200,
                provider=self.name,
                model=model_id,
            )
        return Reply(
            text=texts[0],
            texts=texts,
            model=model_id,
            headers=headers,
            raw=data,
            provider=self.name,
            attempts=attempts,
        )

    def stream_parser(self, model_id: str) -> StreamParser:
        return _TextStreamParser(self.name, model_id)


def _bytez_text(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        if "content" in item:
            return _content_text(item["content"])
        if isinstance(item.get("generated_text"), str):  # the pipeline's own output shape
            return str(item["generated_text"])
    return _content_text(item)


class _TextStreamParser(StreamParser):
    """A plain-text stream: every chunk is a piece of the answer."""

    def __init__(self, provider: str, model_id: str) -> None:
        self._provider, self._model = provider, model_id
        self._pieces: list[str] = []

    def feed(self, chunk: str) -> list[str]:
        if not chunk:
            return []
        self._pieces.append(chunk)
        return [chunk]

    def reply(self, headers: dict[str, str], attempts: int) -> Reply:
        text = "".join(self._pieces)
        return Reply(
            text=text,
            texts=[text],
            model=self._model,
            headers=headers,
            provider=self._provider,
            attempts=attempts,
        )


# --- the registry -----------------------------------------------------------------------------

# Parameters OpenAI's own API takes; anything else would be a 400 there, so it is refused here.
OPENAI_PARAMS = frozenset(
    {
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "reasoning_effort",
        "response_format",
        "safety_identifier",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)


def echo_root() -> str:
    """The shared local server's address (started on first use), for every echo route."""
    from mmkit.server import shared_echo_server

    return shared_echo_server().base_url


def _echo_base_url() -> str:
    return f"{echo_root()}/v1"


_REGISTRY: dict[str, Provider] = {}

# A model with no known prefix, sent to the caller's base_url.
COMPATIBLE = OpenAICompatible(name="openai-compatible", prefix=None, wire_format="openai")


def register(provider: Provider) -> Provider:
    """Route `<prefix>/<model>` to this provider (adding a provider is this one call)."""
    if provider.prefix is None:
        raise ConfigError(f"provider {provider.name!r} needs a prefix to be routed to")
    _REGISTRY[provider.prefix] = provider
    return provider


# stop -> stop_strings: Hugging Face generate's name (it needs the tokenizer, which Bytez's
# pipelines pass); seed and every other keyword go through under their own names.
BYTEZ = register(
    BytezNative(
        name="bytez",
        prefix="bytez",
        wire_format="bytez",
        base_url="https://api.bytez.com",
        key_env="BYTEZ_API_KEY",
        key_required=True,
        auth_scheme="Key",
        param_names={
            "max_tokens": "max_new_tokens",
            "max_completion_tokens": "max_new_tokens",
            "n": "num_return_sequences",
            "stop": "stop_strings",
        },
        refused=_BYTEZ_REFUSED,
    )
)
OPENAI = register(
    OpenAICompatible(
        name="openai",
        prefix="openai",
        wire_format="openai",
        base_url="https://api.openai.com/v1",
        key_env="OPENAI_API_KEY",
        key_required=True,
        accepted=OPENAI_PARAMS,
        stream_usage=True,
    )
)
ECHO = register(
    OpenAICompatible(
        name="echo",
        prefix="echo",
        wire_format="openai",
        base_url=_echo_base_url,
        bare_model="echo",
    )
)


# "<prefix>/echo": the local conformance server speaking that provider's API (no key sent).
_ECHOES: dict[str, Provider] = {}


def register_echo(provider: Provider) -> Provider:
    """Route `<prefix>/echo` to `provider`, a copy of a provider aimed at the local server."""
    _ECHOES[f"{provider.prefix}/echo"] = provider
    return provider


def resolve(model: str, base_url: str | None) -> tuple[Provider, str]:
    """(provider, model id as the server names it) for a model string such as `bytez/org/m`."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be a non-empty string, not {model!r}")
    if model in _ECHOES:
        return _ECHOES[model], "echo"
    head, _, rest = model.partition("/")
    provider = _REGISTRY.get(head)
    if provider is not None:
        if rest:
            return provider, rest
        if provider.bare_model is not None:
            return provider, provider.bare_model
        raise ConfigError(f"model {model!r} needs a model id after the prefix: {head}/<model>")
    if base_url is not None:
        return COMPATIBLE, model
    raise ConfigError(
        f"model {model!r} names no known provider; use one of the prefixes "
        f"{', '.join(p + '/' for p in sorted(_REGISTRY))} (or 'echo'), or pass base_url= "
        "for an OpenAI-compatible server"
    )


def known_prefixes() -> list[str]:
    return sorted(_REGISTRY)
