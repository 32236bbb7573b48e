"""What every wire format shares: the message loop, error context, and what a target accepts.

A wire format subclasses `WireFormat`, says what its receiver accepts in a `Target`, and writes
two small functions per part type (encode one part, parse one part). Nothing else in mmkit knows
a provider's shape.

Parsing reads data, not code: every media value found in a dict goes through
`ParseContext.source` (one trust gate, `mmkit.media.source.resolve_wire`), which takes http(s)
URLs and data URIs (and raw base64 in base64 fields) and never touches the file system unless the
caller passed `local_files=True`. A new part type (audio, video) parses its value the same way:
`Audio(context.source(value, "audio", where))`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import pybase64

from mmkit.errors import (
    InvalidOptionError,
    MediaTooLargeError,
    MmkitError,
    UnsupportedFormatError,
    with_where,
)
from mmkit.formats.memo import remembered_message
from mmkit.media.audio import AudioLimits, EncodedAudio
from mmkit.media.image import ImageLimits
from mmkit.media.source import resolve_wire
from mmkit.media.video import VideoLimits, clock
from mmkit.message import Message
from mmkit.offload import copies, needs_work
from mmkit.parts import Audio, Image, Part, Text, Video, check_frame_count

if TYPE_CHECKING:
    from mmkit.media.fetch import FetchPolicy

Json = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """What one receiver accepts. Every field is data a caller can override."""

    images: ImageLimits = field(default_factory=ImageLimits)
    videos: VideoLimits = field(default_factory=VideoLimits)
    fetches_urls: bool = True  # False: every URL is downloaded (safely) and sent inline
    max_request_image_bytes: int | None = None
    audio: AudioLimits = field(default_factory=AudioLimits)
    fetches_audio_urls: bool = True  # False: audio URLs are downloaded and sent inline
    # The receiver's own resize for an image part's `detail` ("low" -> longest side 512):
    # what it would throw away is not sent.
    detail_max_side: Mapping[str, int] = field(default_factory=dict)

    def image_limits(self, detail: str | None) -> ImageLimits:
        """The limits for one image: `images`, tightened by the receiver's rule for `detail`."""
        side = self.detail_max_side.get(detail) if detail is not None else None
        if side is None:
            return self.images
        current = self.images.max_side
        return replace(self.images, max_side=side if current is None else min(side, current))


@dataclass
class EncodeContext:
    """Per-call settings handed to each part encoder."""

    target: Target
    inline: bool | None = None
    fetch: FetchPolicy | None = None
    image_bytes: int = 0
    name: str = ""  # the wire format's name: each part records what this receiver got

    def image_source(self, part: Image) -> tuple[str, str]:
        """('url', url) when the URL goes through as is, else ('data', data URI)."""
        inline = part.inline if part.inline is not None else self.inline
        if part.url is not None and self.target.fetches_urls and not inline:
            return "url", part.url
        encoded = part.encoded(self.target.image_limits(part.detail), self.fetch, self.name)
        self.image_bytes += len(encoded.data)
        cap = self.target.max_request_image_bytes
        if cap is not None and self.image_bytes > cap:
            raise MediaTooLargeError(
                f"the images of this request add up to {self.image_bytes:,} bytes, over the "
                f"target's {cap:,}-byte limit per request; send fewer images or pass max_side="
            )
        return "data", data_uri(encoded.mime, encoded.data)

    def video_source(self, part: Video) -> tuple[str, Any]:
        """('url', url) or ('data', data URI) for a receiver that reads video; ('frames',
        [(label, how, value), ...]) of sampled frames, each through `image_source`, for one
        that does not (or takes no inline video, or when the part asks `as_frames=True`)."""
        limits = self.target.videos
        if limits.native and not part.as_frames:
            inline = part.inline if part.inline is not None else self.inline
            as_is = part.start is None and part.end is None and part.max_side is None
            if part.url is not None and self.target.fetches_urls and not inline and as_is:
                return "url", part.url
            if limits.data_uri:
                encoded = part.encoded(limits, self.fetch, self.name)
                return "data", data_uri(encoded.mime, encoded.data)
        frames = []
        for image in part.sampled(limits, self.fetch, self.name):
            how, value = self.image_source(image)
            frames.append((f"frame at {clock(image.timestamp or 0.0)}", how, value))
        return "frames", frames

    def audio_source(self, part: Audio) -> str | EncodedAudio:
        """The URL when it goes through as is, else the audio encoded for the target."""
        inline = part.inline if part.inline is not None else self.inline
        if part.url is not None and self.target.fetches_audio_urls and not inline:
            return part.url
        return part.encoded(self.target.audio, self.fetch, self.name)


