"""Request bodies built ahead of time, in another process: `RequestBuilder` -> `Prepared`.

A captioning run encodes media in worker processes while the event loop only sends. The builder is
plain data (model, base_url, params: no key, no connection), so it pickles; a worker builds the
exact body the client would, and `chat(prepared)` sends those bytes as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from mmkit import formats
from mmkit.errors import InvalidOptionError
from mmkit.message import Message
from mmkit.transport.providers import Provider, resolve

if TYPE_CHECKING:
    from mmkit.media.fetch import FetchPolicy

# How videos go to an OpenAI-shaped receiver: as videos, or as labelled sampled frames.
VideoMode = Literal["native", "frames"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A whole chat request body for `model`, ready to send (`client.chat(prepared)`)."""

    content: bytes = field(repr=False)
    model: str
    stream: bool = False

    def __repr__(self) -> str:
        return f"Prepared(<{len(self.content):,} bytes>, model={self.model!r})"


@dataclass(frozen=True)
class RequestBuilder:
    """What a client needs to build a body, and nothing it needs to send one (no key)."""

    model: str
    base_url: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    drop_params: bool = False
    video: VideoMode | None = None
    fetch: FetchPolicy | None = None  # how media URLs that must be inlined are downloaded
    media_model: str | None = None  # the model whose media rule images are encoded for

    def build(self, messages: Any, *, stream: bool = False, **params: Any) -> Prepared:
        """The body `client.chat(messages, **params)` would send, as a Prepared."""
        provider, model_id = resolve(self.model, self.base_url)
        merged = {**self.params, **params}
        return Prepared(
            build_body(
                provider,
                model_id,
                messages,
                merged,
                stream,
                self.drop_params,
                self.video,
                self.fetch,
                self.media_model,
            ),
            self.model,
            stream,
        )


def build_body(
    provider: Provider,
    model_id: str,
    messages: Any,
    params: dict[str, Any],
    stream: bool,
    drop: bool,
    video: VideoMode | None = None,
    fetch: FetchPolicy | None = None,
    media_model: str | None = None,
) -> bytes:
    """Messages and parameters as the provider's JSON body (the one place bodies are made).
    `fetch`: the policy for media URLs the target needs inlined (default: public hosts only).
    `media_model`: images are encoded at that model's processor size (mmkit.models)."""
    if isinstance(messages, str):  # a bare prompt is one user turn
        messages = [Message.user(messages)]
    extra_body = params.get("extra_body")
    if "extra_body" in params:  # a copy: the caller's dict may be built from again
        params = {name: value for name, value in params.items() if name != "extra_body"}
    wire_params = provider.map_params(params, drop)
    wire = formats.get(provider.wire_format)
    target = None
    if media_model is not None:
        images = replace(wire.target.images, model=media_model)
        target = replace(wire.target, images=images)
    encoded = wire.encode(messages, video=video, fetch=fetch, target=target)
    body = provider.body(model_id, encoded, wire_params, stream)
    if extra_body:  # the openai SDK's escape hatch: fields merged into the body as is
        body.update(extra_body)
    try:
        return json.dumps(body, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:  # a numpy scalar, bytes, a date, a cycle...
        raise InvalidOptionError(
            f"{provider.name} {model_id}: the request cannot be sent as JSON ({exc}); pass "
            "parameters as str, int, float, bool, None, or lists and dicts of them"
        ) from None
