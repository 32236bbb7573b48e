"""Hypothesis strategies for images, messages and the dicts of the wire formats.

Everything is small by default (images up to 64 px a side) so that a property test draws hundreds
of examples in a few seconds. Pixel data comes from a numpy generator seeded by one drawn integer
(never one draw a pixel), in one of four patterns: noise, a flat colour, a gradient, or blocks.

    from hypothesis import given
    from mmkit.testing import strategies as mst

    @given(mst.conversations())
    def test_round_trip(messages):
        assert mmkit.from_openai(mmkit.to_openai(messages)) is not None
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import DrawFn, SearchStrategy
from PIL import Image as PILImage

from mmkit.media.sniff import sniff
from mmkit.message import Message, Role
from mmkit.parts import Audio, Image, Text, Video

# Every Pillow mode pil_images() can draw ("P" is drawn with and without a transparent index).
ALL_MODES: tuple[str, ...] = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK", "F")
# The modes every common decoder reads the same way: what mmkit sends.
PORTABLE_MODES: tuple[str, ...] = ("1", "L", "LA", "P", "RGB", "RGBA")
# The file formats image_bytes() can write (Pillow's names, lower case).
IMAGE_FORMATS: tuple[str, ...] = ("png", "jpeg", "webp", "gif", "bmp", "tiff")
# Formats every built-in target accepts as they are: what `format=` is drawn from.
_WIRE_FORMATS: tuple[str, ...] = ("png", "jpeg", "webp", "gif")
_PATTERNS: tuple[str, ...] = ("noise", "flat", "gradient", "blocks")
# Video codecs video_bytes() can write, each in its usual container (all in the av wheel).
VIDEO_CODECS: tuple[str, ...] = ("h264", "vp9", "mpeg4")
_VIDEO_WRITERS: dict[str, tuple[str, str, dict[str, str]]] = {
    "h264": ("mp4", "libx264", {"preset": "ultrafast", "crf": "35"}),
    "vp9": ("webm", "libvpx-vp9", {"deadline": "realtime", "cpu-used": "8", "crf": "50", "b": "0"}),
    "mpeg4": ("avi", "mpeg4", {"qscale": "10"}),
}

# The modes each format stores as they are; others are converted first (see _storable).
_SAVABLE: dict[str, frozenset[str]] = {
    "png": frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "I;16"}),
    "jpeg": frozenset({"1", "L", "RGB", "CMYK"}),
    "webp": frozenset({"RGB", "RGBA"}),
    "gif": frozenset({"1", "L", "P"}),
    "bmp": frozenset({"1", "L", "P", "RGB"}),
    "tiff": frozenset(ALL_MODES),
}
_PILLOW_NAMES = {
    "png": "PNG",
    "jpeg": "JPEG",
    "webp": "WEBP",
    "gif": "GIF",
    "bmp": "BMP",
    "tiff": "TIFF",
}

# Real signatures of image (and other) formats, for "valid header, garbage body" inputs.
_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"RIFF\x00\x10\x00\x00WEBPVP8 ",
    b"RIFF\x00\x10\x00\x00WEBPVP8L",
    b"\x00\x00\x00\x1cftypavif",
    b"\x00\x00\x00\x18ftypheic",
    b"\x00\x00\x01\x00",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    b"\x00\x00\x00\x18ftypmp42",
)

_URL_REGEX = (
    r"https://(example\.com|example\.org|img\.example\.net)/[a-z0-9_-]{1,12}(/[a-z0-9_-]{1,12})?"
    r"\.(png|jpg|jpeg|webp|gif)(\?[a-z]{1,6}=[A-Za-z0-9]{1,12})?"
)


# --- pixels ------------------------------------------------------------------------------------


def pil_images(
    modes: Sequence[str] = ALL_MODES, min_side: int = 1, max_side: int = 64
) -> SearchStrategy[PILImage.Image]:
    """PIL images of a mode drawn from `modes` (see ALL_MODES), each side in [min_side, max_side].

    The pixels are a pattern (noise, flat colour, gradient or blocks) made by numpy from a drawn
    seed. "P" images have 1 to 256 random palette colours and, half the time, a transparent
    index; "I;16" spans the full 16-bit range; "F" holds floats in [0, 1] or [0, 255].
    """
    chosen = _check_modes(modes)
    _check_sides(min_side, max_side)
    return _pil_image(chosen, min_side, max_side)


@st.composite
def _pil_image(
    draw: DrawFn, modes: tuple[str, ...], min_side: int, max_side: int
) -> PILImage.Image:
    mode = draw(st.sampled_from(modes))
    width = draw(st.integers(min_side, max_side))
    height = draw(st.integers(min_side, max_side))
    pattern = draw(st.sampled_from(_PATTERNS))
    seed = draw(st.integers(0, 2**32 - 1))
    transparent = mode == "P" and draw(st.booleans())
    return _render(mode, width, height, pattern, seed, transparent)


def _render(
    mode: str, width: int, height: int, pattern: str, seed: int, transparent: bool = False
) -> PILImage.Image:
    rng = np.random.default_rng(seed)
    size = (width, height)
    channels = {"LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}.get(mode, 1)
    field = _field(rng, pattern, height, width, channels)
    if mode == "1":
        gray = PILImage.fromarray(np.where(field[:, :, 0] > 0.5, 255, 0).astype(np.uint8))
        return gray.convert("1", dither=PILImage.Dither.NONE)
    if mode in ("L", "LA", "RGB", "RGBA", "CMYK"):
        data = _to_uint8(field)
        return PILImage.frombytes(mode, size, np.ascontiguousarray(data).tobytes())
    if mode == "P":
        colours = int(rng.integers(1, 257))
        palette = rng.integers(0, 256, size=(colours, 3), dtype=np.uint8)
        index = np.minimum((field[:, :, 0] * colours).astype(np.int64), colours - 1)
        im = PILImage.frombytes("P", size, index.astype(np.uint8).tobytes())
        im.putpalette(palette.tobytes())
        if transparent:
            im.info["transparency"] = int(rng.integers(0, colours))
        return im
    if mode == "I;16":
        data16 = np.round(field[:, :, 0] * 65535).astype("<u2")
        return PILImage.frombytes("I;16", size, data16.tobytes())
    if mode == "F":
        scale = 1.0 if rng.random() < 0.5 else 255.0
        floats = (field[:, :, 0] * scale).astype(np.float32)
        return PILImage.frombytes("F", size, floats.tobytes())
    raise InvalidArgument(f"unknown mode {mode!r}")  # guarded by _check_modes


def _field(
    rng: np.random.Generator, pattern: str, height: int, width: int, channels: int
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Values in [0, 1] of shape (height, width, channels)."""
    shape = (height, width, channels)
    if pattern == "flat":
        return np.array(np.broadcast_to(rng.random(channels), shape), dtype=np.float64)
    if pattern == "gradient":
        ys = np.linspace(0.0, 1.0, height)[:, None, None]
        xs = np.linspace(0.0, 1.0, width)[None, :, None]
        a, b = rng.random(channels), rng.random(channels)
        ramp = (a * xs + b * ys) / np.maximum(a + b, 1e-9)
        return np.array(np.broadcast_to(ramp, shape), dtype=np.float64)
    if pattern == "blocks":
        cell = int(rng.integers(1, 17))
        coarse = rng.random((-(-height // cell), -(-width // cell), channels))
        blocks = np.repeat(np.repeat(coarse, cell, axis=0), cell, axis=1)
        return np.ascontiguousarray(blocks[:height, :width])
    return rng.random(shape)


def _to_uint8(values: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, Any]:
    return np.clip(np.round(values * 255), 0, 255).astype(np.uint8)


# --- encoded files -----------------------------------------------------------------------------


def image_bytes(
    formats: Sequence[str] = IMAGE_FORMATS,
    modes: Sequence[str] = ALL_MODES,
    min_side: int = 1,
    max_side: int = 64,
    *,
    animated: bool = True,
    exif_orientation: bool = True,
) -> SearchStrategy[bytes]:
    """Encoded image files: a `pil_images(modes, ...)` image saved in a format from `formats`.

    A mode the format cannot store is converted first (16-bit and float to 8-bit gray; alpha kept
    where the format has it; GIF quantised to a palette), so every result is a valid file. JPEG
    and WEBP get a drawn quality (WEBP sometimes lossless). With `animated`, a GIF has 2-4 frames
    half the time; with `exif_orientation`, a JPEG carries an EXIF Orientation (1-8) half the
    time. The result decodes with Pillow; its displayed size is the drawn size, transposed for
    orientations 5-8.
    """
    chosen = tuple(_check_choice(formats, IMAGE_FORMATS, "format"))
    modes_chosen = _check_modes(modes)
    _check_sides(min_side, max_side)
    return _image_bytes(chosen, modes_chosen, min_side, max_side, animated, exif_orientation)


@st.composite
def _image_bytes(
    draw: DrawFn,
    formats: tuple[str, ...],
    modes: tuple[str, ...],
    min_side: int,
    max_side: int,
    animated: bool,
    exif_orientation: bool,
) -> bytes:
    fmt = draw(st.sampled_from(formats))
    im = _storable(draw(_pil_image(modes, min_side, max_side)), fmt)
    options: dict[str, Any] = {}
    if fmt == "jpeg":
        options["quality"] = draw(st.integers(30, 95))
        if exif_orientation and draw(st.booleans()):
            exif = PILImage.Exif()
            exif[0x0112] = draw(st.integers(1, 8))
            options["exif"] = exif.tobytes()
    elif fmt == "webp":
        options["quality"] = draw(st.integers(30, 95))
        options["lossless"] = draw(st.booleans())
    elif fmt == "png":
        options["compress_level"] = 1
    elif fmt == "gif" and animated and draw(st.booleans()):
        count = draw(st.integers(1, 3))
        frames = []
        for _ in range(count):
            seed = draw(st.integers(0, 2**32 - 1))
            pattern = draw(st.sampled_from(_PATTERNS))
            frames.append(_storable(_render("RGB", im.width, im.height, pattern, seed), fmt))
        options.update(
            save_all=True, append_images=frames, loop=0, duration=draw(st.integers(20, 200))
        )
    buf = io.BytesIO()
    im.save(buf, format=_PILLOW_NAMES[fmt], **options)
    return buf.getvalue()


def _storable(im: PILImage.Image, fmt: str) -> PILImage.Image:
    """`im` in a mode `fmt` stores as is."""
    savable = _SAVABLE[fmt]
    if im.mode in savable:
        return im
    alpha = im.mode in ("LA", "RGBA") or (im.mode == "P" and "transparency" in im.info)
    if im.mode in ("I;16", "F"):
        im = _gray8(im)
        if im.mode in savable:
            return im
    if im.mode in ("L", "LA") and "L" in savable:
        return im.convert("L")
    if fmt == "gif":
        return im.convert("RGB").quantize(256)
    if alpha and "RGBA" in savable:
        return im.convert("RGBA")
    return im.convert("RGB")


def _gray8(im: PILImage.Image) -> PILImage.Image:
    values = np.asarray(im).astype(np.float64)
    top = 65535.0 if im.mode == "I;16" else max(float(values.max()), 1.0)
    return PILImage.fromarray(_to_uint8(values / top))


# --- mmkit parts and messages ------------------------------------------------------------------


def image_options() -> SearchStrategy[dict[str, Any]]:
    """Keyword options for `mmkit.Image(...)`, each present about half the time.

    max_side 1-128, max_pixels 1-8192, format one every built-in target takes (png, jpeg, webp,
    gif), quality 1-100, detail auto/low/high. `st.just({})` instead means "no options".
    """
    return st.fixed_dictionaries(
        {},
        optional={
            "max_side": st.integers(1, 128),
            "max_pixels": st.integers(1, 8192),
            "format": st.sampled_from(_WIRE_FORMATS),
            "quality": st.integers(1, 100),
            "detail": st.sampled_from(("auto", "low", "high")),
        },
    )


def images(
    sources: SearchStrategy[Any] | None = None,
    options: SearchStrategy[dict[str, Any]] | None = None,
) -> SearchStrategy[Image]:
    """`mmkit.Image` parts built from `sources` (default `image_bytes()`) with `options`.

    `sources` may draw anything `Image(...)` takes (bytes, PIL images, paths, URLs...);
    `options` draws the keyword options (default `image_options()`; `st.just({})` for none).
    """
    return _image(
        sources if sources is not None else image_bytes(),
        options if options is not None else image_options(),
    )


@st.composite
def _image(
    draw: DrawFn, sources: SearchStrategy[Any], options: SearchStrategy[dict[str, Any]]
) -> Image:
    return Image(draw(sources), **draw(options))


def texts(min_size: int = 0, max_size: int = 80) -> SearchStrategy[str]:
    """Unicode text (any code point but surrogates: accents, emoji, newlines, control
    characters, the empty string), `min_size` to `max_size` characters."""
    return st.text(min_size=min_size, max_size=max_size)


_NAMES = st.from_regex(r"[A-Za-z0-9_-]{1,16}", fullmatch=True)


def messages(
    roles: Sequence[str] = ("system", "user", "assistant"),
    max_parts: int = 4,
    *,
    images: SearchStrategy[Image] | None = None,
    texts: SearchStrategy[str] | None = None,
    media_roles: Sequence[str] = ("user",),
    names: bool = True,
    audios: SearchStrategy[Audio] | None = None,
) -> SearchStrategy[Message]:
    """`mmkit.Message`s: a role from `roles` and 1 to `max_parts` parts.

    Messages of a role in `media_roles` mix Text and Image parts in any order (images drawn from
    `images`, default `images()`), and Audio parts when `audios` is given (e.g. `audios()`);
    other roles hold text only, as chat APIs require. Text comes
    from `texts` (default `texts()`). With `names`, a message sometimes has a `name` (OpenAI's
    pattern `[A-Za-z0-9_-]{1,16}`).
    """
    chosen = tuple(_check_choice(roles, ("system", "developer", "user", "assistant"), "role"))
    if max_parts < 1:
        raise InvalidArgument(f"max_parts={max_parts} must be at least 1")
    image_parts: SearchStrategy[Image | Audio] = images if images is not None else _default_images()
    if audios is not None:
        image_parts = st.one_of(image_parts, audios)
    text_parts = (texts if texts is not None else _default_texts()).map(Text)
    return _message(chosen, max_parts, image_parts, text_parts, frozenset(media_roles), names)


def _default_images() -> SearchStrategy[Image]:
    return images()


def _default_texts() -> SearchStrategy[str]:
    return texts()


@st.composite
def _message(
    draw: DrawFn,
    roles: tuple[str, ...],
    max_parts: int,
    image_parts: SearchStrategy[Image | Audio],
    text_parts: SearchStrategy[Text],
    media_roles: frozenset[str],
    names: bool,
) -> Message:
    role = draw(st.sampled_from(roles))
    kinds: SearchStrategy[Text | Image | Audio] = (
        st.one_of(text_parts, image_parts) if role in media_roles else text_parts
    )
    parts = draw(st.lists(kinds, min_size=1, max_size=max_parts))
    name = draw(st.none() | _NAMES) if names else None
    return Message(cast(Role, role), parts, name=name)


def conversations(
    min_size: int = 1, max_size: int = 4, **message_options: Any
) -> SearchStrategy[list[Message]]:
    """Lists of `messages(**message_options)`, `min_size` to `max_size` long."""
    return st.lists(messages(**message_options), min_size=min_size, max_size=max_size)


# --- wire-format dicts -------------------------------------------------------------------------


def openai_messages(
    roles: Sequence[str] = ("system", "user", "assistant"),
    max_parts: int = 4,
    *,
    image_urls: SearchStrategy[str] | None = None,
    tool_calls: bool = True,
) -> SearchStrategy[dict[str, Any]]:
    """Valid OpenAI Chat Completions message dicts, as callers of the openai SDK write them.

    system/developer: a string or a list of text parts. user: a string, or a list of 1 to
    `max_parts` text and `image_url` parts (`detail` sometimes set); the URLs come from
    `image_urls` (default: https URLs on example.com/.org/.net, never fetched, or data URIs of
    `image_bytes()` whose MIME type matches the bytes). assistant: a string or, with
    `tool_calls`, null content and a `tool_calls` list. tool (if in `roles`): a string with a
    `tool_call_id`. system/user/assistant sometimes carry a `name`.
    """
    allowed = ("system", "developer", "user", "assistant", "tool")
    chosen = tuple(_check_choice(roles, allowed, "role"))
    if max_parts < 1:
        raise InvalidArgument(f"max_parts={max_parts} must be at least 1")
    urls = image_urls if image_urls is not None else st.one_of(https_image_urls(), data_uris())
    return _openai_message(chosen, max_parts, urls, tool_calls)


def https_image_urls() -> SearchStrategy[str]:
    """https URLs of images on reserved example domains (never resolvable, never fetched)."""
    return st.from_regex(_URL_REGEX, fullmatch=True)


def data_uris(sources: SearchStrategy[bytes] | None = None) -> SearchStrategy[str]:
    """`data:<type>;base64,...` URIs of `sources` (default `image_bytes()`), the type sniffed
    from the bytes so it never lies."""
    return (sources if sources is not None else image_bytes()).map(_data_uri)


def _data_uri(data: bytes) -> str:
    import pybase64

    mime = sniff(data) or "application/octet-stream"
    return f"data:{mime};base64,{pybase64.b64encode(data).decode('ascii')}"


@st.composite
def _openai_message(
    draw: DrawFn,
    roles: tuple[str, ...],
    max_parts: int,
    urls: SearchStrategy[str],
    tool_calls: bool,
) -> dict[str, Any]:
    role = draw(st.sampled_from(roles))
    text = texts()
    text_part = text.map(lambda t: {"type": "text", "text": t})
    out: dict[str, Any] = {"role": role}
    if role == "tool":
        out["tool_call_id"] = draw(_call_ids())
        out["content"] = draw(text)
        return out
    if role == "user":
        image_part = st.builds(
            _image_url_part, urls, st.none() | st.sampled_from(("auto", "low", "high"))
        )
        out["content"] = draw(
            text | st.lists(text_part | image_part, min_size=1, max_size=max_parts)
        )
    elif role == "assistant" and tool_calls and draw(st.booleans()):
        out["content"] = None
        out["tool_calls"] = draw(st.lists(_tool_call(), min_size=1, max_size=3))
    elif role in ("system", "developer"):
        out["content"] = draw(text | st.lists(text_part, min_size=1, max_size=max_parts))
    else:
        out["content"] = draw(text)
    if draw(st.booleans()):
        out["name"] = draw(_NAMES)
    return out


def _image_url_part(url: str, detail: str | None) -> dict[str, Any]:
    image_url: dict[str, Any] = {"url": url}
    if detail is not None:
        image_url["detail"] = detail
    return {"type": "image_url", "image_url": image_url}


def _call_ids() -> SearchStrategy[str]:
    return st.from_regex(r"call_[A-Za-z0-9]{8,24}", fullmatch=True)


def _tool_call() -> SearchStrategy[dict[str, Any]]:
    arguments = st.dictionaries(
        st.from_regex(r"[a-z_]{1,10}", fullmatch=True),
        st.one_of(st.integers(-1000, 1000), st.booleans(), st.text(max_size=20)),
        max_size=3,
    ).map(json.dumps)
    return st.builds(
        lambda call_id, name, args: {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": args},
        },
        _call_ids(),
        st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
        arguments,
    )


# --- bad input ---------------------------------------------------------------------------------


def corrupt_bytes(max_size: int = 2048) -> SearchStrategy[bytes]:
    """Bytes that are (almost always) not a decodable image, each kind about equally often:

    - random bytes, empty included, up to `max_size`;
    - a valid `image_bytes()` file cut short (a cut that only drops trailing metadata, such as a
      PNG's IEND chunk, may still decode);
    - a real signature (PNG, JPEG, GIF, BMP, TIFF, WEBP, AVIF, HEIC, ICO, and non-image WAV/MP4)
      followed by random bytes;
    - the first bytes of a valid file followed by random bytes;
    - a PNG with a valid IHDR (small size, correct CRC) and a garbage IDAT.
    """
    if max_size < 1:
        raise InvalidArgument(f"max_size={max_size} must be at least 1")
    garbage = st.binary(max_size=max_size)
    return st.one_of(
        garbage,
        _truncated(image_bytes()),
        st.builds(lambda sig, tail: sig + tail, st.sampled_from(_SIGNATURES), garbage),
        _garbage_after_prefix(image_bytes(), garbage),
        _png_with_garbage_data(garbage),
    )


@st.composite
def _truncated(draw: DrawFn, files: SearchStrategy[bytes]) -> bytes:
    data = draw(files)
    return data[: draw(st.integers(0, len(data) - 1))]


@st.composite
def _garbage_after_prefix(
    draw: DrawFn, files: SearchStrategy[bytes], garbage: SearchStrategy[bytes]
) -> bytes:
    data = draw(files)
    keep = draw(st.integers(1, min(len(data), 64)))
    return data[:keep] + draw(garbage)


@st.composite
def _png_with_garbage_data(draw: DrawFn, garbage: SearchStrategy[bytes]) -> bytes:
    width, height = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    depth, colour = draw(st.sampled_from(((1, 0), (8, 0), (16, 0), (8, 2), (8, 3), (8, 4), (8, 6))))
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    chunks = [_png_chunk(b"IHDR", header)]
    if colour == 3:
        chunks.append(_png_chunk(b"PLTE", bytes(range(48))))
    chunks += [_png_chunk(b"IDAT", draw(garbage)), _png_chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


# --- argument checks ---------------------------------------------------------------------------


def _check_modes(modes: Sequence[str]) -> tuple[str, ...]:
    return tuple(_check_choice(modes, ALL_MODES, "mode"))


def _check_choice(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    chosen = list(values)
    if not chosen:
        raise InvalidArgument(f"give at least one {what}")
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise InvalidArgument(f"unknown {what} {unknown!r}; choose from {list(allowed)!r}")
    return chosen


def _check_sides(min_side: int, max_side: int) -> None:
    if not 1 <= min_side <= max_side:
        raise InvalidArgument(f"need 1 <= min_side <= max_side, got {min_side}, {max_side}")


# --- video ---------------------------------------------------------------------------------------


@st.composite
def video_bytes(
    draw: DrawFn,
    *,
    codecs: Sequence[str] = VIDEO_CODECS,
    min_side: int = 16,
    max_side: int = 64,
    min_frames: int = 1,
    max_frames: int = 12,
    fps: Sequence[int] = (5, 10, 24, 25, 30),
) -> bytes:
    """A real encoded clip (H.264 MP4, VP9 WEBM or MPEG-4 AVI): a block moving over a gradient,
    sides even and within [min_side, max_side], `min_frames`..`max_frames` frames at a drawn
    rate. Small by default, so each example encodes in a few milliseconds."""
    chosen = _check_choice(codecs, VIDEO_CODECS, "codec")
    _check_sides(min_side, max_side)
    if not 1 <= min_frames <= max_frames:
        raise InvalidArgument(f"need 1 <= min_frames <= max_frames, got {min_frames}, {max_frames}")
    codec = draw(st.sampled_from(chosen))
    low, high = max(16, min_side), max(16, max_side)  # encoders want 16 px and even sides
    width = draw(st.integers(low, high)) // 2 * 2
    height = draw(st.integers(low, high)) // 2 * 2
    rate = draw(st.sampled_from(list(fps)))
    count = draw(st.integers(min_frames, max_frames))
    seed = draw(st.integers(0, 2**32 - 1))
    return _encode_clip(codec, width, height, rate, count, seed)


def videos(**options: Any) -> SearchStrategy[Video]:
    """Video parts made from `video_bytes(**options)`."""
    return video_bytes(**options).map(Video)


def _encode_clip(codec: str, width: int, height: int, rate: int, count: int, seed: int) -> bytes:
    import av

    fmt, encoder, settings = _VIDEO_WRITERS[codec]
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 200, size=3)
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.dstack(
        [base[0] + xx * 40 // width, base[1] + yy * 40 // height, np.full_like(xx, base[2])]
    ).astype(np.uint8)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as container:
        stream = container.add_stream(encoder, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.thread_count = 1
        stream.options = dict(settings)
        for index in range(count):
            pixels = background.copy()
            x = (index * 3) % max(1, width - 8)
            pixels[height // 4 : height // 4 + 8, x : x + 8] = (250, 250, 250)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


# --- audio ---------------------------------------------------------------------------------------

# What audio_bytes() can write: (container, codec) names, every one a format mmkit reads.
AUDIO_FORMATS: tuple[str, ...] = (
    "wav",
    "wav-float",
    "wav-extensible",
    "flac",
    "ogg-vorbis",
    "ogg-opus",
    "mp3",
    "m4a",
    "aac",
    "webm",
    "aiff",
)
SAMPLE_DTYPES: tuple[str, ...] = ("int16", "int32", "float32", "float64")
_SOUNDFILE_WRITERS: dict[str, tuple[str, str]] = {
    "wav": ("WAV", "PCM_16"),
    "wav-float": ("WAV", "FLOAT"),
    "wav-extensible": ("WAVEX", "PCM_16"),
    "flac": ("FLAC", "PCM_16"),
    "ogg-vorbis": ("OGG", "VORBIS"),
    "aiff": ("AIFF", "PCM_16"),
}
# (muxer, encoder, the rates it encodes): PyAV writes these.
_PYAV_WRITERS: dict[str, tuple[str, str, tuple[int, ...]]] = {
    "ogg-opus": ("ogg", "libopus", (48_000,)),
    "mp3": ("mp3", "libmp3lame", (8_000, 16_000, 22_050, 32_000, 44_100, 48_000)),
    "m4a": ("mp4", "aac", (16_000, 22_050, 44_100, 48_000)),
    "aac": ("adts", "aac", (16_000, 22_050, 44_100, 48_000)),
    "webm": ("webm", "libopus", (48_000,)),
}


@st.composite
def samples(
    draw: DrawFn,
    *,
    min_rate: int = 8_000,
    max_rate: int = 48_000,
    channels: Sequence[int] = (1, 2),
    dtypes: Sequence[str] = SAMPLE_DTYPES,
    min_seconds: float = 0.05,
    max_seconds: float = 5.0,
) -> tuple[np.ndarray[Any, Any], int]:
    """`(samples, rate)` as `Audio` takes them: a numpy array (1-D for some mono draws, else
    frames × channels) of a drawn dtype, holding a tone, noise, silence or a full-scale square
    wave, at any integer rate in [min_rate, max_rate]."""
    if not 1_000 <= min_rate <= max_rate:
        raise InvalidArgument(f"need 1000 <= min_rate <= max_rate, got {min_rate}, {max_rate}")
    if not 0 < min_seconds <= max_seconds:
        raise InvalidArgument(f"need 0 < min_seconds <= max_seconds, got {min_seconds}")
    kinds = _check_choice(dtypes, SAMPLE_DTYPES, "dtype")
    rate = draw(st.integers(min_rate, max_rate))
    layout = draw(st.sampled_from(list(channels)))
    frames = max(1, round(draw(st.floats(min_seconds, max_seconds)) * rate))
    dtype = draw(st.sampled_from(kinds))
    pattern = draw(st.sampled_from(("tone", "noise", "silence", "square")))
    seed = draw(st.integers(0, 2**32 - 1))
    signal = _signal(pattern, frames, layout, rate, seed)
    out = _as_dtype(signal, dtype)
    if layout == 1 and draw(st.booleans()):
        out = out[:, 0]
    return out, rate


def audio_bytes(
    *,
    formats: Sequence[str] = AUDIO_FORMATS,
    channels: Sequence[int] = (1, 2),
    min_seconds: float = 0.05,
    max_seconds: float = 0.5,
) -> SearchStrategy[bytes]:
    """Real encoded audio in one of `formats` (see AUDIO_FORMATS): a short tone or noise, at a
    rate the format's encoder takes, written by soundfile or PyAV. Short by default: a few
    milliseconds to encode."""
    chosen = _check_choice(formats, AUDIO_FORMATS, "format")
    return _audio_bytes(tuple(chosen), tuple(channels), min_seconds, max_seconds)


@st.composite
def _audio_bytes(
    draw: DrawFn,
    formats: tuple[str, ...],
    channels: tuple[int, ...],
    min_seconds: float,
    max_seconds: float,
) -> bytes:
    fmt = draw(st.sampled_from(formats))
    if fmt in _PYAV_WRITERS:
        rates: Sequence[int] = _PYAV_WRITERS[fmt][2]
    else:
        rates = (8_000, 11_025, 16_000, 22_050, 44_100, 48_000)
    rate = draw(st.sampled_from(list(rates)))
    layout = draw(st.sampled_from(list(channels)))
    frames = max(1, round(draw(st.floats(min_seconds, max_seconds)) * rate))
    pattern = draw(st.sampled_from(("tone", "noise")))
    signal = _signal(pattern, frames, layout, rate, draw(st.integers(0, 2**32 - 1)))
    return encode_audio(signal, rate, fmt)


def audios(**options: Any) -> SearchStrategy[Audio]:
    """Audio parts made from `audio_bytes(**options)`."""
    return audio_bytes(**options).map(Audio)


def encode_audio(signal: np.ndarray[Any, Any], rate: int, fmt: str) -> bytes:
    """float samples (frames × channels, within -1..1) as `fmt` bytes (see AUDIO_FORMATS)."""
    if fmt in _SOUNDFILE_WRITERS:
        import soundfile

        container, subtype = _SOUNDFILE_WRITERS[fmt]
        buf = io.BytesIO()
        soundfile.write(buf, signal, rate, format=container, subtype=subtype)
        return buf.getvalue()
    import av

    muxer, encoder, _ = _PYAV_WRITERS[fmt]
    layout = "mono" if signal.shape[1] == 1 else "stereo"
    planar = np.ascontiguousarray(signal.T.astype(np.float32))
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=muxer) as container:
        stream = container.add_stream(encoder, rate=rate, layout=layout)
        stream.codec_context.thread_count = 1
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=layout)
        frame.sample_rate, frame.pts = rate, 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


def _signal(pattern: str, frames: int, channels: int, rate: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / rate
    columns = []
    for channel in range(channels):
        if pattern == "tone":
            pitch = rng.uniform(100, min(4_000, rate / 3))
            columns.append(0.5 * np.sin(2 * np.pi * pitch * t + channel))
        elif pattern == "noise":
            columns.append(rng.uniform(-0.8, 0.8, frames))
        elif pattern == "square":
            columns.append(np.where(np.sin(2 * np.pi * 220 * t) >= 0, 1.0, -1.0))
        else:
            columns.append(np.zeros(frames))
    return np.stack(columns, axis=1)


def _as_dtype(signal: Any, dtype: str) -> np.ndarray[Any, Any]:
    out: np.ndarray[Any, Any]
    if dtype == "int16":
        out = np.clip(np.rint(signal * 32767), -32768, 32767).astype(np.int16)
    elif dtype == "int32":
        out = np.clip(np.rint(signal * 2147483647), -(2**31), 2**31 - 1).astype(np.int32)
    else:
        out = np.asarray(signal, dtype=dtype)
    return out