@dataclass(frozen=True)
class ParseContext:
    """How far the dicts being parsed are trusted. Dicts are data: by default their media values
    are http(s) URLs, data URIs or base64 only; `local_files=True` lets them name local files."""

    local_files: bool = False
    # on the way out (to_*, Client.chat): data-URI parts may be reused from earlier calls
    remember: bool = False

    def source(self, value: Any, what: str, where: str, *, base64_field: bool = False) -> Any:
        """A media value from a dict, cleared for a part constructor (see `resolve_wire`)."""
        if not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            needs_work()  # decoding base64 and probing the part it makes
        try:
            return resolve_wire(
                value, what, local_files=self.local_files, base64_field=base64_field
            )
        except MmkitError as exc:
            raise with_where(exc, where) from exc


def data_uri(mime: str, data: bytes) -> str:
    copies(len(data))
    return f"data:{mime};base64,{pybase64.b64encode(data).decode('ascii')}"


class WireFormat(ABC):
    """One receiver's message shape: `encode` a list of messages, `parse` it back."""

    name: ClassVar[str]
    target: ClassVar[Target]

    def encode(
        self,
        messages: Iterable[Message | Mapping[str, Any]] | Message,
        *,
        images: ImageLimits | None = None,
        videos: VideoLimits | None = None,
        video: Literal["native", "frames"] | None = None,
        audio: AudioLimits | None = None,
        inline: bool | None = None,
        fetch: FetchPolicy | None = None,
        target: Target | None = None,
        local_files: bool = False,
    ) -> list[Json]:
        """Messages (mmkit's or OpenAI-style dicts) in this format, each part made to fit.

        Dicts never read local files unless `local_files=True` (see `ParseContext`).
        `video="native"` sends videos as videos (OpenAI-compatible servers such as vLLM), and
        `video="frames"` as labelled sampled frames (OpenAI's own API reads no video)."""
        context = self._context(images, videos, video, audio, inline, fetch, target)
        parsing = ParseContext(local_files=local_files, remember=True)
        return [
            self._encode_one(message, index, context)
            for index, message in enumerate(self._coerce(messages, parsing))
        ]

    def encode_counted(
        self,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        video: Literal["native", "frames"] | None = None,
        fetch: FetchPolicy | None = None,
        target: Target | None = None,
        image_bytes: int = 0,
    ) -> list[tuple[Json, int]]:
        """`encode`, each message with the bytes of images it added to the request, the
        request's image cap counted from `image_bytes` (those of messages encoded before)."""
        context = self._context(None, None, video, None, None, fetch, target)
        context.image_bytes = image_bytes
        out = []
        for index, message in enumerate(self._coerce(messages, ParseContext(remember=True))):
            before = context.image_bytes
            out.append((self._encode_one(message, index, context), context.image_bytes - before))
        return out

    def _context(
        self,
        images: ImageLimits | None,
        videos: VideoLimits | None,
        video: Literal["native", "frames"] | None,
        audio: AudioLimits | None,
        inline: bool | None,
        fetch: FetchPolicy | None,
        target: Target | None,
    ) -> EncodeContext:
        chosen = target or self.target
        if images is not None:
            chosen = replace(chosen, images=images)
        if videos is not None:
            chosen = replace(chosen, videos=videos)
        if video is not None:
            if video not in ("native", "frames"):
                raise InvalidOptionError(f"video={video!r}: use 'native' or 'frames'")
            chosen = replace(chosen, videos=replace(chosen.videos, native=video == "native"))
        if audio is not None:
            chosen = replace(chosen, audio=audio)
        return EncodeContext(chosen, inline, fetch, name=self.name)

    def parse(
        self, items: Iterable[Mapping[str, Any]], *, local_files: bool = False
    ) -> list[Message]:
        """This format's message dicts back into Messages.

        Dicts are data: media values are http(s) URLs, data URIs or base64; pass
        `local_files=True` only for trusted dicts that name local files."""
        if isinstance(items, Mapping):
            items = [items]
        _check_list("items", items, "a list of message dicts")
        context = ParseContext(local_files=local_files)
        out = []
        for index, item in enumerate(items):
            where = f"message {index + 1}"
            if not isinstance(item, Mapping):
                raise InvalidOptionError(f"{where} is a {type(item).__name__}, not a dict")
            try:
                out.append(self.parse_message(item, context))
            except MmkitError as exc:
                raise with_where(exc, where) from exc
        return out

    def _coerce(
        self,
        messages: Iterable[Message | Mapping[str, Any]] | Message,
        context: ParseContext | None = None,
    ) -> list[Message]:
        """mmkit Messages, or OpenAI-style dicts (the lingua franca of callers) parsed first."""
        if isinstance(messages, (Message, Mapping)):
            messages = [messages]
        _check_list("messages", messages, "a list of Messages or OpenAI-style dicts")
        out = []
        for index, message in enumerate(messages):
            if isinstance(message, Mapping):
                from mmkit.formats.registry import get

                parsing = context or ParseContext()
                parse = partial(get("openai").parse_message, message, parsing)
                try:
                    if parsing.remember:  # the encode path: an equal dict parsed before
                        message = remembered_message(message, (parsing.local_files,), parse)
                    else:
                        message = parse()
                except MmkitError as exc:  # named by its place in the caller's list
                    raise with_where(exc, f"message {index + 1}") from exc
            if not isinstance(message, Message):
                raise InvalidOptionError(
                    f"message {index + 1} is a {type(message).__name__}; pass mmkit Messages "
                    "or OpenAI-style dicts"
                )
            out.append(message)
        return out

    def _encode_one(self, message: Message, index: int, context: EncodeContext) -> Json:
        parts = []
        for part_index, part in enumerate(message.content):
            try:
                encoded = self.encode_part(part, context)
                parts.extend(encoded if isinstance(encoded, list) else [encoded])
            except MmkitError as exc:
                raise with_where(exc, f"message {index + 1}, part {part_index + 1}") from exc
        return self.wrap_message(message, parts)

    @abstractmethod
    def encode_part(self, part: Part, context: EncodeContext) -> Json | list[Json]:
        """One part in this format (a video sent as frames may become several); images go
        through `context.image_source`, videos through `context.video_source`."""

    @abstractmethod
    def parse_part(self, part: Mapping[str, Any], where: str, context: ParseContext) -> Part:
        """One part of this format back into a part; media values go through `context.source`."""

    def wrap_message(self, message: Message, parts: list[Json]) -> Json:
        """Role, content (a lone text as a string), name, and the pass-through fields."""
        out: Json = {"role": message.role}
        if parts:
            out["content"] = text_or_parts(parts)
        else:  # assistant turns with only tool calls carry a null content
            out["content"] = None if message.role == "assistant" and message.extra else ""
        if message.name is not None:
            out["name"] = message.name
        out.update(message.extra)
        return out

    def parse_message(
        self, item: Mapping[str, Any], context: ParseContext | None = None
    ) -> Message:
        context = context or ParseContext()
        content = item.get("content")
        if content is None:
            parts: list[Part] = []
        elif isinstance(content, str):
            parts = [Text(content)]
        elif isinstance(content, list):
            parts = []
            for index, part in enumerate(content):
                where = f"part {index + 1}"
                if not isinstance(part, Mapping):
                    raise InvalidOptionError(f"{where} is a {type(part).__name__}, not a dict")
                parts.append(self.parse_part(part, where, context))
        else:
            raise InvalidOptionError(
                f"content must be a string or a list of parts, not {type(content).__name__}"
            )
        extra = {k: v for k, v in item.items() if k not in ("role", "content", "name")}
        return Message(item.get("role"), parts, name=item.get("name"), extra=extra)


