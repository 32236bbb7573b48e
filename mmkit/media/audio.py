"""Audio: cheap header probe, full-decode validation, and encoding for a receiver's limits.

soundfile (libsndfile) decodes WAV, FLAC, Ogg Vorbis/Opus, MP3 and AIFF; PyAV (FFmpeg) decodes
the rest (M4A/MP4 AAC, ADTS AAC, WebM, the sound track of a video). Decoding is streamed in
blocks of float32 samples and every limit (duration, output bytes) is counted on what is decoded
and written, never on what a header claims. Conversion (trim to start/end, downmix, resample with
soxr, write 16-bit PCM WAV, MP3 or FLAC) runs block by block, so a long file never sits in memory.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from mmkit.errors import (
    InvalidMediaError,
    MediaTooLargeError,
    MmkitError,
    UnsupportedFormatError,
)
from mmkit.media.sniff import short_name, sniff

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Block = npt.NDArray[np.float32]  # frames × channels

# Decoded seconds read before mmkit refuses (vLLM's default); settable per part (max_duration=).
DEFAULT_MAX_DURATION = 600.0
# Bounds on what a header may claim before anything is decoded (a 10,000-channel WAV would make
# every block enormous).
MAX_CHANNELS = 32
MIN_RATE, MAX_RATE = 1_000, 384_000
# Samples (all channels) per decoded block: about 0.5 MB of float32, whatever the layout.
BLOCK_SAMPLES = 131_072
# The formats mmkit writes; their wire kind ("container/codec", as `AudioInfo.kind`).
WRITERS = ("wav", "mp3", "flac")
_WRITTEN_KIND = {"wav": "wav/pcm16", "mp3": "mp3/mp3", "flac": "flac/flac"}
_WRITTEN_MIME = {"wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac"}
# Rates the MP3 format defines (MPEG-1, 2 and 2.5); other rates are resampled to the nearest.
MP3_RATES = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)
# What libsndfile decodes (uncompressed PCM containers); the rest goes to PyAV (see above).
_SOUNDFILE_MIMES = frozenset({"audio/wav", "audio/aiff"})
# Video containers whose sound track an Audio part may take.
_VIDEO_MIMES = frozenset(
    {
        "video/mp4",
        "video/webm",
        "video/x-matroska",
        "video/quicktime",
        "video/x-msvideo",
        "video/mp2t",
        "video/3gpp",
    }
)
# Parts of decoder messages that say nothing to the sender.
_NOISE = re.compile(r"Error opening <[^>]*>: |\[Errno -?\d+\] |: '<none>'")
# libsndfile subtypes and FFmpeg codec names, in the words mmkit shows.
_SOUNDFILE_CODECS = {
    "PCM_S8": "pcm8",
    "PCM_U8": "pcm8",
    "PCM_16": "pcm16",
    "PCM_24": "pcm24",
    "PCM_32": "pcm32",
    "FLOAT": "float32",
    "DOUBLE": "float64",
    "ULAW": "ulaw",
    "ALAW": "alaw",
    "IMA_ADPCM": "adpcm",
    "MS_ADPCM": "adpcm",
    "VORBIS": "vorbis",
    "OPUS": "opus",
    "MPEG_LAYER_I": "mp1",
    "MPEG_LAYER_II": "mp2",
    "MPEG_LAYER_III": "mp3",
}
_PYAV_CODECS = {
    "mp3float": "mp3",
    "mp3": "mp3",
    "pcm_s16le": "pcm16",
    "pcm_s16be": "pcm16",
    "pcm_s24le": "pcm24",
    "pcm_s32le": "pcm32",
    "pcm_f32le": "float32",
    "pcm_f64le": "float64",
}


@dataclass(frozen=True)
class AudioInfo:
    """What the header says. `duration` is the header's claim (None when it says nothing):
    limits never trust it, decoding counts."""

    mime: str
    codec: str
    sample_rate: int
    channels: int
    duration: float | None
    kind: str  # "container/codec" as targets list what they take, e.g. "wav/pcm16", "m4a/aac"
    video: bool = False  # the sound track of a video file
    decoder: str = "pyav"  # "soundfile" or "pyav": the library that probed it decodes it


@dataclass(frozen=True)
class AudioLimits:
    """What a receiver accepts: data in each wire format module, overridable by the caller.

    `accepts` lists kinds sent as they are ("wav/pcm16"; "wav/*" for any codec in WAV);
    everything else is converted to the first of `writes` that fits `max_bytes`, at
    `sample_rate` (None: the source's) and downmixed when `mono`.
    """

    accepts: frozenset[str] = frozenset({"wav/pcm16", "mp3/mp3"})
    writes: tuple[str, ...] = ("wav", "mp3")
    sample_rate: int | None = None
    mono: bool = False
    max_bytes: int | None = 25 * 1024 * 1024
    max_duration: float | None = None

    def takes(self, kind: str) -> bool:
        return kind in self.accepts or kind.split("/", 1)[0] + "/*" in self.accepts


@dataclass(frozen=True)
class AudioRequest:
    """What the user asked of one audio part (None: leave it to the source and the target)."""

    sample_rate: int | None = None
    mono: bool | None = None
    format: str | None = None
    start: float | None = None
    end: float | None = None
    max_duration: float | None = None
    mp3_bit_rate: int | None = None  # None: chosen from the rate and channels


@dataclass(frozen=True)
class EncodedAudio:
    data: bytes
    mime: str
    format: str  # the short name ("wav", "mp3", ...): OpenAI's input_audio.format
    sample_rate: int
    channels: int
    duration: float  # counted while decoding, not read from a header
    conversions: tuple[str, ...] = field(default=())


def probe(data: bytes, origin: str) -> AudioInfo:
    """Read the header only: type, codec, rate, channels and the claimed duration."""
    mime = sniff(data)
    if mime is None or not (mime.startswith("audio/") or mime in _VIDEO_MIMES):
        found = f"looks like {mime}" if mime else "has no known audio signature"
        raise InvalidMediaError(
            f"audio {origin} {found}; pass a WAV, MP3, FLAC, OGG, M4A, AAC, WEBM or AIFF file"
        )
    with _translated(origin, "cannot be decoded as audio"):
        header = _probe_soundfile(data, mime) if mime in _SOUNDFILE_MIMES else None
        info = header or _probe_pyav(data, mime, origin)
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise InvalidMediaError(
            f"audio {origin} claims {info.channels} channels; mmkit reads 1 to {MAX_CHANNELS}"
        )
    if not MIN_RATE <= info.sample_rate <= MAX_RATE:
        raise InvalidMediaError(
            f"audio {origin} claims a sample rate of {info.sample_rate:,} Hz; mmkit reads "
            f"{MIN_RATE:,} to {MAX_RATE:,} Hz"
        )
    return info


def validate(
    data: bytes,
    info: AudioInfo,
    origin: str,
    max_duration: float | None = None,
    limits: AudioLimits | None = None,
) -> float:
    """Decode every sample for real, up to the duration cap (`max_duration`, default 600 s, and
    the target's own limit); the decoded length in seconds."""
    frames = 0
    window = _window(AudioRequest(max_duration=max_duration), limits, info.sample_rate)
    for block in _decoded(data, info, origin, window):
        frames += len(block)
    if frames == 0:
        raise InvalidMediaError(f"audio {origin} holds no samples; check the file")
    return frames / info.sample_rate


def encode(
    data: bytes,
    info: AudioInfo,
    origin: str,
    request: AudioRequest = AudioRequest(),
    limits: AudioLimits = AudioLimits(),
) -> EncodedAudio:
    """The audio as the receiver accepts it; the original bytes when nothing has to change."""
    wanted = _wanted_format(request.format, limits, origin)
    rate = request.sample_rate or info.sample_rate
    changes = (
        rate != info.sample_rate
        or (request.mono and info.channels > 1)
        or request.start
        or request.end is not None
        or (wanted is not None and _WRITTEN_KIND[wanted].split("/")[0] != info.kind.split("/")[0])
    )
    fits_bytes = limits.max_bytes is None or len(data) <= limits.max_bytes
    # Bytes past the audio the header describes go nowhere: a receiver may play them.
    surplus = _unclaimed_bytes(data, info)
    if not (changes or surplus) and limits.takes(info.kind) and fits_bytes and not info.video:
        seconds = validate(data, info, origin, request.max_duration, limits)
        return EncodedAudio(
            data, info.mime, short_name(info.mime), info.sample_rate, info.channels, seconds
        )
    reason = _why_converted(info, limits, fits_bytes, wanted)
    formats = (wanted,) if wanted else limits.writes
    first_size = 0
    for index, fmt in enumerate(formats):
        plan = _plan(info, request, limits, fmt)
        try:
            done = _convert(data, info, origin, plan, reason, limits.max_bytes, index > 0)
        except _OverLimit as over:
            first_size = first_size or over.size
            continue
        if not surplus:
            return done
        claimed = f"{info.duration:.1f} s" if info.duration is not None else "audio"
        cut = f"sent the {claimed} its header describes, not the {surplus:,} bytes after it"
        return replace(done, conversions=(cut, *done.conversions))
    cap = limits.max_bytes
    raise MediaTooLargeError(
        f"audio {origin} encodes to more than {cap:,} bytes (the target's limit) even as "
        f"{' or '.join(f.upper() for f in formats)}; send less of it (end=, or .chunks()), "
        "a lower sample_rate= or mono=True"
    )


def decode(
    data: bytes, info: AudioInfo, origin: str, request: AudioRequest = AudioRequest()
) -> tuple[Block, int]:
    """All samples (frames × channels float32) after start/end, downmix and resampling."""
    import numpy as np

    plan = _plan(info, request, AudioLimits(accepts=frozenset()), "wav")
    blocks = list(_converted(data, info, origin, plan, []))
    channels = plan.channels
    out = np.concatenate(blocks) if blocks else np.zeros((0, channels), np.float32)
    return out, plan.rate


def windows(
    data: bytes,
    info: AudioInfo,
    origin: str,
    seconds: float,
    overlap: float = 0.0,
    request: AudioRequest = AudioRequest(),
) -> Iterator[tuple[float, float, bytes]]:
    """Consecutive pieces of `seconds` (each starting `seconds - overlap` after the last) as
    16-bit PCM WAV at the source's rate and channels: (start s, end s, bytes). One decode pass;
    memory holds one piece."""
    import numpy as np

    rate = info.sample_rate
    size = max(1, round(seconds * rate))
    step = max(1, size - round(overlap * rate))
    window = _window(request, None, rate)
    offset = (window.start or 0) / rate
    pending: list[Block] = []
    held = 0
    first = 0  # frame index (from start) of pending[0][0]
    for block in _decoded(data, info, origin, window):
        pending.append(block)
        held += len(block)
        while held >= size:
            joined = np.concatenate(pending)
            yield _piece(joined[:size], rate, offset + first / rate)
            joined = joined[step:]
            first += step
            pending, held = [joined], len(joined)
    if held > (size - step if first else 0):
        yield _piece(np.concatenate(pending), rate, offset + first / rate)


def samples_to_wav(samples: Any, rate: Any, origin: str, notes: list[str]) -> bytes:
    """(numpy samples, rate) as WAV bytes that keep every sample exactly: int16 as 16-bit PCM,
    int32 as 32-bit PCM, float32 as 32-bit float (float64 is stored as float32, and noted)."""
    import numpy as np
    import soundfile

    if not isinstance(rate, (int, np.integer)) or isinstance(rate, bool):
        raise InvalidMediaError(
            f"audio {origin}: the sample rate must be an integer number of Hz, not "
            f"{type(rate).__name__}; pass (samples, 16_000)"
        )
    if not MIN_RATE <= int(rate) <= MAX_RATE:
        raise InvalidMediaError(
            f"audio {origin}: sample rate {rate} Hz is outside {MIN_RATE:,}–{MAX_RATE:,} Hz"
        )
    if not isinstance(samples, np.ndarray):
        raise UnsupportedFormatError(
            f"audio {origin}: samples must be a numpy array, not {type(samples).__name__}"
        )
    subtypes = {"int16": "PCM_16", "int32": "PCM_32", "float32": "FLOAT", "float64": "FLOAT"}
    if samples.dtype.name not in subtypes:
        raise UnsupportedFormatError(
            f"audio {origin}: samples of dtype {samples.dtype}; pass int16, int32, float32 or "
            "float64 (e.g. samples.astype('float32') for values in -1..1)"
        )
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or samples.shape[1] < 1:
        raise InvalidMediaError(
            f"audio {origin}: samples of shape {samples.shape}; pass 1-D (mono) or "
            "frames × channels"
        )
    if samples.shape[1] > MAX_CHANNELS:
        hint = " (it looks like channels × frames: pass samples.T)" if samples.shape[0] <= 8 else ""
        raise InvalidMediaError(
            f"audio {origin}: {samples.shape[1]:,} channels is more than {MAX_CHANNELS}{hint}"
        )
    if samples.shape[0] == 0:
        raise InvalidMediaError(f"audio {origin}: the samples are empty")
    if samples.dtype.kind == "f" and not np.isfinite(samples).all():
        raise InvalidMediaError(f"audio {origin}: the samples hold NaN or infinite values")
    if samples.dtype == np.float64:
        samples = samples.astype(np.float32)
        notes.append("stored float64 samples as 32-bit float")
    buf = io.BytesIO()
    soundfile.write(buf, samples, int(rate), format="WAV", subtype=subtypes[samples.dtype.name])
    return buf.getvalue()


def describe(duration: float | None, rate: int | None, channels: int | None) -> str:
    """'2.0 s 16 kHz mono': the words the server's echo and `mmkit inspect` use."""
    seconds = "? s" if duration is None else f"{duration:.1f} s"
    khz = "? kHz" if rate is None else f"{rate / 1000:g} kHz"
    layout = "?" if channels is None else {1: "mono", 2: "stereo"}.get(channels, f"{channels} ch")
    return f"{seconds} {khz} {layout}"


# --- internals: probing ------------------------------------------------------------------------


class _FileLike(io.BytesIO):
    """Bytes read by libsndfile, seeking as a file does: a seek before the start leaves the
    position where it was. A damaged header makes libsndfile seek to -1, and BytesIO's
    ValueError would escape through soundfile's callback as an unraisable exception."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._size = len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_CUR: self.tell(), io.SEEK_END: self._size}.get(whence, 0)
        if base + offset < 0:
            return self.tell()
        return super().seek(offset, whence)


def _probe_soundfile(data: bytes, mime: str) -> AudioInfo | None:
    """libsndfile's header read; None when it cannot open the bytes (PyAV may)."""
    import soundfile

    try:
        info = soundfile.info(_FileLike(data))
    except Exception:  # libsndfile refuses some valid files (odd WAV codecs): PyAV decides
        return None
    codec = _SOUNDFILE_CODECS.get(info.subtype, info.subtype.lower())
    container = short_name(mime)
    kind = f"{container}/{codec}" + ("-extensible" if info.format == "WAVEX" else "")
    frames = int(info.frames)
    claimed = frames / info.samplerate if 0 < frames < 2**62 and info.samplerate > 0 else None
    rate, channels = int(info.samplerate), int(info.channels)
    return AudioInfo(mime, codec, rate, channels, claimed, kind, decoder="soundfile")


# Bare streams have no container header: FFmpeg guesses them from a few frames and misses short
# ones (a valid 2-frame ADTS clip), so the demuxer the bytes were sniffed as is named.
_DEMUXERS = {"audio/aac": "aac", "audio/mpeg": "mp3"}


def _open_pyav(data: bytes, mime: str) -> Any:
    import av

    return av.open(io.BytesIO(data), mode="r", format=_DEMUXERS.get(mime))


def _probe_pyav(data: bytes, mime: str, origin: str) -> AudioInfo:
    with _open_pyav(data, mime) as container:
        if not container.streams.audio:
            what = "video without sound" if container.streams.video else "no audio stream"
            raise InvalidMediaError(f"audio {origin} has {what}; pass a file with sound")
        stream = container.streams.audio[0]
        context = stream.codec_context
        rate, channels = int(context.sample_rate or 0), int(context.channels or 0)
        codec = _PYAV_CODECS.get(context.name, context.name)
        video = bool(container.streams.video)
        claimed = _pyav_duration(container, stream)
    if not video and mime.startswith("video/"):  # ISO BMFF or WebM with sound tracks only
        mime = "audio/" + mime.split("/", 1)[1]
    return AudioInfo(mime, codec, rate, channels, claimed, f"{short_name(mime)}/{codec}", video)


def _pyav_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE units
    return None


# A start= further in than this is sought (to this much before it), not decoded up to.
_SEEK_AFTER_SECONDS = 2.0
# Containers with one chunk of samples and its size in the header: (IFF form, chunk, byte order).
_SAMPLE_CHUNKS = {"audio/wav": (b"RIFF", b"data", "<"), "audio/aiff": (b"FORM", b"SSND", ">")}


def _unclaimed_bytes(data: bytes, info: AudioInfo) -> int:
    """Bytes of a WAV or AIFF file past its sample chunk that are not well-formed chunks (a
    header saying 1 s over two hours of samples leaves them there); 0 for other formats."""
    import struct

    form = _SAMPLE_CHUNKS.get(info.mime)
    if form is None or data[:4] != form[0]:
        return 0
    head, order = form[1], form[2]
    pos = 12
    seen = False
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (size,) = struct.unpack_from(order + "I", data, pos + 4)
        printable = all(0x20 <= c <= 0x7E for c in kind)
        if not printable or (seen and pos + 8 + size > len(data)):
            break  # not a chunk: what is left is unclaimed
        seen = seen or kind == head
        pos += 8 + size + (size & 1)
    return max(0, len(data) - pos) if seen else 0


# --- internals: decoding -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    """Which source frames to keep: [start, stop), at most `cap` seconds of them (the target's
    limit when `cap_is_target`, else the guard against long or lying files)."""

    start: int = 0
    stop: int | None = None
    cap: float = DEFAULT_MAX_DURATION
    cap_is_target: bool = False


def _window(request: AudioRequest, limits: AudioLimits | None, rate: int) -> _Window:
    guard = DEFAULT_MAX_DURATION if request.max_duration is None else request.max_duration
    target = None if limits is None else limits.max_duration
    return _Window(
        start=_frames(request.start, rate),
        stop=None if request.end is None else _frames(request.end, rate),
        cap=guard if target is None else min(guard, target),
        cap_is_target=target is not None and target < guard,
    )


class _translated:
    """`with _translated(origin, what)`: a decoder's own exceptions become InvalidMediaError."""

    def __init__(self, origin: str, what: str) -> None:
        self._origin = origin
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _: Any) -> None:
        if exc is None or isinstance(exc, MmkitError) or not isinstance(exc, Exception):
            return  # ours already, or KeyboardInterrupt/GeneratorExit: not ours to translate
        raise InvalidMediaError(
            f"audio {self._origin} {self._what} ({_first_line(exc)}); re-export or re-download it"
        ) from exc


