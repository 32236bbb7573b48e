"""The parts of a message, as a user holds them: Text, Image, Audio and Video.

Parts are small typed values (pydantic models with a literal `type`): building one reads and
probes local input but never talks to the network; a URL stays a URL until a target needs bytes.
Equality is about content: two parts are equal when they carry the same text, the same bytes or
the same URL (and the same `detail`), whatever options they were built with.

Image and Audio share `_Media`: bytes or a URL, the header probe's facts, the guarded fetch of a
URL on first need, and one encoding per target cached with every change it made recorded.
"""

from __future__ import annotations

import difflib
import io
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from mmkit.errors import (
    BlockedURLError,
    InvalidMediaError,
    InvalidOptionError,
    MediaTooLargeError,
    MmkitError,
    UnsupportedFormatError,
    with_where,
)
from mmkit.media import audio as audio_codec
from mmkit.media import image as image_codec
from mmkit.media import video as video_codec
from mmkit.media.sniff import short_name
from mmkit.media.source import Resolved, check_wire_url, resolve
from mmkit.offload import needs_work

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image as PILImage
    from typing_extensions import Self

    from mmkit.media.fetch import FetchPolicy

Detail = Literal["auto", "low", "high"]


def _options_error(kind: str, exc: ValidationError) -> InvalidOptionError:
    problems = "; ".join(
        f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return InvalidOptionError(f"{kind} options are invalid: {problems}")


class Text(BaseModel):
    """A piece of text in a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["text"] = "text"
    text: str

    def __init__(self, text: str | None = None, /, **fields: Any) -> None:
        if text is not None:
            fields["text"] = text
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise _options_error("Text", exc) from None

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"Text({shown!r})"

    __str__ = __repr__


class _Media(BaseModel):
    """What every media part holds: bytes or a URL, where it came from, the probe's facts, and
    its encodings, one per target, each recording what it changed."""

    model_config = ConfigDict(
        extra="forbid", ser_json_bytes="base64", val_json_bytes="base64", validate_default=False
    )

    data: bytes | None = Field(default=None, repr=False)
    url: str | None = None
    mime: str | None = None
    origin: str = ""
    inline: bool | None = None
    # What was changed at construction (a declared type corrected by the bytes, ...).
    notes: list[str] = Field(default_factory=list)

    _info: Any = PrivateAttr(default=None)  # the media module's header facts
    _encoded: dict[Any, Any] = PrivateAttr(default_factory=dict)
    _conversions: dict[str, None] = PrivateAttr(default_factory=dict)  # ordered set
    _fetched: bytes | None = PrivateAttr(default=None)

    kind: ClassVar[str] = "media"  # "image", "audio": the word errors and messages use

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, url: str | None) -> str | None:
        # mmkit's own JSON is data too: no file://, javascript: or other schemes reach a receiver
        return None if url is None else check_wire_url(url, cls.kind)

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not self.origin and self.url is not None:  # rebuilt from JSON that had no origin
            from mmkit.media.fetch import redact_url

            self.origin = redact_url(self.url)
        return self

    def _init_fields(self, fields: dict[str, Any]) -> None:
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise _options_error(type(self).__name__, exc) from None
        if self.data is None and self.url is None:
            raise InvalidOptionError(
                f"{type(self).__name__} needs a source: a path, bytes, URL or {self.kind}"
            )

    @property
    def nbytes(self) -> int | None:
        """Size of the source bytes (None for a URL not fetched yet)."""
        return None if self.data is None else len(self.data)

    @property
    def conversions(self) -> list[str]:
        """Everything changed on the way out: construction notes, then each encoding's changes."""
        return [*self.notes, *self._conversions]

    def _probe(self, data: bytes) -> Any:
        """The media module's header probe of `data`."""
        raise NotImplementedError

    def _learn(self, info: Any) -> None:
        """Copy the probe's facts onto the fields a user reads."""
        raise NotImplementedError

    def _bytes_and_info(self, policy: FetchPolicy | None) -> tuple[bytes, Any]:
        data = self.data if self.data is not None else self._fetched
        if data is None:
            assert self.url is not None
            from mmkit.media.fetch import FetchPolicy, fetch  # HTTP only when a URL is inlined

            data = fetch(self.url, policy or FetchPolicy()).data
            self._info = None
            self._fetched = data
        if self._info is None:
            self._info = self._probe(data)
            self._learn(self._info)
        return data, self._info

    def _encoded_once(
        self, key: Any, fetch: FetchPolicy | None, make: Callable[[bytes, Any], Any]
    ) -> Any:
        """`make(data, info)` once per key (a target's limits and the part's options)."""
        found = self._encoded.get(key)
        if found is None:
            needs_work()
            data, info = self._bytes_and_info(fetch)
            found = make(data, info)
            self._encoded[key] = found
        self._conversions.update(dict.fromkeys(found.conversions))
        return found

    __hash__ = None  # type: ignore[assignment]  # mutable caches: not hashable


class Image(_Media):
    """An image from a path, bytes, file, URL, data URI, base64 text, PIL image or numpy array.

    `mime`, `width`, `height` and `nbytes` come from a header probe at construction (for a URL,
    once fetched). Encoding for a target happens when a message is converted, once per target.
    """

    type: Literal["image"] = "image"
    width: int | None = None
    height: int | None = None
    frames: int = 1
    max_side: int | None = Field(default=None, gt=0)
    max_pixels: int | None = Field(default=None, gt=0)
    format: str | None = None
    quality: int | None = Field(default=None, ge=1, le=100)
    detail: Detail | None = None
    pixel_limit: int | None = Field(default=None, gt=0)
    timestamp: float | None = None  # seconds into the video, for a frame sampled from one
    max_frames: int | None = Field(default=None, gt=0)

    _pixels: bool = PrivateAttr(default=False)  # made from a PIL image or array: no own format

    kind: ClassVar[str] = "image"

    def __init__(
        self,
        source: Any = None,
        /,
        *,
        max_side: int | None = None,
        max_pixels: int | None = None,
        format: str | None = None,
        quality: int | None = None,
        detail: Detail | None = None,
        inline: bool | None = None,
        pixel_limit: int | None = None,
        max_frames: int | None = None,
        **fields: Any,
    ) -> None:
        if fields:
            known = list(Image.model_fields) if source is None else None
            _refuse_unknown("Image", fields, _OPTIONS, known)
        options = dict(
            max_side=max_side,
            max_pixels=max_pixels,
            format=format,
            quality=quality,
            detail=detail,
            inline=inline,
            pixel_limit=pixel_limit,
            max_frames=max_frames,
        )
        if source is None:  # rebuilt from its own fields (JSON, model_validate)
            self._init_fields({**fields, **{k: v for k, v in options.items() if v is not None}})
            return
        pixels = _is_pixels(source) or (isinstance(source, Image) and source._pixels)
        if isinstance(source, Image):
            source = Resolved(source.data, source.origin, source.url, source.mime)
        notes: list[str] = []  # what was changed at construction
        resolved = _resolve_image(source, notes)
        fields = {
            **options,
            "origin": resolved.origin,
            "url": resolved.url,
            "data": resolved.data,
            "notes": notes,
        }
        info = None
        if resolved.data is not None:
            info = image_codec.probe(resolved.data, resolved.origin, pixel_limit, max_frames)
            fields.update(mime=info.mime, width=info.width, height=info.height, frames=info.frames)
            notes.extend(info.notes)
            declared = resolved.declared_mime
            if declared and declared != info.mime:
                notes.append(f"declared type {declared} corrected to {info.mime} (from the bytes)")
        self._init_fields(fields)
        self._info = info
        self._pixels = pixels

    # --- what a user reads ---------------------------------------------------------------------

    def to_pil(self, fetch: FetchPolicy | None = None) -> PILImage.Image:
        """The decoded image, EXIF orientation applied (fetches a URL image first)."""
        data, info = self._bytes_and_info(fetch)
        return image_codec.to_pil(data, info, self.origin)

    # --- what a wire format calls --------------------------------------------------------------

    def encoded(
        self,
        limits: image_codec.ImageLimits | None = None,
        fetch: FetchPolicy | None = None,
    ) -> image_codec.EncodedImage:
        """The image as a receiver with `limits` accepts it; computed once per limits and reused."""
        limits = limits or image_codec.ImageLimits()
        request = image_codec.ImageRequest(
            self.max_side, self.max_pixels, self.format, self.quality, not self._pixels
        )
        found: image_codec.EncodedImage = self._encoded_once(
            (limits, request),
            fetch,
            lambda data, info: image_codec.encode(data, info, self.origin, request, limits),
        )
        return found

    def fetch(self, policy: FetchPolicy | None = None) -> Image:
        """Download a URL image now through the guarded fetch (bytes cached on the part)."""
        self._bytes_and_info(policy)
        return self

    def _probe(self, data: bytes) -> image_codec.ImageInfo:
        return image_codec.probe(data, self.origin, self.pixel_limit, self.max_frames)

    def _learn(self, info: image_codec.ImageInfo) -> None:
        self.notes.extend(n for n in info.notes if n not in self.notes)
        self.mime, self.width, self.height, self.frames = (
            info.mime,
            info.width,
            info.height,
            info.frames,
        )

    # --- values --------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Image):
            return NotImplemented
        return (self.data, self.url, self.detail) == (other.data, other.url, other.detail)

    def __repr__(self) -> str:
        return f"Image({self.describe()})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from mmkit.display import image_html

        return image_html(self)

    def describe(self) -> str:
        """One line: origin, type, size and bytes, e.g. 'cat.jpg JPEG 640×480, 41,233 bytes'."""
        if self.mime is None:
            return f"{self.origin} (not fetched)"
        kind = self.mime.split("/")[-1].upper()
        frames = f", {self.frames} frames" if self.frames > 1 else ""
        size = f", {self.nbytes:,} bytes" if self.nbytes is not None else ""
        return f"{self.origin} {kind} {self.width}×{self.height}{frames}{size}"


_OPTIONS = (
    "max_side",
    "max_pixels",
    "format",
    "quality",
    "detail",
    "inline",
    "pixel_limit",
    "max_frames",
)
_AUDIO_OPTIONS = ("sample_rate", "mono", "format", "start", "end", "max_duration", "inline")
_VIDEO_OPTIONS = (
    "frames",
    "fps",
    "start",
    "end",
    "max_side",
    "max_frames",
    "as_frames",
    "inline",
    "pixel_limit",
    "max_duration",
)


def _refuse_unknown(
    kind: str, fields: dict[str, Any], options: Sequence[str], known: Sequence[str] | None = None
) -> None:
    """`Image("cat.jpg", maxside=64)` must not be silently ignored: name the keyword and, when
    one is close, the right one. `known` is every name accepted (defaults to `options`)."""
    names = list(known or options)
    unknown = [name for name in fields if name not in names]
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}=?" if close else f"; options are {', '.join(options)}"
    raise InvalidOptionError(f"{kind} got an unknown keyword {name}={fields[name]!r}{hint}")


