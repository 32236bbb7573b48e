"""Images: cheap header probe, full-decode validation, and encoding for a receiver's limits.

Pillow is the decoder. The probe reads only the header (size, mode, frames, orientation) so that
decompression bombs are refused before any pixel is decoded; `encode` decodes for real, applies
EXIF orientation, normalises modes, downscales (JPEG draft + reduce, then one good resample) and
picks the output format the receiver accepts.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mmkit.errors import (
    InvalidMediaError,
    MediaTooLargeError,
    MmkitError,
    UnsupportedFormatError,
)
from mmkit.media import image_metadata
from mmkit.media.image_frames import gif_canvases, ico_sizes, png_frame_count
from mmkit.media.sniff import normalize_mime, short_name, sniff

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image as PILImage

# Pillow is imported where pixels are touched, not here: `import mmkit` stays fast (the
# formats import this module for ImageLimits, and a message without images never needs Pillow).

# Pillow's own warning threshold; settable per image with `pixel_limit` (checked on every frame).
DEFAULT_PIXEL_LIMIT = 89_478_485
# Frames decoded to validate an animation or a multi-page file; settable with `max_frames`.
DEFAULT_MAX_FRAMES = 100
# Frames × canvas pixels one validation may decode, in units of the pixel limit (about 2 s).
DECODE_BUDGET_FRAMES = 8
# Wall time one validation may take, a backstop behind the budgets above.
DEFAULT_DECODE_SECONDS = 20.0
# The largest side each output format can hold (PNG's is beyond any pixel limit).
FORMAT_MAX_SIDE: dict[str, int] = {"image/jpeg": 65_500, "image/webp": 16_383, "image/gif": 65_535}
# Pillow plugins for each sniffed type (JPEG's also opens MPO); no entry: mmkit cannot decode it.
_PILLOW_FORMATS: dict[str, tuple[str, ...]] = {
    "image/png": ("PNG",),
    "image/jpeg": ("JPEG",),
    "image/gif": ("GIF",),
    "image/bmp": ("BMP",),
    "image/tiff": ("TIFF",),
    "image/x-icon": ("ICO",),
    "image/webp": ("WEBP",),
    "image/avif": ("AVIF",),
}
DEFAULT_JPEG_QUALITY = 85
# Modes every common decoder reads the same way; others are converted before sending.
_PORTABLE_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
_ALPHA_MODES = frozenset({"LA", "PA", "RGBA", "RGBa", "La"})
# Pixels converted at once from 16-bit or float to 8-bit (a strip of rows).
_STRIP_PIXELS = 1 << 20
# Quality steps tried, in order, when an encoded image is over a byte limit.
_QUALITY_STEPS = (85, 75, 60, 45)
_MAX_SHRINK_STEPS = 8


@dataclass(frozen=True)
class ImageInfo:
    """What the header says. width/height are as displayed (EXIF orientation applied)."""

    mime: str
    width: int
    height: int
    mode: str
    frames: int = 1  # counted from the structure, at most max_frames + 1
    orientation: int = 1
    pixel_limit: int = DEFAULT_PIXEL_LIMIT  # what it was probed under; validation uses them too
    max_frames: int = DEFAULT_MAX_FRAMES
    canvas: tuple[int, int] | None = None  # the largest frame's canvas, as stored
    notes: tuple[str, ...] = ()  # the decoder's warnings about the file


@dataclass(frozen=True)
class ImageLimits:
    """What a receiver accepts: data in each wire format module, overridable by the caller."""

    mimes: frozenset[str] = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
    animation: bool = False
    max_bytes: int | None = 20 * 1024 * 1024
    max_pixels: int | None = None
    max_side: int | None = None
    # The model behind the receiver (mmkit.models): its processor's size is sent, when smaller.
    model: str | None = None


@dataclass(frozen=True)
class ImageRequest:
    """What the user asked of one image."""

    max_side: int | None = None
    max_pixels: int | None = None
    format: str | None = None
    quality: int | None = None
    own_format: bool = True  # False for pixels (PIL, numpy): their PNG is only mmkit's holder
    keep_metadata: bool = False  # True: EXIF (GPS, camera), XMP and text go to the receiver too
    size: tuple[int, int] | None = None  # the model's own size (mmkit.models.send_size)


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    mime: str
    width: int
    height: int
    conversions: tuple[str, ...] = field(default=())


def probe(
    data: bytes, origin: str, pixel_limit: int | None = None, max_frames: int | None = None
) -> ImageInfo:
    """Read the header and the frame structure only; refuse unknown types and decompression
    bombs (any frame or page over the pixel limit) before decoding anything."""
    mime = sniff(data)
    if mime is None or not mime.startswith("image/"):
        found = f"looks like {mime}" if mime else "has no known image signature"
        raise InvalidMediaError(
            f"image {origin} {found}; pass a PNG, JPEG, WEBP, GIF, BMP or TIFF file"
        )
    limit = DEFAULT_PIXEL_LIMIT if pixel_limit is None else pixel_limit
    cap = DEFAULT_MAX_FRAMES if max_frames is None else max_frames
    notes: list[str] = []
    if mime == "image/x-icon":  # Pillow decodes an icon as it opens it: check every entry first
        for index, (w, h) in enumerate(ico_sizes(data)):
            _check_pixels(origin, f"icon entry {index + 1} ", w, h, limit)
    with _opened(data, origin, mime, notes) as im:
        width, height = im.size
        _check_pixels(origin, "", width, height, limit)
        if width < 1 or height < 1:
            raise InvalidMediaError(f"image {origin} has an empty size {width}×{height}")
        mode = im.mode
        try:
            orientation = int(im.getexif().get(0x0112, 1)) if mime != "image/png" else 1
            frames, canvas = _walk_frames(im, data, mime, origin, limit, cap)
        except MmkitError:
            raise
        except Exception as exc:  # corrupt frame tables or EXIF blocks surface here
            raise InvalidMediaError(f"image {origin} has a corrupt header: {exc}") from exc
    if orientation not in range(1, 9):
        orientation = 1
    if orientation >= 5:
        width, height = height, width
    return ImageInfo(
        mime, width, height, mode, frames, orientation, limit, cap, canvas, tuple(notes)
    )


def _walk_frames(
    im: PILImage.Image, data: bytes, mime: str, origin: str, limit: int, cap: int
) -> tuple[int, tuple[int, int]]:
    """(frames, largest canvas), counted from the file's structure and each checked against the
    pixel limit; the count stops at cap + 1."""
    if mime == "image/gif":
        found = gif_canvases(data, cap)
        for index, (w, h) in enumerate(found.sizes):
            _check_pixels(origin, f"frame {index + 1} ", w, h, limit)
        return found.count, found.largest
    if mime == "image/png":
        return png_frame_count(data, cap), im.size
    if mime == "image/tiff":  # pages have sizes of their own; seeking reads tags, not pixels
        largest, count = im.size, 1
        while count <= cap:
            try:
                im.seek(count)
            except EOFError:
                break
            _check_pixels(origin, f"page {count + 1} ", *im.size, limit)
            largest = max(largest, im.size, key=lambda s: s[0] * s[1])
            count += 1
        return count, largest
    # WEBP and AVIF frames share one canvas; their count comes from the demuxer.
    return min(int(getattr(im, "n_frames", 1)), cap + 1), im.size


def _check_pixels(origin: str, which: str, width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise MediaTooLargeError(
            f"image {origin} {which}is {width}×{height} = {width * height:,} pixels, over the "
            f"{limit:,}-pixel limit (a guard against decompression bombs); pass pixel_limit= to "
            "allow it if you trust the file"
        )


def pixels_to_png(pixels: Any, origin: str, notes: list[str] | None = None) -> bytes:
    """A PIL image or a numpy array (H×W, H×W×3, H×W×4 uint8) as lossless PNG bytes.

    A mode PNG cannot hold (CMYK, float, 32-bit...) is converted first, and said so in `notes`.
    """
    from PIL import Image as PILImage

    im = pixels if isinstance(pixels, PILImage.Image) else _array_to_pil(pixels, origin)
    try:
        im.load()
        if im.mode not in _PORTABLE_MODES and im.mode not in ("I;16", "I;16B"):
            im = _portable(im, notes if notes is not None else [])
        buf = io.BytesIO()
        # Level 1: construction stays fast; the encoder recompresses if it has to re-encode.
        im.save(buf, format="PNG", compress_level=1)
    except MmkitError:
        raise
    except Exception as exc:
        raise InvalidMediaError(f"image {origin} could not be encoded as PNG: {exc}") from exc
    return buf.getvalue()


def fit_size(
    width: int, height: int, max_side: int | None, max_pixels: int | None
) -> tuple[int, int]:
    """The largest size within both limits that keeps the aspect ratio (within one pixel)."""
    scale = 1.0
    if max_side is not None and max(width, height) > max_side:
        scale = min(scale, max_side / max(width, height))
    if max_pixels is not None and width * height > max_pixels:
        scale = min(scale, (max_pixels / (width * height)) ** 0.5)
    if scale >= 1.0:
        return width, height
    long_side, short_side = max(width, height), min(width, height)
    new_long = max(1, min(round(long_side * scale), max_side or long_side))

    def short_for(long_: int) -> int:
        # Derived from the rounded long side so the aspect ratio stays within half a pixel.
        return max(1, round(short_side * long_ / long_side))

    if max_pixels is not None and new_long * short_for(new_long) > max_pixels:
        # Rounding overshot: the area grows with the long side, so binary-search the largest
        # long side that fits (a step-by-step walk takes millions of steps for a 1-pixel strip).
        low, high = 1, new_long - 1
        while low < high:
            middle = (low + high + 1) // 2
            if middle * short_for(middle) <= max_pixels:
                low = middle
            else:
                high = middle - 1
        new_long = low
    new_short = short_for(new_long)
    return (new_long, new_short) if width >= height else (new_short, new_long)


def validate(
    data: bytes, info: ImageInfo, origin: str, max_seconds: float = DEFAULT_DECODE_SECONDS
) -> None:
    """Decode every frame for real (JPEG at 1/8 scale: the whole stream is still parsed).

    Bounded by what is decoded, not by what the header says: at most `info.max_frames` frames,
    each checked against the pixel limit before it is decoded, frames × canvas within the
    decode budget, and `max_seconds` of decoding."""
    cap, budget = info.max_frames, decode_budget(info.pixel_limit)
    if info.frames > cap:
        raise _too_many_frames(origin, cap)
    canvas = info.canvas or (info.width, info.height)
    if info.frames * canvas[0] * canvas[1] > budget:
        raise _over_budget(origin, info.frames, canvas, budget)
    deadline = time.monotonic() + max_seconds
    decoded = 0
    with _opened(data, origin, info.mime) as im:
        try:
            if info.mime == "image/jpeg":
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            for index in range(info.frames):  # counted by the probe from the structure
                if index:
                    im.seek(index)
                _check_pixels(origin, f"frame {index + 1} ", *im.size, info.pixel_limit)
                decoded += im.width * im.height
                if decoded > budget:
                    raise _over_budget(origin, index + 1, im.size, budget)
                if time.monotonic() > deadline:
                    raise MediaTooLargeError(
                        f"image {origin} took over {max_seconds:g} s to decode ({index} frames); "
                        "send fewer frames or a smaller image"
                    )
                im.load()
        except MmkitError:
            raise
        except Exception as exc:
            raise InvalidMediaError(
                f"image {origin} is corrupt or truncated ({exc}); re-export or re-download it"
            ) from exc


def decode_budget(pixel_limit: int) -> int:
    """Frames × canvas pixels one validation may decode: a few seconds of work at most."""
    return DECODE_BUDGET_FRAMES * pixel_limit


def _too_many_frames(origin: str, cap: int) -> MediaTooLargeError:
    return MediaTooLargeError(
        f"image {origin} has more than {cap} frames; send a still, or pass max_frames= to allow "
        "more if you trust the file"
    )


def _over_budget(
    origin: str, frames: int, canvas: tuple[int, int], budget: int
) -> MediaTooLargeError:
    return MediaTooLargeError(
        f"image {origin}: {frames} frames of {canvas[0]}×{canvas[1]} decode to over "
        f"{budget:,} pixels, the decode budget (pixel_limit × {DECODE_BUDGET_FRAMES}); send "
        "fewer or smaller frames"
    )


def encode(
    data: bytes,
    info: ImageInfo,
    origin: str,
    request: ImageRequest = ImageRequest(),
    limits: ImageLimits = ImageLimits(),
) -> EncodedImage:
    """The image as the receiver accepts it; the original bytes when nothing has to change, less
    their private metadata (cut out losslessly, see `image_metadata`) unless asked to keep it."""
    wanted = _wanted_format(request.format, limits, origin)
    max_side = _smallest(request.max_side, limits.max_side)
    max_pixels = _smallest(request.max_pixels, limits.max_pixels)
    if request.size is not None:
        # A known model's rule sets the pixels: the wire format's pixel limits are its own
        # models' rules (OpenAI's 2048-px box), not the transport's; the part's options stay.
        max_side, max_pixels = request.max_side, request.max_pixels
    size = fit_size(info.width, info.height, max_side, max_pixels)
    if request.size is not None and _model_size_fits(request.size, info, max_side, max_pixels):
        size = request.size
    as_is = (
        size == (info.width, info.height)
        and info.orientation == 1
        and (info.mode in _PORTABLE_MODES or info.mode == "PA")
        and info.mime in limits.mimes
        and wanted in (None, info.mime)
        and request.quality is None
        and request.own_format  # pixels have no format of their own: the content picks one
        and (limits.max_bytes is None or len(data) <= limits.max_bytes)
        and (info.frames == 1 or limits.animation)
    )
    if as_is:
        validate(data, info, origin)
    stripped = None
    if not request.keep_metadata:  # re-encoding writes none: then only what it held is read
        stripped = image_metadata.strip(data, info.mime, cut=as_is)
    unwalkable = stripped is None and not request.keep_metadata  # re-encoding drops it all
    if as_is and not unwalkable:
        if stripped is None or stripped.note is None:  # kept on request, or nothing private
            return EncodedImage(data, info.mime, info.width, info.height)
        removed = (stripped.note,)
        return EncodedImage(stripped.data, info.mime, info.width, info.height, removed)
    # A re-encoded animation keeps its first frame only (and says so).
    first_frame_only = None
    if info.frames > 1:
        first_frame_only = (
            "the target takes stills" if not limits.animation else "re-encoding keeps one frame"
        )

    notes: list[str] = []
    im = _decode(data, info, origin, size, first_frame_only, notes)
    own = info.mime if request.own_format else None
    mime = wanted or _choose_format(im, own, limits, first_frame_only)
    mime, size = _fit_format(mime, size, wanted is None, limits, notes)
    if size != (info.width, info.height):  # JPEG draft decoding may already have shrunk it
        notes.append(f"resized {info.width}×{info.height} → {size[0]}×{size[1]}")
    if im.size != size:
        im = _resize(im, size)
    if not request.own_format and wanted is None:
        if mime == "image/jpeg":  # lossy: said; PNG keeps every pixel
            notes.append(
                "encoded the pixels as JPEG (photographic: no alpha, many colours); "
                "pass format='png' to keep them lossless"
            )
    elif mime != info.mime:
        reason = "" if info.mime in limits.mimes else " (the target does not accept it)"
        notes.append(
            f"converted {short_name(info.mime).upper()} → {short_name(mime).upper()}" + reason
        )
    if request.quality is not None and mime in ("image/jpeg", "image/webp"):
        notes.append(f"encoded {short_name(mime).upper()} at quality {request.quality}")
    if stripped is not None and stripped.note is not None:  # re-encoding writes none of it
        notes.append(stripped.note)
    elif unwalkable:
        notes.append("removed its metadata by re-encoding (its structure could not be walked)")
    return _save_within(im, mime, request, limits, origin, notes)


def _model_size_fits(
    size: tuple[int, int], info: ImageInfo, max_side: int | None, max_pixels: int | None
) -> bool:
    """The model's size is sent when max_side/max_pixels allow it and it invents no pixels (a
    processor that grows a small image grows it on the server, from the original)."""
    w, h = size
    return (
        (max_side is None or max(w, h) <= max_side)
        and (max_pixels is None or w * h <= max_pixels)
        and w * h <= info.width * info.height
    )


def _fit_format(
    mime: str, size: tuple[int, int], may_switch: bool, limits: ImageLimits, notes: list[str]
) -> tuple[str, tuple[int, int]]:
    """A format that can hold `size`: another accepted one that fits when mmkit chose the
    format, else the size cut to the format's largest side (JPEG 65,500 px, WEBP 16,383)."""
    cap = FORMAT_MAX_SIDE.get(mime)
    if cap is None or max(size) <= cap:
        return mime, size
    if may_switch:
        for other in ("image/png", "image/jpeg", "image/webp", "image/gif"):
            other_cap = FORMAT_MAX_SIDE.get(other)
            if other in limits.mimes and (other_cap is None or max(size) <= other_cap):
                notes.append(
                    f"sent as {short_name(other).upper()}: {short_name(mime).upper()} cannot "
                    f"hold a side over {cap:,} px"
                )
                return other, size
    notes.append(f"{short_name(mime).upper()} holds at most {cap:,} px a side")
    return mime, fit_size(size[0], size[1], cap, None)