def _decoded(data: bytes, info: AudioInfo, origin: str, window: _Window) -> Iterator[Block]:
    """float32 blocks of the source (frames × channels) within the window, cut at the cap."""
    import numpy as np

    blocks = _soundfile_blocks if info.decoder == "soundfile" else _pyav_blocks
    cap_frames = int(window.cap * info.sample_rate)
    kept = 0
    # closing: a refusal mid-stream closes the decoder now, not when the collector gets to it
    got = blocks(data, info, window, origin)
    with _translated(origin, "is corrupt or truncated"), closing(got):  # type: ignore[type-var]
        for block in got:
            if kept + len(block) > cap_frames:
                if window.cap_is_target:
                    raise MediaTooLargeError(
                        f"audio {origin} is longer than the target's {window.cap:g}-second "
                        "limit (decoding stopped there); send part of it with end= or split it "
                        "with .chunks()"
                    )
                raise MediaTooLargeError(
                    f"audio {origin} holds more than {window.cap:g} s (decoding stopped there; "
                    "the header's length is not trusted); pass max_duration= a larger value if "
                    "you trust the file, or end= (or .chunks()) to send part of it"
                )
            if not np.isfinite(block).all():  # as samples_to_wav refuses them in arrays
                raise InvalidMediaError(
                    f"audio {origin} holds NaN or infinite samples; re-export it with finite "
                    "values (e.g. np.nan_to_num)"
                )
            kept += len(block)
            yield block


