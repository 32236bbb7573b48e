"""An audio part: from a path, bytes, URL, data URI, base64 text or (numpy samples, rate)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from mmkit.errors import InvalidMediaError, InvalidOptionError
from mmkit.media import audio as audio_codec
from mmkit.media.source import Resolved, resolve
from mmkit.parts.base import MediaPart, check_number, refuse_unknown

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from mmkit.media.fetch import FetchPolicy

AudioFormat = Literal["wav", "mp3", "flac"]

OPTIONS = ("sample_rate", "mono", "format", "start", "end", "max_duration", "inline")


class Audio(MediaPart):
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
    sources: ClassVar[str] = "a path, bytes, URL or audio"

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
            refuse_unknown("Audio", fields, OPTIONS)
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
            self._know(info)
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
        data, info = self._source_and_info(fetch)
        return audio_codec.decode(data, info, self.origin, self._request())

    def chunks(self, seconds: float, overlap: float = 0) -> Iterator[Audio]:
        """Consecutive parts of `seconds` each (the last may be shorter), each starting
        `seconds - overlap` after the one before; decoded once, one chunk in memory at a time.
        Chunks are 16-bit PCM WAV at the source's rate and channels, keep this part's options,
        and are named by their time span ('talk.mp3 [30.0–60.0 s]')."""
        check_number(f"audio {self.origin} chunks()", "seconds", seconds, above=0)
        check_number(f"audio {self.origin} chunks()", "overlap", overlap, least=0)
        if not 0 <= overlap < seconds:
            raise InvalidOptionError(
                f"chunks: overlap must be ≥ 0 and less than seconds ({seconds:g}), not {overlap!r}"
            )
        return self._chunks(seconds, overlap)  # checked now, decoded as the chunks are taken

    def _chunks(self, seconds: float, overlap: float) -> Iterator[Audio]:
        data, info = self._source_and_info(None)
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
        target: str | None = None,  # the receiver's name, for the recorded conversions
    ) -> audio_codec.EncodedAudio:
        """The audio as a receiver with `limits` accepts it; computed once per limits."""
        limits = limits or audio_codec.AudioLimits()
        found = self._encoded_once(
            (limits, self._request()),
            lambda: audio_codec.encode(
                *self._source_and_info(fetch), self.origin, self._request(), limits
            ),
            target,
        )
        self.duration = found.duration  # counted while decoding: better than the header's claim
        return found

    def _request(self) -> audio_codec.AudioRequest:
        info: audio_codec.AudioInfo | None = self._info
        # A rate equal to the source's asks for nothing (the probe fills it in): target rules apply
        rate = self.sample_rate
        if info is not None and rate == info.sample_rate:
            rate = None
        return audio_codec.AudioRequest(
            rate, self.mono, self.format, self.start, self.end, self.max_duration
        )

    # --- what the base asks of each kind -------------------------------------------------------

    def _probe(self, source: bytes) -> audio_codec.AudioInfo:
        return audio_codec.probe(source, self.origin)

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

    __hash__ = None  # mutable caches: not hashable

    def _repr_html_(self) -> str:
        from mmkit import display

        preview = None
        if self.data is not None:
            preview = lambda: display.audio_preview(  # noqa: E731  # decoded only when shown
                *self._source_and_info(None), self.origin, self.start, self.max_duration
            )
        cost = self._token_note()
        caption = self.describe() + (f", {cost}" if cost else "")
        return display.audio_html(caption, self._shown(), preview, self.duration)

    def tokens(self, model: str | None = None, fetch: FetchPolicy | None = None) -> int:
        """What this audio costs `model` (default: its own `model=`), by its duration as sent
        (after start/end); a URL audio is fetched first to learn it."""
        from mmkit.models.plan import plan_audio

        chosen = self._model_for(model)
        if self.duration is None:
            self.fetch(fetch)
        if self.duration is None:
            raise InvalidMediaError(f"{self.origin}: its duration is not known, so not its cost")
        return plan_audio(chosen, self.duration).tokens


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