def to_pil(data: bytes, info: ImageInfo, origin: str) -> PILImage.Image:
    """The decoded image upright, as encoding sends it (the probe's orientation), for display."""
    from PIL import ImageOps

    with _opened(data, origin, info.mime) as im:
        try:
            im.load()
            out = im.copy() if info.orientation == 1 else ImageOps.exif_transpose(im)
        except Exception as exc:
            raise InvalidMediaError(f"image {origin} is corrupt or truncated ({exc})") from exc
    return out


# --- internals ---------------------------------------------------------------------------------


class _opened:
    """`with _opened(data, origin, mime, notes) as im`: the sniffed format's Pillow plugin, its
    errors translated to ours, and its warnings about the file (corrupt EXIF...) turned into
    `notes` for the part instead of leaking as Python warnings.

    The plugin is called directly rather than through `PIL.Image.open`, whose bomb check reads
    the process-wide `MAX_IMAGE_PIXELS`: mmkit checks every frame against the image's own
    `pixel_limit` instead, so raising it for one image changes no global (and is thread-safe)."""

    def __init__(self, data: bytes, origin: str, mime: str, notes: list[str] | None = None):
        self._data = data
        self._origin = origin
        self._mime = mime
        self._notes = notes
        self._im: PILImage.Image | None = None
        self._catcher = warnings.catch_warnings(record=True)
        self._caught: list[warnings.WarningMessage] = []

    def __enter__(self) -> PILImage.Image:
        from PIL import Image as PILImage

        names = _PILLOW_FORMATS.get(self._mime, ())
        if not names:
            raise UnsupportedFormatError(
                f"image {self._origin} is {short_name(self._mime).upper()}, which mmkit cannot "
                "decode; convert it to JPEG or PNG"
            )
        self._caught = self._catcher.__enter__()
        warnings.simplefilter("always")
        try:
            self._im = _open_plugin(self._data, names)
        except BaseException as exc:
            self._catcher.__exit__(None, None, None)
            if isinstance(exc, PILImage.DecompressionBombError):
                raise MediaTooLargeError(
                    f"image {self._origin} is a decompression bomb ({exc}); pass pixel_limit= "
                    "if you trust it"
                ) from None
            if not isinstance(exc, Exception):
                raise
            raise InvalidMediaError(
                f"image {self._origin} cannot be read as an image ({exc}); check the file"
            ) from None
        return self._im

    def __exit__(self, *exc: object) -> None:
        self._catcher.__exit__(None, None, None)
        if self._im is not None:
            self._im.close()
        if self._notes is None:
            return
        from PIL import Image as PILImage

        for caught in image_metadata.pillows_own(self._caught):
            if issubclass(caught.category, PILImage.DecompressionBombWarning):
                continue  # mmkit's own pixel limit decides
            note = f"decoder warning: {caught.message} (read anyway)"
            if note not in self._notes:
                self._notes.append(note)


