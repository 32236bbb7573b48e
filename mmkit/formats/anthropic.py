"""Anthropic Messages API content blocks.

`{"type":"text","text":…}` and `{"type":"image","source":{"type":"base64","media_type":…,
"data":<raw base64>}}` or `{"type":"image","source":{"type":"url","url":…}}`. Anthropic has no
system role: `request()` lifts the leading system (and developer) turns into the top-level
`system` field. It reads no audio or video: a video goes as labelled sampled frames (as for
OpenAI), and audio is refused with an error that says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from mmkit.errors import InvalidOptionError, MediaTooLargeError, UnsupportedFormatError
from mmkit.formats.base import (
    EncodeContext,
    Json,
    ParseContext,
    Target,
    WireFormat,
    parse_text,
    text_or_parts,
)
from mmkit.formats.registry import register
from mmkit.media.image import ImageLimits
from mmkit.media.video import VideoLimits
from mmkit.message import Message
from mmkit.parts import Audio, Image, Part, Text, Video

# From Anthropic's vision guide (shared/docs/wire-formats.md §7): settings, not constants.
MAX_IMAGES = 100  # image blocks in one request
MANY_IMAGES = 20  # past this many images in a request, each must fit MANY_IMAGES_SIDE
MANY_IMAGES_SIDE = 2000
TARGET = Target(
    images=ImageLimits(
        mimes=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
        animation=False,
        max_bytes=5 * 1024 * 1024,
        max_side=8000,
    ),
    # no video input: sampled frames, as many as fit under the many-images rule with room to spare
    videos=VideoLimits(native=False, max_frames=16),
    fetches_urls=True,  # `source: {type: "url"}`: Anthropic fetches images itself
)
_SYSTEM_ROLES = ("system", "developer")


class AnthropicFormat(WireFormat):
    name = "anthropic"
    target = TARGET

    def encode(
        self, messages: Iterable[Message | Mapping[str, Any]] | Message, **options: Any
    ) -> list[Json]:
        """The turns as Anthropic messages (system turns kept with role "system": `request()`
        lifts them out), images held to the per-request rules."""
        if options.get("video") == "native":
            raise InvalidOptionError(
                "video='native': Anthropic reads no video; its videos go as sampled frames"
            )
        parsing = ParseContext(local_files=bool(options.get("local_files")), remember=True)
        coerced = self._coerce(messages, parsing)
        chosen = options.get("target") or self.target
        videos = options.get("videos") or chosen.videos
        planned = sum(
            1 if isinstance(p, Image) else videos.max_frames if isinstance(p, Video) else 0
            for message in coerced
            for p in message.content
        )
        if planned > MANY_IMAGES:  # Anthropic's tighter side limit for image-heavy requests
            images = options.get("images") or chosen.images
            side = MANY_IMAGES_SIDE if images.max_side is None else images.max_side
            options["images"] = replace(images, max_side=min(side, MANY_IMAGES_SIDE))
        out = super().encode(coerced, **options)
        count = sum(
            1
            for message in out
            if isinstance(message["content"], list)
            for block in message["content"]
            if block["type"] == "image"
        )
        if count > MAX_IMAGES:
            raise MediaTooLargeError(
                f"this request has {count} images (video frames included); Anthropic takes at "
                f"most {MAX_IMAGES} a request: send fewer images, or fewer frames a video "
                "(videos=VideoLimits(native=False, max_frames=...))"
            )
        return out

    def encode_part(self, part: Part, context: EncodeContext) -> Json | list[Json]:
        if isinstance(part, Text):
            if not part.text.strip():
                raise InvalidOptionError(
                    "Anthropic refuses a text block that is empty or only whitespace; "
                    "drop the part or give it some text"
                )
            return {"type": "text", "text": part.text}
        if isinstance(part, Video):
            how, frames = context.video_source(part)
            if how != "frames":  # a caller's target that claims native video
                raise UnsupportedFormatError(
                    "Anthropic reads no video; send it as frames (videos=VideoLimits(native=False))"
                )
            out: list[Json] = []
            for label, how, value in frames:
                out.append({"type": "text", "text": label})
                out.append(_image_block(how, value))
            return out
        if isinstance(part, Image):
            return _image_block(*context.image_source(part))
        if isinstance(part, Audio):
            raise UnsupportedFormatError(
                "Anthropic's Messages API reads no audio; transcribe it first, or send it to a "
                "model that reads audio (gemini/…, or openai/… with an audio model)"
            )
        raise UnsupportedFormatError(f"Anthropic blocks cannot carry a {type(part).__name__}")

    def wrap_message(self, message: Message, parts: list[Json]) -> Json:
        role = "system" if message.role in _SYSTEM_ROLES else message.role
        if role not in ("system", "user", "assistant"):
            raise UnsupportedFormatError(
                f"Anthropic has no {message.role!r} role (tool results go as tool_result "
                "blocks, which mmkit does not write yet); use user, assistant or system"
            )
        if message.name is not None:
            raise UnsupportedFormatError(
                f"Anthropic messages carry no name (this one is named {message.name!r}); drop "
                "name= or say who speaks in the text"
            )
        if message.extra:
            raise UnsupportedFormatError(
                f"Anthropic messages cannot carry {', '.join(sorted(message.extra))} (mmkit "
                "writes text and image blocks only); drop them for this target"
            )
        if not parts:
            raise InvalidOptionError(f"Anthropic refuses a {role} turn with no content")
        if role != "user" and any(p["type"] == "image" for p in parts):
            where = "system prompt" if role == "system" else "assistant turn"
            raise UnsupportedFormatError(
                f"Anthropic takes images in user turns only, not in a {where}; move the image "
                "to a user message"
            )
        return {"role": role, "content": text_or_parts(parts)}

    def parse_part(self, part: Mapping[str, Any], where: str, context: ParseContext) -> Part:
        kind = part.get("type")
        if kind == "text":
            return parse_text(part.get("text"), where)
        if kind == "image":
            source = part.get("source")
            if not isinstance(source, Mapping):
                raise InvalidOptionError(f"{where}: an image block needs a 'source' object")
            how = source.get("type")
            if how == "url" and isinstance(source.get("url"), str):
                return Image(context.source(source["url"], "image", where))
            media_type, data = source.get("media_type"), source.get("data")
            if how == "base64" and isinstance(media_type, str) and isinstance(data, str):
                uri = f"data:{media_type};base64,{data}"
                return Image(context.source(uri, "image", where))
            raise InvalidOptionError(
                f"{where}: an image source is {{'type': 'base64', 'media_type', 'data'}} or "
                "{'type': 'url', 'url'}"
            )
        raise UnsupportedFormatError(
            f"{where} has type {kind!r}, which mmkit cannot carry yet; known types are "
            "'text' and 'image'"
        )


def _image_block(how: str, value: str) -> Json:
    if how == "url":
        return {"type": "image", "source": {"type": "url", "url": value}}
    header, _, data = value.partition(",")  # a data URI: "data:<type>;base64,<data>"
    media_type = header[len("data:") :].split(";", 1)[0]
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def request(messages: list[Json]) -> Json:
    """Encoded turns as `{"system": …, "messages": [...]}`: the leading system turns become the
    top-level `system` (a string, or text blocks when there are several)."""
    system: list[Json] = []
    turns: list[Json] = []
    for index, message in enumerate(messages):
        if message["role"] != "system":
            turns.append(message)
            continue
        if turns:  # Anthropic has one system prompt, before the conversation
            raise InvalidOptionError(
                f"message {index + 1} is a system turn after the conversation started; "
                "Anthropic takes one system prompt, before the first turn: move it to the start"
            )
        content = message["content"]
        system.extend([{"type": "text", "text": content}] if isinstance(content, str) else content)
    out: Json = {}
    if system:
        out["system"] = text_or_parts(system)
    out["messages"] = turns
    return out


def parse_request(
    request: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, local_files: bool = False
) -> list[Message]:
    """`{"system": …, "messages": [...]}` (or a list of messages) back into Messages."""
    fmt = FORMAT
    if not isinstance(request, Mapping):
        return fmt.parse(request, local_files=local_files)
    out: list[Message] = []
    system = request.get("system")
    if system is not None and system != "" and system != []:
        (message,) = fmt.parse([{"role": "system", "content": system}], local_files=local_files)
        out.append(message)
    messages = request.get("messages")
    if not isinstance(messages, list):
        raise InvalidOptionError("an Anthropic request needs 'messages', a list of message dicts")
    return out + fmt.parse(messages, local_files=local_files)


FORMAT = register(AnthropicFormat())
