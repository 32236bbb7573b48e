"""Gemini API contents (generateContent).

A turn is `{"role": "user"|"model", "parts": [...]}` with parts `{"text": …}`,
`{"inline_data": {"mime_type": …, "data": <raw base64>}}` or `{"file_data": {"mime_type": …,
"file_uri": …}}`. System (and developer) turns become the top-level `systemInstruction`
(`request()`). Images, audio and video all go inline: Gemini's Files API, where larger media
would go, is out of scope, so past `MAX_INLINE_BYTES` of inline data a request is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pybase64

from mmkit.errors import InvalidOptionError, MediaTooLargeError, UnsupportedFormatError
from mmkit.formats.base import EncodeContext, Json, ParseContext, Target, WireFormat, parse_text
from mmkit.formats.registry import register
from mmkit.media.audio import AudioLimits
from mmkit.media.image import ImageLimits
from mmkit.media.video import VideoLimits
from mmkit.message import Message
from mmkit.parts import Audio, Image, Part, Text, Video

# Gemini's inline-data limit a request (shared/docs/wire-formats.md §8): counted as the base64
# text sent. A setting: `to_gemini(messages, max_inline_bytes=...)`.
MAX_INLINE_BYTES = 20 * 1024 * 1024
TARGET = Target(
    images=ImageLimits(
        mimes=frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}),
        animation=False,
        max_bytes=MAX_INLINE_BYTES,
    ),
    videos=VideoLimits(
        native=True,
        mimes=frozenset(
            {
                "video/mp4",
                "video/mpeg",
                "video/quicktime",
                "video/x-msvideo",
                "video/x-flv",
                "video/mpg",
                "video/webm",
                "video/x-ms-wmv",
                "video/3gpp",
            }
        ),
        max_bytes=MAX_INLINE_BYTES,
    ),
    fetches_urls=False,  # file_data takes Files API URIs, not any URL: media goes inline
    audio=AudioLimits(
        accepts=frozenset({"wav/*", "mp3/*", "aiff/*", "aac/*", "ogg/*", "flac/*"}),
        writes=("wav", "mp3"),
        max_bytes=MAX_INLINE_BYTES,
    ),
    fetches_audio_urls=False,
)
# Gemini's documented names where they differ from mmkit's (read back through normalize_mime).
_GEMINI_MIMES = {"audio/mpeg": "audio/mp3"}
_ROLES = {"user": "user", "assistant": "model"}
_SYSTEM_ROLES = ("system", "developer")


class GeminiFormat(WireFormat):
    name = "gemini"
    target = TARGET

    def encode(
        self, messages: Iterable[Message | Mapping[str, Any]] | Message, **options: Any
    ) -> list[Json]:
        """The turns as Gemini contents (system turns kept with role "system": `request()`
        lifts them out); refused past `max_inline_bytes` (default 20 MB) of inline data."""
        limit = options.pop("max_inline_bytes", MAX_INLINE_BYTES)
        out = super().encode(messages, **options)
        total = sum(
            len(part["inline_data"]["data"])
            for content in out
            for part in content["parts"]
            if "inline_data" in part
        )
        if limit is not None and total > limit:
            raise MediaTooLargeError(
                f"this request has {total:,} bytes of inline media (base64), over Gemini's "
                f"{limit:,}-byte inline limit a request; send fewer or smaller media (max_side=, "
                "start=/end= on a video), or upload them through Gemini's Files API"
            )
        return out

    def encode_part(self, part: Part, context: EncodeContext) -> Json | list[Json]:
        if isinstance(part, Text):
            if not part.text:
                raise InvalidOptionError(
                    "Gemini refuses an empty text part; drop the part or give it some text"
                )
            return {"text": part.text}
        if isinstance(part, Video):
            how, value = context.video_source(part)
            if how != "frames":
                return _media(how, value)
            out: list[Json] = []
            for label, frame_how, uri in value:
                out.append({"text": label})
                out.append(_media(frame_how, uri))
            return out
        if isinstance(part, Image):
            return _media(*context.image_source(part))
        if isinstance(part, Audio):
            sent = context.audio_source(part)
            if isinstance(sent, str):  # a caller's target that passes audio URLs
                return {"file_data": {"file_uri": sent}}
            data = pybase64.b64encode(sent.data).decode("ascii")
            mime = _GEMINI_MIMES.get(sent.mime, sent.mime)
            return {"inline_data": {"mime_type": mime, "data": data}}
        raise UnsupportedFormatError(f"Gemini parts cannot carry a {type(part).__name__}")

    def wrap_message(self, message: Message, parts: list[Json]) -> Json:
        if message.role in _SYSTEM_ROLES:
            role = "system"
        elif message.role in _ROLES:
            role = _ROLES[message.role]
        else:
            raise UnsupportedFormatError(
                f"Gemini has no {message.role!r} role (tool results go as functionResponse "
                "parts, which mmkit does not write yet); use user, assistant or system"
            )
        if message.name is not None:
            raise UnsupportedFormatError(
                f"Gemini contents carry no name (this one is named {message.name!r}); drop "
                "name= or say who speaks in the text"
            )
        if message.extra:
            raise UnsupportedFormatError(
                f"Gemini contents cannot carry {', '.join(sorted(message.extra))} (mmkit "
                "writes text and media parts only); drop them for this target"
            )
        if not parts:
            raise InvalidOptionError(f"Gemini refuses a {message.role} turn with no parts")
        if role == "system" and any("text" not in p for p in parts):
            raise UnsupportedFormatError(
                "Gemini's systemInstruction takes text only; move the media to a user message"
            )
        return {"role": role, "parts": parts}

    def parse_message(
        self, item: Mapping[str, Any], context: ParseContext | None = None
    ) -> Message:
        context = context or ParseContext()
        role = item.get("role", "user")  # Gemini reads a content with no role as the user's
        roles = {"user": "user", "model": "assistant", "system": "system"}
        if role not in roles:
            raise InvalidOptionError(f"role is {role!r}; Gemini contents are 'user' or 'model'")
        parts = item.get("parts")
        if not isinstance(parts, list):
            raise InvalidOptionError("a Gemini content needs 'parts', a list")
        out: list[Part] = []
        for index, part in enumerate(parts):
            where = f"part {index + 1}"
            if not isinstance(part, Mapping):
                raise InvalidOptionError(f"{where} is a {type(part).__name__}, not a dict")
            out.append(self.parse_part(part, where, context))
        return Message(roles[role], out)  # type: ignore[arg-type]

    def parse_part(self, part: Mapping[str, Any], where: str, context: ParseContext) -> Part:
        if "text" in part:
            return parse_text(part["text"], where)
        for key in ("inline_data", "inlineData"):
            if key in part:
                spec = _spec(part[key], key, where)
                mime, data = _field(spec, "mime_type"), spec.get("data")
                if not isinstance(mime, str) or not isinstance(data, str):
                    raise InvalidOptionError(f"{where}: {key} needs 'mime_type' and 'data' strings")
                return _part(mime, f"data:{mime};base64,{data}", where, context)
        for key in ("file_data", "fileData"):
            if key in part:
                spec = _spec(part[key], key, where)
                uri, mime = _field(spec, "file_uri"), _field(spec, "mime_type")
                if not isinstance(uri, str) or not isinstance(mime, str):
                    raise InvalidOptionError(
                        f"{where}: {key} needs 'file_uri' and 'mime_type' strings (the type "
                        "says whether it is an image, audio or a video)"
                    )
                return _part(mime, uri, where, context)
        raise UnsupportedFormatError(
            f"{where} has keys {sorted(part)}, which mmkit cannot carry yet; known parts are "
            "'text', 'inline_data' and 'file_data'"
        )


def _media(how: str, value: str) -> Json:
    if how == "url":  # only for a caller's target that lets Gemini fetch URLs
        return {"file_data": {"file_uri": value}}
    header, _, data = value.partition(",")  # a data URI: "data:<type>;base64,<data>"
    mime = header[len("data:") :].split(";", 1)[0]
    return {"inline_data": {"mime_type": _GEMINI_MIMES.get(mime, mime), "data": data}}


def _spec(value: Any, key: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidOptionError(f"{where}: {key} must be an object")
    return value


def _field(spec: Mapping[str, Any], snake: str) -> Any:
    """A field under its REST name or its camelCase JSON name (Gemini reads both)."""
    head, *rest = snake.split("_")
    return spec.get(snake, spec.get(head + "".join(word.title() for word in rest)))


def _part(mime: str, value: str, where: str, context: ParseContext) -> Part:
    kind = mime.split("/", 1)[0].lower()
    if kind == "image":
        return Image(context.source(value, "image", where))
    if kind == "audio":
        return Audio(context.source(value, "audio", where))
    if kind == "video":
        return Video(context.source(value, "video", where))
    raise UnsupportedFormatError(
        f"{where} holds {mime}; mmkit carries image, audio and video parts"
    )


def request(messages: list[Json]) -> Json:
    """Encoded turns as `{"systemInstruction": …, "contents": [...]}`: the leading system turns
    become the top-level `systemInstruction`."""
    system: list[Json] = []
    contents: list[Json] = []
    for index, message in enumerate(messages):
        if message["role"] != "system":
            contents.append(message)
            continue
        if contents:  # Gemini has one system instruction, before the conversation
            raise InvalidOptionError(
                f"message {index + 1} is a system turn after the conversation started; "
                "Gemini takes one systemInstruction, before the first turn: move it to the start"
            )
        system.extend(message["parts"])
    out: Json = {}
    if system:
        out["systemInstruction"] = {"parts": system}
    out["contents"] = contents
    return out


def parse_request(
    request: Mapping[str, Any] | Iterable[Mapping[str, Any]], *, local_files: bool = False
) -> list[Message]:
    """`{"systemInstruction": …, "contents": [...]}` (or a list of contents) into Messages."""
    if not isinstance(request, Mapping):
        return FORMAT.parse(request, local_files=local_files)
    out: list[Message] = []
    system = request.get("systemInstruction", request.get("system_instruction"))
    if isinstance(system, str):
        system = {"parts": [{"text": system}]}
    if system is not None:
        if not isinstance(system, Mapping):
            raise InvalidOptionError("systemInstruction must be an object with 'parts'")
        out += FORMAT.parse([{**system, "role": "system"}], local_files=local_files)
    contents = request.get("contents")
    if not isinstance(contents, list):
        raise InvalidOptionError("a Gemini request needs 'contents', a list of content dicts")
    return out + FORMAT.parse(contents, local_files=local_files)


FORMAT = register(GeminiFormat())