def _open_plugin(data: bytes, names: tuple[str, ...]) -> PILImage.Image:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    if any(name not in PILImage.OPEN for name in names):
        PILImage.init()  # registers every plugin once
    fp = io.BytesIO(data)
    for name in names:
        entry = PILImage.OPEN.get(name)
        if entry is None:
            continue
        factory, accept = entry
        if accept is not None and accept(data[:16]) is not True:
            continue
        fp.seek(0)
        return factory(fp, "")
    raise UnidentifiedImageError(f"not a {'/'.join(names)} file")


def _smallest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _wanted_format(value: str | None, limits: ImageLimits, origin: str) -> str | None:
    if value is None:
        return None
    mime = normalize_mime(value)
    if mime is None or not mime.startswith("image/") or mime not in _SAVERS:
        raise UnsupportedFormatError(
            f"image {origin}: format={value!r} is not one mmkit can write; use png, jpeg, webp "
            "or gif"
        )
    if mime not in limits.mimes:
        accepted = ", ".join(sorted(short_name(m) for m in limits.mimes))
        raise UnsupportedFormatError(
            f"image {origin}: format={value!r} is not accepted by the target (it takes "
            f"{accepted}); pick one of those or leave format unset"
        )
    return mime


def _decode(
    data: bytes,
    info: ImageInfo,
    origin: str,
    size: tuple[int, int],
    first_frame_only: str | None,
    notes: list[str],
) -> PILImage.Image:
    from PIL import ImageOps

    with _opened(data, origin, info.mime) as im:
        try:
            if info.mime == "image/jpeg" and size != (info.width, info.height):
                # DCT-domain downscale: decode at 1/2, 1/4 or 1/8 scale, never below the target.
                stored = (size[1], size[0]) if info.orientation >= 5 else size
                im.draft(im.mode if im.mode in ("RGB", "L") else None, stored)
            if first_frame_only:
                many = info.frames if info.frames <= info.max_frames else f"over {info.max_frames}"
                notes.append(f"took the first of {many} frames ({first_frame_only})")
            im.load()
            decoded = im.copy() if info.orientation == 1 else ImageOps.exif_transpose(im)
        except MmkitError:
            raise
        except Exception as exc:
            raise InvalidMediaError(
                f"image {origin} is corrupt or truncated ({exc}); re-export or re-download it"
            ) from exc
    if info.orientation != 1:
        notes.append(f"applied EXIF orientation {info.orientation}")
    if decoded.mode not in _PORTABLE_MODES:
        decoded = _portable(decoded, notes)
    return decoded


