"""Request bodies built ahead of time, in another process: `RequestBuilder` -> `Prepared`.

A captioning run encodes media in worker processes while the event loop only sends. The builder is
plain data (model, base_url, params: no key, no connection), so it pickles; a worker builds the
exact body the client would, and `chat(prepared)` sends those bytes as they are.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from mmkit import formats
from mmkit.errors import InvalidOptionError, MmkitError
from mmkit.formats import memo
from mmkit.formats.base import Json, Target, WireFormat
from mmkit.message import Message
from mmkit.transport.providers import BytezNative, OpenAICompatible, Provider, resolve

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

    where = f"{provider.name} {model_id}"
    if type(provider).body in _EMBEDS_MESSAGES and (keys := memo.message_keys(messages)):
        options = (wire, _Same(wire.target), media_model, video, fetch)
        listed = _remembered_messages(wire, messages, keys, options, video, fetch, target)
        if listed is not None:
            body = provider.body(model_id, [], wire_params, stream)
            spliced = _spliced(body, listed, extra_body, where)
            if spliced is not None:
                return spliced
    encoded = wire.encode(messages, video=video, fetch=fetch, target=target)
    body = provider.body(model_id, encoded, wire_params, stream)
    if extra_body:  # the openai SDK's escape hatch: fields merged into the body as is
        body.update(extra_body)
    return _dumps(body, where)


# Providers whose body holds the encoded message list as it is, under "messages", and reads
# nothing in it: for them the messages' JSON can be set into the body whole.
_EMBEDS_MESSAGES = frozenset({OpenAICompatible.body, BytezNative.body})
# Stands for the messages while the rest of the body is serialized; no caller's value is this
# (NUL, then a random token), and a body holding it twice is built the plain way.
_SLOT = f"\x00mmkit-messages-{secrets.token_hex(16)}"
_SLOT_JSON = json.dumps(_SLOT).encode()


class _Same:
    """A key part equal only to the very same object: a wire format's Target holds a dict (it
    cannot be hashed), and one set in its place must not find what the old one made."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value  # held, so its id is not reused while the key lives

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.value is self.value


def _remembered_messages(
    wire: WireFormat,
    messages: Any,
    keys: list[tuple[Hashable, int]],
    options: tuple[Hashable, ...],
    video: VideoMode | None,
    fetch: FetchPolicy | None,
    target: Target | None,
) -> bytes | None:
    """The message dicts' JSON list, each message's JSON remembered by its content (see memo):
    only the ones not seen before are parsed and encoded. None: build the list whole (a message
    is refused, or the images pass the request's cap: that build says where)."""
    items = [messages] if isinstance(messages, Mapping) else messages
    full = [(key, *options) for key, _ in keys]
    found = memo.recall_json(full)
    missing = [index for index, kept in enumerate(found) if kept is None]
    if missing:
        counted = sum(kept[1] for kept in found if kept is not None)
        try:
            made = wire.encode_counted(
                [items[index] for index in missing],
                video=video,
                fetch=fetch,
                target=target,
                image_bytes=counted,
            )
        except MmkitError:  # named by its place in this sublist: the whole build names it
            return None
        for index, (encoded, image_bytes) in zip(missing, made, strict=True):
            kept = found[index] = (_dumps(encoded, ""), image_bytes)
            memo.keep_json(full[index], keys[index][1], kept)
    cap = (target or wire.target).max_request_image_bytes
    if cap is not None and sum(kept[1] for kept in found if kept is not None) > cap:
        return None
    return b"[" + b",".join(kept[0] for kept in found if kept is not None) + b"]"


def _spliced(body: Json, listed: bytes, extra_body: Any, where: str) -> bytes | None:
    """`body` as JSON with `listed` as its messages, byte for byte what serializing it whole
    gives; None when the messages are not where the slot is (extra_body replaced them)."""
    body["messages"] = _SLOT
    if extra_body:
        body.update(extra_body)
    head, slot, tail = _dumps(body, where).partition(_SLOT_JSON)
    if not slot or _SLOT_JSON in tail:
        return None
    return b"".join((head, listed, tail))


def _dumps(value: Any, where: str) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":")).encode()
    except (TypeError, ValueError) as exc:  # a numpy scalar, bytes, a date, a cycle...
        raise InvalidOptionError(
            f"{where}: the request cannot be sent as JSON ({exc}); pass "
            "parameters as str, int, float, bool, None, or lists and dicts of them"
        ) from None