def _is_pixels(source: Any) -> bool:
    module = type(source).__module__
    return module.startswith("PIL.") or (module == "numpy" and hasattr(source, "shape"))


def _resolve_image(source: Any, notes: list[str]) -> Resolved:
    """Pixels in memory become lossless PNG bytes (a mode PNG cannot hold is converted, and noted
    in `notes`); everything else is resolved as bytes or URL."""
    from PIL import Image as PILImageModule

    if isinstance(source, PILImageModule.Image):
        origin = f"PIL image {source.width}×{source.height} {source.mode}"
        return Resolved(image_codec.pixels_to_png(source, origin, notes), origin)
    if type(source).__module__ == "numpy" and hasattr(source, "shape"):
        origin = f"numpy array {'×'.join(str(n) for n in source.shape)} {source.dtype}"
        return Resolved(image_codec.pixels_to_png(source, origin, notes), origin)
    return resolve(source, "image")


AudioFormat = Literal["wav", "mp3", "flac"]


class Audio(_Media):
    """Audio from a path, bytes, file, URL, data URI, base64 text, or `(samples, sample_rate)`
    with a numpy array (1-D, or frames × channels; int16, int32, float32 or float64).

    `duration`, `sample_rate`, `channels` and `codec` come from a header probe at construction
    and describe the audio as this part sends it (after `start`/`end`, `sample_rate=`, `mono=`);
    `duration` is the header's claim until the audio is decoded, then the counted length.
    Options: `sample_rate` (resample), `mono` (downmix; False keeps channels even where the
    target prefers mono), `format` ("wav", "mp3" or "flac"), `start`/`end` (seconds to keep),
    `max_duration` (decoded seconds read before refusing, default 600), `inline`.
    """

    type: Literal["audio"] = "audio"
    codec: str | None = None
    sample_rate: int | None = Field(default=None, ge=audio_codec.MIN_RATE, le=audio_codec.MAX_RATE)
    channels: int | None = None
    duration: float | None = None
    mono: bool | None = None
    format: AudioFormat | None = None
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, gt=0)
    max_duration: float | None = Field(default=None, gt=0)

    kind: ClassVar[str] = "audio"

    def __init__(
        self,
        source: Any = None,
        /,
        *,
        sample_rate: int | None = None,
        mono: bool | None = None,
        format: str | None = None,
        start: float | None = None,
        end: float | None = None,
        max_duration: float | None = None,
        inline: bool | None = None,
        **fields: Any,
    ) -> None:
        options = dict(
            sample_rate=sample_rate,
            mono=mono,
            format=format,
            start=start,
            end=end,
            max_duration=max_duration,
            inline=inline,
        )
        if source is None:  # rebuilt from its own fields (JSON, model_validate)
            self._init_fields({**fields, **{k: v for k, v in options.items() if v is not None}})
            return
        if fields:
            _refuse_unknown("Audio", fields, _AUDIO_OPTIONS)
        if isinstance(source, Audio):
            source = Resolved(source.data, source.origin, source.url, source.mime)
        notes: list[str] = []
        resolved = _resolve_audio(source, notes)
        self._init_fields(
            {**options, "origin": resolved.origin, "url": resolved.url, "data": resolved.data}
        )
        self.notes = notes
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidOptionError(
                f"Audio options are invalid: end={self.end:g} is not after start={self.start:g}"
            )
        if resolved.data is not None:
            info = self._probe(resolved.data)
            self._info = info
            self._learn(info)
            declared = resolved.declared_mime
            if declared and declared != info.mime and declared.split("/")[0] == "audio":
                notes.append(f"declared type {declared} corrected to {info.mime} (from the bytes)")
            if info.video:
                notes.append(f"took the sound track of a video ({info.mime})")

    @field_validator("format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower().lstrip(".") if isinstance(value, str) else value

    # --- what a user reads ---------------------------------------------------------------------

    def describe(self) -> str:
        """One line: origin, codec, duration, rate, layout and bytes, e.g.
        'talk.mp3 MP3 2.0 s 16 kHz mono, 16,044 bytes'."""
        if self.mime is None:
            return f"{self.origin} (not fetched)"
        codec = (self.codec or "?").upper()
        size = f", {self.nbytes:,} bytes" if self.nbytes is not None else ""
        shown = audio_codec.describe(self.duration, self.sample_rate, self.channels)
        return f"{self.origin} {codec} {shown}{size}"

    def to_numpy(self, fetch: FetchPolicy | None = None) -> tuple[npt.NDArray[np.float32], int]:
        """(samples, rate): float32 frames × channels after start/end, mono= and sample_rate=."""
        data, info = self._bytes_and_info(fetch)
        return audio_codec.decode(data, info, self.origin, self._request())

    def chunks(self, seconds: float, overlap: float = 0) -> Iterator[Audio]:
        """Consecutive parts of `seconds` each (the last may be shorter), each starting
        `seconds - overlap` after the one before; decoded once, one chunk in memory at a time.
        Chunks are 16-bit PCM WAV at the source's rate and channels, keep this part's options,
        and are named by their time span ('talk.mp3 [30.0–60.0 s]')."""
        if not seconds > 0:
            raise InvalidOptionError(f"chunks: seconds must be > 0, not {seconds!r}")
        if not 0 <= overlap < seconds:
            raise InvalidOptionError(
                f"chunks: overlap must be ≥ 0 and less than seconds ({seconds:g}), not {overlap!r}"
            )
        data, info = self._bytes_and_info(None)
        request = self._request()
        for begin, finish, wav in audio_codec.windows(
            data, info, self.origin, seconds, overlap, request
        ):
            part = Audio(
                Resolved(wav, f"{self.origin} [{begin:.1f}–{finish:.1f} s]"),
                sample_rate=request.sample_rate,
                mono=self.mono,
                format=self.format,
                inline=self.inline,
            )
            if info.kind != "wav/pcm16":
                part.notes.append("decoded to 16-bit PCM WAV to cut it")
            yield part

    # --- what a wire format calls --------------------------------------------------------------

    def encoded(
        self,
        limits: audio_codec.AudioLimits | None = None,
        fetch: FetchPolicy | None = None,
    ) -> audio_codec.EncodedAudio:
        """The audio as a receiver with `limits` accepts it; computed once per limits."""
        limits = limits or audio_codec.AudioLimits()
        found: audio_codec.EncodedAudio = self._encoded_once(
            (limits, self._request()),
            fetch,
            lambda data, info: audio_codec.encode(data, info, self.origin, self._request(), limits),
        )
        self.duration = found.duration  # counted while decoding: better than the header's claim
        return found

    def fetch(self, policy: FetchPolicy | None = None) -> Audio:
        """Download a URL audio now through the guarded fetch (bytes cached on the part)."""
        self._bytes_and_info(policy)
        return self

    def _request(self) -> audio_codec.AudioRequest:
        info: audio_codec.AudioInfo | None = self._info
        # A rate equal to the source's asks for nothing (the probe fills it in): target rules apply
        rate = self.sample_rate
        if info is not None and rate == info.sample_rate:
            rate = None
        return audio_codec.AudioRequest(
            rate, self.mono, self.format, self.start, self.end, self.max_duration
        )

    def _probe(self, data: bytes) -> audio_codec.AudioInfo:
        return audio_codec.probe(data, self.origin)

    def _learn(self, info: audio_codec.AudioInfo) -> None:
        self.mime, self.codec = info.mime, info.codec
        self.sample_rate = self.sample_rate or info.sample_rate
        self.channels = 1 if self.mono else info.channels
        if info.duration is not None:
            end = info.duration if self.end is None else min(self.end, info.duration)
            self.duration = max(0.0, end - (self.start or 0.0))

    # --- values --------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Audio):
            return NotImplemented
        return (self.data, self.url) == (other.data, other.url)

    def __repr__(self) -> str:
        return f"Audio({self.describe()})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from mmkit.display import audio_html

        return audio_html(self)


def _resolve_audio(source: Any, notes: list[str]) -> Resolved:
    """(numpy samples, rate) become WAV bytes that keep every sample (noted in `notes` when the
    type changes); everything else is resolved as bytes or URL."""
    if isinstance(source, tuple) and len(source) == 2 and hasattr(source[0], "shape"):
        samples, rate = source
        shape = "×".join(str(n) for n in samples.shape)
        origin = f"numpy samples {shape} {samples.dtype} at {rate} Hz"
        return Resolved(audio_codec.samples_to_wav(samples, rate, origin, notes), origin)
    if type(source).__module__ == "numpy" and hasattr(source, "shape"):
        raise InvalidOptionError(
            "Audio takes numpy samples with their rate: Audio((samples, 16_000))"
        )
    return resolve(source, "audio")


# Frames sampled from a video are kept as JPEG: the video was lossy already, and PNG costs 5×.
_FRAME_QUALITY = 90
_DEFAULT_LIST_FPS = 1.0  # a list of frames with no fps= is read as one frame a second


class Video(BaseModel):
    """A video from a path, bytes, file, URL, data URI or base64 text, or a list of frames
    (paths, PIL images, arrays or Image parts) read as a video.

    A local file stays on disk (long videos are never read whole). `duration`, `fps`, `width`,
    `height`, `codec` and `has_audio` come from a header probe at construction. Options:
    `frames=`/`fps=` say how many frames to send to a target that reads no video (default 8),
    `start=`/`end=` cut a part (seconds), `max_side=` scales frames and video, `max_frames=` caps
    the frames sampled, `as_frames=True` sends frames even where video is native, `inline=True`
    sends a URL's bytes instead of the URL.
    """

    model_config = ConfigDict(
        extra="forbid", ser_json_bytes="base64", val_json_bytes="base64", validate_default=False
    )

    type: Literal["video"] = "video"
    data: bytes | None = Field(default=None, repr=False)
    path: str | None = None
    url: str | None = None
    frame_list: list[Image] | None = Field(default=None, repr=False)
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    frame_rate: float | None = None
    frame_count: int | None = None
    codec: str | None = None
    has_audio: bool | None = None
    rotation: int = 0
    origin: str = ""
    num_frames: int | None = Field(default=None, gt=0)
    sample_fps: float | None = Field(default=None, gt=0)
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, gt=0)
    max_side: int | None = Field(default=None, gt=0)
    max_frames: int | None = Field(default=None, gt=0)
    as_frames: bool | None = None
    inline: bool | None = None
    pixel_limit: int | None = Field(default=None, gt=0)
    max_duration: float | None = Field(default=None, gt=0)
    notes: list[str] = Field(default_factory=list)

    _info: video_codec.VideoInfo | None = PrivateAttr(default=None)

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, url: str | None) -> str | None:
        # mmkit's own JSON is data too: no file://, javascript: or other schemes reach a receiver
        return None if url is None else check_wire_url(url, "video")

    @field_validator("path")
    @classmethod
    def _no_path_from_data(cls, path: str | None) -> str | None:
        if path is not None:
            raise BlockedURLError(
                f"video path {path!r} in a dict: a part rebuilt from data never reads local "
                "files; build it in code (Video(path))"
            )
        return None

    _encoded: dict[Any, video_codec.EncodedVideo] = PrivateAttr(default_factory=dict)
    _sampled: dict[Any, list[Image]] = PrivateAttr(default_factory=dict)
    _conversions: dict[str, None] = PrivateAttr(default_factory=dict)  # ordered set
    _fetched: bytes | None = PrivateAttr(default=None)

    def __init__(
        self,
        source: Any = None,
        /,
        *,
        frames: int | None = None,
        fps: float | None = None,
        start: float | None = None,
        end: float | None = None,
        max_side: int | None = None,
        max_frames: int | None = None,
        as_frames: bool | None = None,
        inline: bool | None = None,
        pixel_limit: int | None = None,
        max_duration: float | None = None,
        **fields: Any,
    ) -> None:
        options = dict(
            num_frames=frames,
            sample_fps=fps,
            start=start,
            end=end,
            max_side=max_side,
            max_frames=max_frames,
            as_frames=as_frames,
            inline=inline,
            pixel_limit=pixel_limit,
            max_duration=max_duration,
        )
        if source is None:  # rebuilt from its own fields (JSON, model_validate)
            self._init_fields({**fields, **{k: v for k, v in options.items() if v is not None}})
            return
        if fields:
            _refuse_unknown("Video", fields, _VIDEO_OPTIONS)
        if isinstance(source, Video):
            fields = source.model_dump(include=_VIDEO_SOURCE_FIELDS)
            fields["frame_list"] = source.frame_list
            path = Path(source.path) if source.path is not None else None
            chosen = {k: v for k, v in options.items() if v is not None}
            self._init_fields({**fields, **chosen}, path=path)
            self._info = source._info
            return
        if isinstance(source, (list, tuple)):
            self._init_fields({**options, **_frame_list_fields(source, fps)})
            self._check_guards()
            return
        path = _local_video_path(source)
        if path is not None:
            fields = {**options, "origin": str(path)}
            src: video_codec.Source | None = path
        else:
            resolved = resolve(source, "video")
            fields = {**options, "origin": resolved.origin, "url": resolved.url}
            fields["data"] = resolved.data
            src = resolved.data
        self._init_fields(fields, path=path)
        if src is not None:
            self._set_info(video_codec.probe(src, self.origin, pixel_limit))

    def _init_fields(self, fields: dict[str, Any], path: Path | None = None) -> None:
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise _options_error("Video", exc) from None
        if path is not None:  # set after validation: only code names a file, never data
            self.path = str(path)
        if self.data is None and self.url is None and self.path is None and not self.frame_list:
            raise InvalidOptionError("Video needs a source: a path, bytes, URL or list of frames")
        if self.num_frames is not None and self.sample_fps is not None and not self.frame_list:
            raise InvalidOptionError("Video takes frames= or fps=, not both; pick one")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidOptionError(
                f"Video end={self.end:g} is not after start={self.start:g}; pass end > start"
            )

    def _set_info(self, info: video_codec.VideoInfo) -> None:
        self._info = info
        self.mime, self.width, self.height = info.mime, info.width, info.height
        self.duration, self.frame_rate, self.frame_count = info.duration, info.fps, info.frames
        self.codec, self.has_audio, self.rotation = info.codec, info.has_audio, info.rotation
        self._check_guards()

    def _check_guards(self) -> None:
        limit = self.max_duration
        if limit is not None and self.duration is not None and self.duration > limit:
            raise MediaTooLargeError(
                f"video {self.origin} is {self.duration:.1f} s long, over the {limit:g}-s limit "
                "(max_duration=); raise it, or cut the file"
            )

    # --- what a user reads ---------------------------------------------------------------------

    @property
    def fps(self) -> float | None:
        """Frames a second, as the container says (a list of frames: its fps= or 1)."""
        return self.frame_rate

    @property
    def nbytes(self) -> int | None:
        """Size of the source bytes (a file's size on disk; None for a URL not fetched yet)."""
        if self.data is not None:
            return len(self.data)
        if self.path is not None:
            return _file_size(self.path)
        if self._fetched is not None:
            return len(self._fetched)
        return None

    @property
    def conversions(self) -> list[str]:
        """Everything changed on the way out: construction notes, then each encoding's changes."""
        return [*self.notes, *self._conversions]

    def frames(
        self,
        n: int | None = None,
        *,
        fps: float | None = None,
        start: float | None = None,
        end: float | None = None,
        exact: bool = True,
        max_side: int | None = None,
        fetch: FetchPolicy | None = None,
    ) -> list[Image]:
        """`n` frames spread evenly over [start, end) (default: the part's own range), or one every
        1/fps second, as Image parts carrying their `timestamp`. With neither, the part's
        `frames=`/`fps=` or 8. Fewer come back when the range holds fewer frames (all of them,
        and `conversions` says so); never more than `max_frames`. `exact=False` takes keyframes
        only: much faster, each frame the last keyframe at or before its time."""
        if n is not None and fps is not None:
            raise InvalidOptionError("frames() takes n or fps=, not both; pick one")
        if (n is not None and n < 1) or (fps is not None and fps <= 0):
            raise InvalidOptionError("frames() needs n ≥ 1 or fps > 0")
        side = max_side if max_side is not None else self.max_side
        cap = self.max_frames
        if self.frame_list is not None:
            return self._list_frames(n, fps, start, end, cap)
        src, info = self._source_and_info(fetch)
        lo, hi = video_codec.clip_range(
            info,
            self.start if start is None else start,
            self.end if end is None else end,
            self.origin,
        )
        count, rate = n, fps
        if count is None and rate is None:
            count, rate = self.num_frames, self.sample_fps
            if count is None and rate is None:
                count = video_codec.DEFAULT_FRAMES
        times = (
            video_codec.rate_times(rate, lo, hi)
            if rate is not None
            else video_codec.uniform_times(count or video_codec.DEFAULT_FRAMES, lo, hi)
        )
        if cap is not None and len(times) > cap:
            self._note(f"sampled {cap} frames, not {len(times)} (max_frames={cap})")
            times = video_codec.uniform_times(cap, lo, hi)
        held = max(1, round((hi - lo) * info.fps)) if info.fps else len(times)
        wanted = len(times)
        offset = info.start_time
        if exact and wanted >= held:  # every frame in range: one sequential pass
            picked = video_codec.all_frames(
                src,
                info,
                self.origin,
                lo,
                hi,
                wanted,
                max_side=side,
                pixel_limit=self.pixel_limit,
            )
        else:
            picked = video_codec.sample(
                src,
                info,
                self.origin,
                [t - offset for t in times],
                exact=exact,
                max_side=side,
                pixel_limit=self.pixel_limit,
                jpeg_quality=_FRAME_QUALITY,
                window=(lo - offset, hi - offset),
            )
        if len(picked) < wanted:
            self._note(
                f"asked for {wanted} frames; {clock_range(lo - offset, hi - offset)} holds "
                f"{len(picked)} distinct ones: took all of them"
            )
        return [self._frame_part(frame) for frame in picked]

    def audio(self, fetch: FetchPolicy | None = None, **options: Any) -> Audio:
        """The sound track as an Audio part, for models that read both; the video's `start`/`end`
        apply unless given. `options` are Audio's (sample_rate=, mono=, format=, ...)."""
        if self.frame_list is not None or self.has_audio is False:
            raise UnsupportedFormatError(
                f"video {self.origin} has no sound track; send it without audio"
            )
        options.setdefault("start", self.start)
        options.setdefault("end", self.end)
        source: Any
        if self.url is not None and self._fetched is None and fetch is None:
            source = self.url  # a URL stays a URL until a target needs bytes
        else:
            src, _ = self._source_and_info(fetch)
            source = src if isinstance(src, Path) else Resolved(src, self.origin)
        return Audio(source, **options)

    def to_pil(self, fetch: FetchPolicy | None = None) -> PILImage.Image:
        """The poster: the first frame, upright."""
        return self.frames(1, fetch=fetch)[0].to_pil()

    # --- what a wire format calls --------------------------------------------------------------

    def encoded(
        self,
        limits: video_codec.VideoLimits | None = None,
        fetch: FetchPolicy | None = None,
    ) -> video_codec.EncodedVideo:
        """The video as a receiver that reads video accepts it; computed once per limits."""
        limits = limits or video_codec.VideoLimits()
        request = video_codec.VideoRequest(self.start, self.end, self.max_side)
        key = (limits, request)
        found = self._encoded.get(key)
        if found is None:
            needs_work()
            if self.frame_list is not None:
                found = self._encode_list(limits)
            else:
                src, info = self._source_and_info(fetch)
                found = video_codec.encode(
                    src, info, self.origin, request, limits, self.pixel_limit
                )
            self._encoded[key] = found
        self._conversions.update(dict.fromkeys(found.conversions))
        return found

    def sampled(
        self, limits: video_codec.VideoLimits | None = None, fetch: FetchPolicy | None = None
    ) -> list[Image]:
        """The frames a receiver without video gets (the part records "video → N frames")."""
        limits = limits or video_codec.VideoLimits()
        key = (limits.max_frames, self.num_frames, self.sample_fps, self.start, self.end)
        found = self._sampled.get(key)
        if found is None:
            needs_work()
            before = self.max_frames
            cap = limits.max_frames if before is None else min(before, limits.max_frames)
            self.max_frames = cap
            try:
                found = self.frames(fetch=fetch)
            finally:
                self.max_frames = before
            self._sampled[key] = found
        self._note(f"video → {len(found)} frames (the target reads no video)")
        return found

    def fetch(self, policy: FetchPolicy | None = None) -> Video:
        """Download a URL video now through the guarded fetch (bytes cached on the part)."""
        self._source_and_info(policy)
        return self

    def _source_and_info(
        self, policy: FetchPolicy | None
    ) -> tuple[video_codec.Source, video_codec.VideoInfo]:
        src: video_codec.Source | None = self.data
        if src is None and self.path is not None:
            src = Path(self.path)
        if src is None:
            src = self._fetched
        if src is None:
            assert self.url is not None
            from mmkit.media.fetch import FetchPolicy, fetch  # HTTP only when a URL is inlined

            src = fetch(self.url, policy or FetchPolicy()).data
            self._info = None
            self._fetched = src
        if self._info is None:
            self._set_info(video_codec.probe(src, self.origin, self.pixel_limit))
        assert self._info is not None
        return src, self._info

    def _frame_part(self, frame: video_codec.Frame) -> Image:
        data = frame.jpeg
        if data is None:
            assert frame.image is not None  # a frame keeps its pixels or its JPEG
            buf = io.BytesIO()
            frame.image.save(buf, format="JPEG", quality=_FRAME_QUALITY)
            data = buf.getvalue()
        origin = f"{self.origin} frame at {video_codec.clock(frame.timestamp)}"
        part = Image(Resolved(data, origin), max_side=self.max_side)
        part.timestamp = frame.timestamp
        return part

    def _list_frames(
        self,
        n: int | None,
        fps: float | None,
        start: float | None,
        end: float | None,
        cap: int | None,
    ) -> list[Image]:
        frames = self.frame_list or []
        rate = self.frame_rate or _DEFAULT_LIST_FPS
        lo = self.start if start is None else start
        hi = self.end if end is None else end
        first = 0 if lo is None else math.ceil(lo * rate - 1e-9)
        last = len(frames) if hi is None else min(len(frames), math.ceil(hi * rate - 1e-9))
        chosen = list(range(first, last))
        count = n if n is not None else None
        if fps is not None:
            step = max(1, round(rate / fps))
            chosen = chosen[::step]
        elif count is None and self.num_frames is not None:
            count = self.num_frames
        if cap is not None and (count is None or count > cap) and len(chosen) > cap:
            self._note(f"sampled {cap} of {len(chosen)} frames (max_frames={cap})")
            count = cap
        if count is not None and count < len(chosen):
            chosen = [chosen[i * len(chosen) // count] for i in range(count)]
        elif count is not None and count > len(chosen):
            self._note(f"asked for {count} frames; the list holds {len(chosen)}: took all")
        out = []
        for index in chosen:
            part = Image(frames[index], max_side=self.max_side)
            part.timestamp = index / rate
            out.append(part)
        return out

    def _encode_list(self, limits: video_codec.VideoLimits) -> video_codec.EncodedVideo:
        frames = self._list_frames(None, None, None, None, limits.max_frames)
        images = [frame.to_pil() for frame in frames]
        if self.max_side is not None:
            for image in images:
                image.thumbnail((self.max_side, self.max_side))
        rate = self.frame_rate or _DEFAULT_LIST_FPS
        data = video_codec.frames_to_mp4(images, rate, self.origin)
        notes = (f"{len(images)} frames encoded as H.264 MP4 at {rate:g} fps",)
        width, height = images[0].size
        return video_codec.EncodedVideo(data, "video/mp4", width, height, len(images) / rate, notes)

    def _note(self, text: str) -> None:
        self._conversions[text] = None

    # --- values --------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Video):
            return NotImplemented
        mine = (self.data, self.path, self.url, self.frame_list, self.start, self.end)
        theirs = (other.data, other.path, other.url, other.frame_list, other.start, other.end)
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]  # mutable caches: not hashable

    def __repr__(self) -> str:
        return f"Video({self.describe()})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from mmkit.display import video_html

        return video_html(self)

    def describe(self) -> str:
        """One line, e.g. 'clip.mp4 MP4 3.0 s 320×240 h264 30 fps, audio, 41,233 bytes'."""
        if self.duration is None:
            return f"{self.origin} (not fetched)"
        kind = "frames" if self.frame_list is not None else short_name(self.mime or "").upper()
        rate = f" {self.frame_rate:g} fps" if self.frame_rate else ""
        codec = f" {self.codec}" if self.codec else ""
        audio = ", audio" if self.has_audio else ""
        size = f", {self.nbytes:,} bytes" if self.nbytes is not None else ""
        return (
            f"{self.origin} {kind} {self.duration:.1f} s {self.width}×{self.height}{codec}"
            f"{rate}{audio}{size}"
        )


_VIDEO_SOURCE_FIELDS = {
    "data",
    "url",
    "mime",
    "width",
    "height",
    "duration",
    "frame_rate",
    "frame_count",
    "codec",
    "has_audio",
    "rotation",
    "origin",
    "notes",
}


def clock_range(start: float, end: float) -> str:
    return f"{video_codec.clock(start)}–{video_codec.clock(end)}"


def _local_video_path(source: Any) -> Path | None:
    """A path to an existing regular file, kept as a path (never read whole), else None."""
    if isinstance(source, os.PathLike):
        path = Path(os.fspath(source))
    elif isinstance(source, str) and "://" not in source[:32] and not source.startswith("data:"):
        if len(source) > 4096 or "\x00" in source:
            return None
        try:
            path = Path(source).expanduser()
            if not path.exists():
                return None
        except (OSError, RuntimeError):
            return None
    else:
        return None
    try:
        if not path.is_file():
            return None  # folders, devices, pipes: source.resolve says what is wrong
        if path.stat().st_size == 0:
            raise InvalidMediaError(f"video {path} is empty; pass a file with content")
    except OSError:
        return None
    return path


def _file_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def check_frame_count(count: int) -> None:
    """A list of frames is refused before any of them is read when it is longer than the guard."""
    if count > video_codec.MAX_LIST_FRAMES:
        raise MediaTooLargeError(
            f"video is a list of {count:,} frames, over the {video_codec.MAX_LIST_FRAMES:,}-frame "
            "limit for a list; pass fewer frames (sample them first)"
        )


def _frame_list_fields(items: Sequence[Any], fps: float | None) -> dict[str, Any]:
    if not items:
        raise InvalidMediaError("video is an empty list of frames; pass at least one frame")
    check_frame_count(len(items))
    frames: list[Image] = []
    for index, item in enumerate(items):
        try:
            frames.append(item if isinstance(item, Image) else Image(item))
        except MmkitError as exc:
            raise with_where(exc, f"frame {index + 1}") from exc
    rate = fps or _DEFAULT_LIST_FPS
    first = frames[0]
    return {
        "frame_list": frames,
        "origin": f"list of {len(frames)} frames",
        "width": first.width,
        "height": first.height,
        "duration": len(frames) / rate,
        "frame_rate": rate,
        "frame_count": len(frames),
        "has_audio": False,
        "sample_fps": None,
    }


Part = Text | Image | Audio | Video