def _soundfile_blocks(
    data: bytes, info: AudioInfo, window: _Window, origin: str
) -> Iterator[Block]:
    import soundfile

    size = max(1024, BLOCK_SAMPLES // info.channels)
    with soundfile.SoundFile(_FileLike(data)) as handle:
        if (handle.samplerate, handle.channels) != (info.sample_rate, info.channels):
            raise InvalidMediaError(f"audio {origin}: its header changed between reads")
        position = 0
        if window.start:
            if handle.seekable():
                position = handle.seek(window.start)
            else:  # read and drop what comes before start
                while position < window.start:
                    skipped = len(handle.read(min(size, window.start - position), "float32"))
                    if not skipped:
                        return
                    position += skipped
        while True:
            want = size if window.stop is None else min(size, window.stop - position)
            if want <= 0:
                return
            block = handle.read(want, dtype="float32", always_2d=True)
            if not len(block):
                return
            position += len(block)
            yield block


def _pyav_blocks(data: bytes, info: AudioInfo, window: _Window, origin: str) -> Iterator[Block]:
    import numpy as np

    size = max(1024, BLOCK_SAMPLES // info.channels)
    pending: list[Block] = []
    held = 0
    position: int | None = 0  # source frames decoded so far (None: placed by the first pts)
    skipped = 0  # frames decoded before start: work too, bounded by the cap
    with _open_pyav(data, info.mime) as container:
        stream = container.streams.audio[0]
        first = stream.start_time or 0
        base = stream.time_base
        far = window.start > _SEEK_AFTER_SECONDS * info.sample_rate
        if far and base:  # a far start seeks, rather than decoding everything before it
            ahead = (window.start - _SEEK_AFTER_SECONDS * info.sample_rate) / info.sample_rate
            container.seek(first + int(ahead / base), stream=stream, backward=True)
            position = None
        for frame in container.decode(stream):
            if frame.sample_rate != info.sample_rate or frame.layout.nb_channels != info.channels:
                raise InvalidMediaError(
                    f"audio {origin}: its sound changes to {frame.sample_rate} Hz, "
                    f"{frame.layout.nb_channels} channels mid-stream"
                )
            if position is None:
                if frame.pts is None:
                    raise InvalidMediaError(
                        f"audio {origin}: its frames carry no times, so start= cannot seek; "
                        "re-encode it"
                    )
                position = round(float((frame.pts - first) * base) * info.sample_rate)
            samples = _frame_samples(frame, np)
            begin, position = position, position + len(samples)
            if position <= window.start:
                skipped += len(samples)
                if skipped > window.cap * info.sample_rate:
                    raise MediaTooLargeError(
                        f"audio {origin}: start={window.start / info.sample_rate:g} s lies past "
                        f"more than {window.cap:g} s of audio that seeking could not skip; cut "
                        "the file first"
                    )
                continue
            if begin < window.start:
                samples = samples[window.start - begin :]
            if window.stop is not None and position > window.stop:
                samples = samples[: max(0, len(samples) - (position - window.stop))]
            if len(samples):
                pending.append(samples)
                held += len(samples)
            if held >= size:
                yield np.concatenate(pending)
                pending, held = [], 0
            if window.stop is not None and position >= window.stop:
                break
    if pending:
        yield np.concatenate(pending)


def _frame_samples(frame: Any, np: Any) -> Block:
    """One decoded frame as float32 frames × channels, whatever FFmpeg's sample format."""
    array = frame.to_ndarray()
    channels = frame.layout.nb_channels
    array = array.T if frame.format.is_planar else array.reshape(-1, channels)
    kind = array.dtype
    if kind == np.float32:
        out = array
    elif kind == np.float64:
        out = array.astype(np.float32)
    elif kind == np.int16:
        out = array.astype(np.float32) / 32768.0
    elif kind == np.int32:
        out = (array.astype(np.float64) / 2147483648.0).astype(np.float32)
    elif kind == np.uint8:
        out = (array.astype(np.float32) - 128.0) / 128.0
    else:
        raise InvalidMediaError(f"its samples come as {kind}, which mmkit cannot read")
    result: Block = np.ascontiguousarray(out, dtype=np.float32)
    return result


# --- internals: converting ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """One conversion: which frames, at what rate and layout, written as what."""

    window: _Window
    rate: int
    channels: int
    format: str
    request: AudioRequest
    notes: tuple[str, ...]


class _OverLimit(Exception):  # control flow inside encode, never escapes it
    def __init__(self, size: int) -> None:
        self.size = size


def _plan(info: AudioInfo, request: AudioRequest, limits: AudioLimits, fmt: str) -> _Plan:
    notes: list[str] = []
    rate = request.sample_rate or limits.sample_rate or info.sample_rate
    if request.sample_rate is None and limits.sample_rate and rate != info.sample_rate:
        notes.append(f"the target reads {limits.sample_rate / 1000:g} kHz")
    if fmt == "mp3" and rate not in MP3_RATES:
        near = min(MP3_RATES, key=lambda r: abs(r - rate))
        notes.append(f"MP3 has no {rate:,} Hz: {near:,} Hz instead")
        rate = near
    mono = request.mono if request.mono is not None else limits.mono
    channels = 1 if mono or info.channels > 2 else info.channels
    window = _window(request, limits, info.sample_rate)
    return _Plan(window, rate, channels, fmt, request, tuple(notes))


def _convert(
    data: bytes,
    info: AudioInfo,
    origin: str,
    plan: _Plan,
    reason: str,
    max_bytes: int | None,
    fallback: bool,
) -> EncodedAudio:
    notes: list[str] = []
    sink = _SINKS[plan.format](plan, max_bytes, plan.request.mp3_bit_rate)
    frames = 0
    try:
        for block in _converted(data, info, origin, plan, notes):
            sink.write(block)
            frames += len(block)
    except BaseException:
        sink.abandon()  # a refusal mid-stream: the writer is closed now, not by the collector
        raise
    out = sink.close()
    if frames == 0:
        raise InvalidMediaError(
            f"audio {origin} holds no samples"
            + (" between start and end" if plan.window.start or plan.window.stop else "")
        )
    duration = frames / plan.rate
    changes = _describe_changes(info, plan, reason, sink.clipped, fallback, max_bytes)
    return EncodedAudio(
        out,
        _WRITTEN_MIME[plan.format],
        plan.format,
        plan.rate,
        plan.channels,
        duration,
        tuple(changes + notes),
    )


def _converted(
    data: bytes, info: AudioInfo, origin: str, plan: _Plan, notes: list[str]
) -> Iterator[Block]:
    """The window's blocks downmixed and resampled (soxr, high quality, streamed)."""
    import numpy as np

    resampler = None
    if plan.rate != info.sample_rate:
        import soxr

        resampler = soxr.ResampleStream(
            info.sample_rate, plan.rate, plan.channels, dtype="float32", quality="HQ"
        )
    cut_at_end = False
    last = plan.window.stop
    seen = plan.window.start
    for block in _decoded(data, info, origin, plan.window):
        seen += len(block)
        if plan.channels == 1 and block.shape[1] > 1:
            block = block.mean(axis=1, dtype=np.float32, keepdims=True)
        if resampler is not None:
            block = resampler.resample_chunk(block)
        if len(block):
            yield block
    if last is not None and seen >= last:
        cut_at_end = True
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros((0, plan.channels), np.float32), last=True)
        if len(tail):
            yield tail
    if cut_at_end:
        notes.append(f"cut at end={plan.request.end:g} s")


def _describe_changes(
    info: AudioInfo,
    plan: _Plan,
    reason: str,
    clipped: int,
    fallback: bool,
    max_bytes: int | None,
) -> list[str]:
    source = _kind_name(info)
    target = {"wav": "16-bit PCM WAV", "mp3": "MP3", "flac": "FLAC"}[plan.format]
    out = []
    if source != target:
        out.append(f"converted {source} → {target}" + (f" ({reason})" if reason else ""))
    elif reason:
        out.append(f"re-encoded as {target} ({reason})")
    if fallback and max_bytes is not None:
        out.append(f"encoded as {target} to fit {max_bytes:,} bytes")
    if plan.window.start:
        out.append(f"skipped the first {plan.request.start:g} s (start=)")
    if plan.channels != info.channels:
        out.append(f"downmixed {info.channels} channels to mono")
    if plan.rate != info.sample_rate:
        why = f" ({'; '.join(plan.notes)})" if plan.notes else ""
        out.append(f"resampled {info.sample_rate:,} Hz → {plan.rate:,} Hz{why}")
    if clipped:
        out.append(f"clipped {clipped:,} samples beyond full scale")
    return out


def _kind_name(info: AudioInfo) -> str:
    """'16-bit PCM WAV', '32-bit float WAV', 'AAC in M4A', 'Opus in OGG', 'MP3'."""
    container = short_name(info.mime).upper()
    if info.video:
        container += " video"
    words = {
        "pcm8": "8-bit PCM",
        "pcm16": "16-bit PCM",
        "pcm24": "24-bit PCM",
        "pcm32": "32-bit PCM",
        "float32": "32-bit float",
        "float64": "64-bit float",
    }
    if info.codec in words:
        extensible = " (WAVE_FORMAT_EXTENSIBLE)" if info.kind.endswith("-extensible") else ""
        return f"{words[info.codec]} {container}{extensible}"
    codec = {"opus": "Opus", "vorbis": "Vorbis", "flac": "FLAC"}.get(info.codec, info.codec.upper())
    return codec if codec == container else f"{codec} in {container}"


class _Sink:
    """Writes converted blocks into bytes, stopping as soon as they pass the byte limit."""

    clipped = 0

    def __init__(self, plan: _Plan, max_bytes: int | None, bit_rate: int | None) -> None:
        self._buf = io.BytesIO()
        self._max = max_bytes
        self._plan = plan

    def write(self, block: Block) -> None:
        self._write(block)
        if self._max is not None and self._buf.tell() > self._max:
            raise _OverLimit(self._buf.tell())

    def close(self) -> bytes:
        self._close()
        size = len(self._buf.getbuffer())
        if self._max is not None and size > self._max:
            raise _OverLimit(size)
        return self._buf.getvalue()

    def abandon(self) -> None:
        """Close the writer, its output dropped."""
        with suppress(Exception):  # half-written on purpose: only the resources matter
            self._close()

    def _write(self, block: Block) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class _SoundfileSink(_Sink):
    """16-bit PCM through libsndfile (WAV or FLAC). Rounding to int16 is done here, the same on
    every libsndfile version (older ones scale floats by 32767, which is not bit-exact for 16-bit
    sources), and the samples clipped are counted for the conversion notes."""

    container = "WAV"

    def __init__(self, plan: _Plan, max_bytes: int | None, bit_rate: int | None) -> None:
        import soundfile

        super().__init__(plan, max_bytes, bit_rate)
        self._file = soundfile.SoundFile(
            self._buf, "w", plan.rate, plan.channels, "PCM_16", format=self.container
        )

    def _write(self, block: Block) -> None:
        import numpy as np

        scaled = np.rint(block * 32768.0)
        over = (scaled > 32767) | (scaled < -32768)
        if over.any():
            self.clipped += int(over.sum())
            np.clip(scaled, -32768, 32767, out=scaled)
        self._file.write(scaled.astype(np.int16))

    def _close(self) -> None:
        self._file.close()


class _FlacSink(_SoundfileSink):
    container = "FLAC"


class _Mp3Sink(_Sink):
    """MP3 through PyAV's libmp3lame, with a Xing/LAME header so decoders trim the padding."""

    def __init__(self, plan: _Plan, max_bytes: int | None, bit_rate: int | None) -> None:
        import av

        super().__init__(plan, max_bytes, bit_rate)
        self._layout = "mono" if plan.channels == 1 else "stereo"
        self._container = av.open(self._buf, mode="w", format="mp3", options={"id3v2_version": "0"})
        self._stream = self._container.add_stream("libmp3lame", rate=plan.rate, layout=self._layout)
        self._stream.codec_context.bit_rate = bit_rate or mp3_bit_rate(plan.rate, plan.channels)
        self._pts = 0

    def _write(self, block: Block) -> None:
        import av
        import numpy as np

        clipped = np.abs(block) > 1.0
        if clipped.any():
            self.clipped += int(clipped.sum())
            block = np.clip(block, -1.0, 1.0)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(block.T), format="fltp", layout=self._layout
        )
        frame.sample_rate = self._plan.rate
        frame.pts = self._pts
        frame.time_base = Fraction(1, self._plan.rate)
        self._pts += len(block)
        self._container.mux(self._stream.encode(frame))

    def _close(self) -> None:
        self._container.mux(self._stream.encode(None))
        self._container.close()