class TypedPartsFormat(WireFormat):
    """Parts named by their media type, the source under a key: `{"type": "image", "url": …}`
    or `{"type": "image", "base64": "data:…"}` (Bytez, Hugging Face chat templates)."""

    label: ClassVar[str]  # for messages: "Bytez parts", "HF chat templates"
    image_keys: ClassVar[tuple[str, ...]] = ("url", "base64")  # read back in this order
    audio_keys: ClassVar[tuple[str, ...]] = ("url", "base64")
    video_keys: ClassVar[tuple[str, ...]] = ("url", "base64")

    def encode_part(self, part: Part, context: EncodeContext) -> Json | list[Json]:
        if isinstance(part, Text):
            return {"type": "text", "text": part.text}
        if isinstance(part, Image):
            how, value = context.image_source(part)
            return {"type": "image", "url" if how == "url" else "base64": value}
        if isinstance(part, Audio):
            sent = context.audio_source(part)
            if isinstance(sent, str):
                return {"type": "audio", "url": sent}
            return {"type": "audio", "base64": data_uri(sent.mime, sent.data)}
        if isinstance(part, Video):
            how, value = context.video_source(part)
            if how == "frames":
                return self.video_frames(value)
            return {"type": "video", "url" if how == "url" else "base64": value}
        raise UnsupportedFormatError(f"{self.label} cannot carry a {type(part).__name__}")

    def parse_part(self, part: Mapping[str, Any], where: str, context: ParseContext) -> Part:
        kind = part.get("type")
        if kind == "text":
            return parse_text(part.get("text"), where)
        if kind in ("image", "audio"):
            make = Image if kind == "image" else Audio
            keys = self.image_keys if kind == "image" else self.audio_keys
            for key in keys:
                value = part.get(key)
                if value is not None and value != "":
                    source = context.source(value, kind, where, base64_field=key == "base64")
                    return make(source)
            raise InvalidOptionError(
                f"{where}: an {kind} part needs one of {', '.join(map(repr, keys))}"
            )
        if kind == "video":
            for key in self.video_keys:
                value = part.get(key)
                if value is not None and value != "" and value != []:
                    return self.parse_video(value, key, where, context)
            raise InvalidOptionError(
                f"{where}: a video part needs one of {', '.join(map(repr, self.video_keys))}"
            )
        raise UnsupportedFormatError(
            f"{where} has type {kind!r}, which mmkit cannot carry yet; known types are "
            "'text', 'image', 'audio' and 'video'"
        )

    def video_frames(self, frames: list[tuple[str, str, str]]) -> list[Json]:
        """Sampled frames as image parts, each after a text label with its time."""
        out: list[Json] = []
        for label, how, value in frames:
            out.append({"type": "text", "text": label})
            out.append({"type": "image", "url" if how == "url" else "base64": value})
        return out

    def parse_video(self, value: Any, key: str, where: str, context: ParseContext) -> Video:
        """A video value (or a list of frames) through the trust gate: dicts never read files."""
        if isinstance(value, list):  # a video given as its frames
            check_frame_count(len(value))  # before any frame is decoded
            frames = [
                context.source(item, "image", f"{where}, frame {index + 1}")
                for index, item in enumerate(value)
            ]
            return Video(frames)
        return Video(context.source(value, "video", where, base64_field=key == "base64"))


def _check_list(name: str, value: Any, expected: str) -> None:
    """None, a number, a bool or a string where a list of messages belongs: say so by name."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        hint = " (Message.user(...) for one prompt)" if isinstance(value, str) else ""
        raise InvalidOptionError(f"{name} must be {expected}, not {type(value).__name__}{hint}")


def text_or_parts(parts: list[Json]) -> str | list[Json]:
    """A lone text part is sent as a plain string: every chat API reads that form."""
    if len(parts) == 1 and parts[0].get("type") == "text":
        return str(parts[0]["text"])
    return parts


def parse_text(value: Any, where: str) -> Text:
    if not isinstance(value, str):
        raise InvalidOptionError(f"{where}: text must be a string, not {type(value).__name__}")
    return Text(value)