def _portable(im: PILImage.Image, notes: list[str]) -> PILImage.Image:
    """Convert modes some decoders misread (16-bit, float, CMYK, YCbCr...) to L/RGB/RGBA."""
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        out = _to_8bit(im)
        notes.append(f"converted {_mode_name(mode)} grayscale to 8-bit")
        return out
    if mode == "PA":
        return im.convert("RGBA")
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        notes.append(f"converted {mode} to RGB")
        return im.convert("RGB")
    target = "RGBA" if mode in _ALPHA_MODES else "RGB"
    notes.append(f"converted mode {mode} to {target}")
    return im.convert(target)


def _mode_name(mode: str) -> str:
    return "32-bit float" if mode == "F" else "16-bit" if "16" in mode else "32-bit"


def _to_8bit(im: PILImage.Image) -> PILImage.Image:
    """16-bit, 32-bit and float grayscale to 8 bits, a strip of rows at a time: memory stays
    near the 8-bit result (a whole 9400² image in float64 needed 2.2 GiB)."""
    import numpy as np  # only 16-bit and float images need it
    from PIL import Image as PILImage

    width, height = im.size
    rows = max(1, _STRIP_PIXELS // max(width, 1))
    strips = [(top, min(height, top + rows)) for top in range(0, height, rows)]

    def strip(top: int, bottom: int) -> Any:
        return np.asarray(im.crop((0, top, width, bottom)))

    if im.mode == "F":
        peak = max((float(strip(t, b).max()) for t, b in strips), default=0.0)
        top_value = 1.0 if peak <= 1.0 else 255.0
    elif "16" in im.mode:
        top_value = 65535
    else:  # 32-bit integers: the brightest value maps to white, at least 255
        top_value = max([255, *(int(strip(t, b).max()) for t, b in strips)])
    out = np.empty((height, width), dtype=np.uint8)
    for top, bottom in strips:
        values = strip(top, bottom)
        if im.mode == "F":
            scaled = np.clip(values * np.float32(255.0 / top_value), 0, 255)
            out[top:bottom] = np.rint(scaled).astype(np.uint8)
        else:  # integer rounding: (v * 255 + top / 2) // top
            if "16" in im.mode:  # 65,535 × 255 fits in 32 bits
                wide = values.astype(np.uint32)
            else:
                wide = np.clip(values.astype(np.int64), 0, None)
            out[top:bottom] = ((wide * 255 + top_value // 2) // top_value).astype(np.uint8)
    return PILImage.fromarray(out, "L")


def _array_to_pil(array: np.ndarray[Any, Any] | Any, origin: str) -> PILImage.Image:
    import numpy as np
    from PIL import Image as PILImage

    if not isinstance(array, np.ndarray):
        raise UnsupportedFormatError(f"image {origin}: {type(array).__name__} is not an image")
    if array.dtype != np.uint8:
        raise UnsupportedFormatError(
            f"image {origin}: numpy array of dtype {array.dtype}; pass uint8 values 0–255 "
            "(e.g. (a * 255).clip(0, 255).astype('uint8'))"
        )
    shape = array.shape
    if len(shape) == 3 and shape[2] == 1:
        array = array[:, :, 0]
        shape = array.shape
    modes = {2: "L", 3: "RGB", 4: "RGBA"}
    channels = 2 if len(shape) == 2 else shape[2] if len(shape) == 3 else 0
    if channels not in modes or 0 in shape:
        raise UnsupportedFormatError(
            f"image {origin}: numpy array of shape {shape}; pass H×W, H×W×3 or H×W×4"
        )
    return PILImage.fromarray(np.ascontiguousarray(array), modes[channels])


def _resize(im: PILImage.Image, size: tuple[int, int]) -> PILImage.Image:
    from PIL import Image as PILImage

    if im.mode in ("1", "P"):
        im = im.convert("RGBA" if _has_alpha(im) else "RGB")
    elif im.mode == "LA":
        im = im.convert("RGBA")
    # As Pillow's thumbnail(): integer box reduction first, then one bicubic pass (a third
    # cheaper than LANCZOS at these ratios, and indistinguishable after JPEG).
    return im.resize(size, PILImage.Resampling.BICUBIC, reducing_gap=2.0)


def _has_alpha(im: PILImage.Image) -> bool:
    return im.mode in _ALPHA_MODES or (im.mode == "P" and "transparency" in im.info)


def _choose_format(
    im: PILImage.Image, own: str | None, limits: ImageLimits, first_frame_only: str | None
) -> str:
    """The input's own format when the target takes it and mmkit writes it; else (and for
    pixels, which have no format of their own) PNG for alpha or few colours, JPEG for photos."""
    animated_webp = first_frame_only is not None and own == "image/webp"
    if own in limits.mimes and own in _SAVERS and own != "image/gif" and not animated_webp:
        return own
    few_colours = im.mode in ("1", "P") or (
        im.width * im.height <= 4_000_000 and im.getcolors(256) is not None
    )
    preferred = (
        ["image/png", "image/jpeg"]
        if _has_alpha(im) or few_colours
        else ["image/jpeg", "image/png"]
    )
    for mime in [*preferred, "image/webp", "image/gif"]:
        if mime in limits.mimes:
            return mime
    raise UnsupportedFormatError(
        f"the target accepts none of the image types mmkit writes ({sorted(limits.mimes)})"
    )


def _prepare(im: PILImage.Image, mime: str, notes: list[str]) -> PILImage.Image:
    """Make the mode fit the output format; alpha is flattened on white where it cannot stay."""
    if mime == "image/jpeg":
        if _has_alpha(im):
            notes.append("flattened transparency on white (JPEG has no alpha)")
            return _on_white(im)
        return im if im.mode in ("L", "RGB") else im.convert("RGB")
    if mime == "image/webp":
        return im if im.mode in ("RGB", "RGBA") else im.convert("RGBA" if _has_alpha(im) else "RGB")
    if mime == "image/gif":
        if im.mode in ("P", "L"):
            return im  # a palette's transparent colour is kept
        if _has_alpha(im):
            notes.append("flattened transparency on white (GIF keeps no alpha channel)")
            im = _on_white(im)
        return im.convert("RGB").quantize(256)
    return im  # PNG writes every portable mode


def _on_white(im: PILImage.Image) -> PILImage.Image:
    from PIL import Image as PILImage

    rgba = im.convert("RGBA")
    background = PILImage.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _save(
    im: PILImage.Image, mime: str, quality: int, metadata: dict[str, bytes] | None = None
) -> bytes:
    buf = io.BytesIO()
    try:
        _SAVERS[mime](im, buf, quality, metadata or {})
    except Exception as exc:  # encoders refuse in their own words (OSError, ValueError)
        cap = FORMAT_MAX_SIDE.get(mime)
        limit = f" ({short_name(mime).upper()} holds at most {cap:,} px a side)" if cap else ""
        raise MediaTooLargeError(
            f"image {im.width}×{im.height} cannot be written as {short_name(mime).upper()}"
            f"{limit}: {exc}; pass max_side= or another format="
        ) from None
    return buf.getvalue()


# `metadata`: the source's "exif" and "xmp", passed only when the user asked to keep them.
Meta = dict[str, bytes]


def _save_jpeg(im: PILImage.Image, buf: io.BytesIO, quality: int, metadata: Meta) -> None:
    im.save(buf, format="JPEG", quality=quality, **metadata)


def _save_png(im: PILImage.Image, buf: io.BytesIO, quality: int, metadata: Meta) -> None:
    exif = {"exif": metadata["exif"]} if "exif" in metadata else {}  # PNG's writer takes no XMP
    im.save(buf, format="PNG", compress_level=6, **exif)


def _save_webp(im: PILImage.Image, buf: io.BytesIO, quality: int, metadata: Meta) -> None:
    im.save(buf, format="WEBP", quality=quality, method=4, **metadata)


def _save_gif(im: PILImage.Image, buf: io.BytesIO, quality: int, metadata: Meta) -> None:
    im.save(buf, format="GIF")


_SAVERS = {
    "image/jpeg": _save_jpeg,
    "image/png": _save_png,
    "image/webp": _save_webp,
    "image/gif": _save_gif,
}


def _save_within(
    im: PILImage.Image,
    mime: str,
    request: ImageRequest,
    limits: ImageLimits,
    origin: str,
    notes: list[str],
) -> EncodedImage:
    """Encode; over the byte limit, try JPEG, lower quality, then smaller sizes, then give up."""
    from PIL import Image as PILImage

    quality = request.quality or DEFAULT_JPEG_QUALITY
    metadata = _kept_metadata(im) if request.keep_metadata else None
    prepared = _prepare(im, mime, notes)
    out = _save(prepared, mime, quality, metadata)
    cap = limits.max_bytes
    if cap is None or len(out) <= cap:
        return EncodedImage(out, mime, prepared.width, prepared.height, tuple(notes))
    first_size = len(out)
    lossy = "image/jpeg" if "image/jpeg" in limits.mimes and request.format is None else mime
    if lossy != mime:
        notes.append(f"re-encoded as JPEG to fit {cap:,} bytes")
        _, fitting = _fit_format(lossy, im.size, False, limits, notes)
        prepared = _prepare(im if fitting == im.size else _resize(im, fitting), lossy, notes)
    attempt = prepared
    for _ in range(_MAX_SHRINK_STEPS):
        for step in _QUALITY_STEPS if lossy in ("image/jpeg", "image/webp") else (quality,):
            out = _save(attempt, lossy, min(step, quality), metadata)
            if len(out) <= cap:
                if attempt.size != prepared.size:
                    notes.append(f"shrank to {attempt.width}×{attempt.height} to fit {cap:,} bytes")
                if step < quality:
                    notes.append(f"lowered quality to {step} to fit {cap:,} bytes")
                return EncodedImage(out, lossy, attempt.width, attempt.height, tuple(notes))
        w, h = attempt.size
        if w <= 16 or h <= 16:
            break
        attempt = attempt.resize(
            (max(1, w * 3 // 4), max(1, h * 3 // 4)), PILImage.Resampling.LANCZOS
        )
    raise MediaTooLargeError(
        f"image {origin} encodes to {first_size:,} bytes, over the target's {cap:,}-byte limit, "
        "and could not be shrunk to fit; pass max_side= or max_pixels= to send it smaller"
    )


def _kept_metadata(im: PILImage.Image) -> dict[str, bytes]:
    """The decoded image's EXIF and XMP, to write again (orientation reset: it was applied)."""
    kept: dict[str, bytes] = {}
    exif = im.getexif()
    if len(exif) or exif.get_ifd(0x8825):
        if 0x0112 in exif:
            exif[0x0112] = 1
        kept["exif"] = exif.tobytes()
    xmp = im.info.get("xmp")
    if isinstance(xmp, (bytes, str)) and xmp:
        kept["xmp"] = xmp.encode("utf-8") if isinstance(xmp, str) else xmp
    return kept