_SINKS: dict[str, Callable[[_Plan, int | None, int | None], _Sink]] = {
    "wav": _SoundfileSink,
    "flac": _FlacSink,
    "mp3": _Mp3Sink,
}


def mp3_bit_rate(rate: int, channels: int) -> int:
    """64 kbit/s a channel at 32 kHz and up, 32 at 16–24 kHz, 16 below (speech stays clear)."""
    per_channel = 64_000 if rate >= 32_000 else 32_000 if rate >= 16_000 else 16_000
    return per_channel * channels


def _piece(samples: Block, rate: int, start: float) -> tuple[float, float, bytes]:
    import numpy as np
    import soundfile

    scaled = np.clip(np.rint(samples * 32768.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    soundfile.write(buf, scaled, rate, format="WAV", subtype="PCM_16")
    return start, start + len(samples) / rate, buf.getvalue()


# --- internals: checks -------------------------------------------------------------------------


def _wanted_format(value: str | None, limits: AudioLimits, origin: str) -> str | None:
    if value is None:
        return None
    fmt = value.lower().lstrip(".")
    if fmt not in WRITERS:
        raise UnsupportedFormatError(
            f"audio {origin}: format={value!r} is not one mmkit writes; use wav, mp3 or flac"
        )
    if not limits.takes(_WRITTEN_KIND[fmt]):
        accepted = ", ".join(f for f in WRITERS if limits.takes(_WRITTEN_KIND[f]))
        raise UnsupportedFormatError(
            f"audio {origin}: format={value!r} is not accepted by the target (it takes "
            f"{accepted or 'none of wav, mp3, flac'}); pick one of those or leave format unset"
        )
    return fmt


def _why_converted(
    info: AudioInfo, limits: AudioLimits, fits_bytes: bool, wanted: str | None
) -> str:
    if info.video:
        return "the sound track of a video"
    if not limits.takes(info.kind):
        return "the target does not accept it"
    if not fits_bytes:
        return f"over the target's {limits.max_bytes:,} bytes"
    return f"format={wanted}" if wanted else ""


def _frames(seconds: float | None, rate: int) -> int:
    return 0 if not seconds else round(seconds * rate)


def _first_line(exc: BaseException) -> str:
    """The decoder's message without its noise (object reprs, errno numbers, '<none>')."""
    lines = str(exc).strip().splitlines()
    text = _NOISE.sub("", lines[0]) if lines else ""
    return text.strip() or type(exc).__name__


__all__ = [
    "DEFAULT_MAX_DURATION",
    "AudioInfo",
    "AudioLimits",
    "AudioRequest",
    "EncodedAudio",
    "decode",
    "describe",
    "encode",
    "probe",
    "samples_to_wav",
    "validate",
    "windows",
]
