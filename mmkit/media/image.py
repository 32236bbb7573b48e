"""Images: cheap header probe, full-decode validation, and encoding for a receiver's limits.

Pillow is the decoder. The probe reads only the header (size, mode, frames, orientation) so that
decompression bombs are refused before any pixel is decoded; `encode` decodes for real, applies
EXIF orientation, normalises modes, downscales (JPEG draft + reduce, then one good resample) and
picks the output format the receiver accepts.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image as PILImage
from PIL import ImageOps

from mmkit.errors import (
    InvalidMediaError,
    MediaTooLargeError,
    MmkitError,
    UnsupportedFormatError,
)
from mmkit.media.sniff import normalize_mime, short_name, sniff

if TYPE_CHECKING:
    import numpy as np

# Pillow's own warning threshold; settable per image with `pixel_limit`.
DEFAULT_PIXEL_LIMIT: int = PILImage.MAX_IMAGE_PIXELS or 89_478_485
DEFAULT_JPEG_QUALITY = 85
# Modes every common decoder reads the same way; others are converted before sending.
_PORTABLE_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})
_ALPHA_MODES = frozenset({"LA", "PA", "RGBA", "RGBa", "La"})
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
    frames: int = 1
    orientation: int = 1


@dataclass(frozen=True)
class ImageLimits:
    """What a receiver accepts: data in each wire format module, overridable by the caller."""

    mimes: frozenset[str] = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
    animation: bool = False
    max_bytes: int | None = 20 * 1024 * 1024
    max_pixels: int | None = None
    max_side: int | None = None


@dataclass(frozen=True)
class ImageRequest:
    """What the user asked of one image."""

    max_side: int | None = None
    max_pixels: int | None = None
    format: str | None = None
    quality: int | None = None


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    mime: str
    width: int
    height: int
    conversions: tuple[str, ...] = field(default=())


def probe(data: bytes, origin: str, pixel_limit: int | None = None) -> ImageInfo:
    """Read the header only; refuse unknown types and decompression bombs before decoding."""
    mime = sniff(data)
    if mime is None or not mime.startswith("image/"):
        found = f"looks like {mime}" if mime else "has no known image signature"
        raise InvalidMediaError(
            f"image {origin} {found}; pass a PNG, JPEG, WEBP, GIF, BMP or TIFF file"
        )
    with _opened(data, origin) as im:
        width, height = im.size
        limit = DEFAULT_PIXEL_LIMIT if pixel_limit is None else pixel_limit
        if width * height > limit:
            raise MediaTooLargeError(
                f"image {origin} is {width}×{height} = {width * height:,} pixels, over the "
                f"{limit:,}-pixel limit (a decompression-bomb guard); pass pixel_limit= to "
                "allow it if you trust the file"
            )
        if width < 1 or height < 1:
            raise InvalidMediaError(f"image {origin} has an empty size {width}×{height}")
        try:
            frames = int(getattr(im, "n_frames", 1))
            orientation = int(im.getexif().get(0x0112, 1)) if mime != "image/png" else 1
        except Exception as exc:  # corrupt frame tables or EXIF blocks surface here
            raise InvalidMediaError(f"image {origin} has a corrupt header: {exc}") from exc
        mode = im.mode
    if orientation not in range(1, 9):
        orientation = 1
    if orientation >= 5:
        width, height = height, width
    return ImageInfo(mime, width, height, mode, frames, orientation)


def pixels_to_png(pixels: Any, origin: str, notes: list[str] | None = None) -> bytes:
    """A PIL image or a numpy array (H×W, H×W×3, H×W×4 uint8) as lossless PNG bytes.

    A mode PNG cannot hold (CMYK, float, 32-bit...) is converted first, and said so in `notes`.
    """
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


def validate(data: bytes, info: ImageInfo, origin: str) -> None:
    """Decode every frame for real (JPEG at 1/8 scale: the whole stream is still parsed)."""
    with _opened(data, origin) as im:
        try:
            if info.mime == "image/jpeg":
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            for index in range(info.frames):
                if index:
                    im.seek(index)
                im.load()
        except Exception as exc:
            raise InvalidMediaError(
                f"image {origin} is corrupt or truncated ({exc}); re-export or re-download it"
            ) from exc


def encode(
    data: bytes,
    info: ImageInfo,
    origin: str,
    request: ImageRequest = ImageRequest(),
    limits: ImageLimits = ImageLimits(),
) -> EncodedImage:
    """The image as the receiver accepts it; the original bytes when nothing has to change."""
    wanted = _wanted_format(request.format, limits, origin)
    size = fit_size(
        info.width,
        info.height,
        _smallest(request.max_side, limits.max_side),
        _smallest(request.max_pixels, limits.max_pixels),
    )
    needs_change = not (
        size == (info.width, info.height)
        and info.orientation == 1
        and (info.mode in _PORTABLE_MODES or info.mode == "PA")
        and info.mime in limits.mimes
        and wanted in (None, info.mime)
        and request.quality is None
        and (limits.max_bytes is None or len(data) <= limits.max_bytes)
    )
    if not needs_change and (info.frames == 1 or limits.animation):
        validate(data, info, origin)
        return EncodedImage(data, info.mime, info.width, info.height)
    # A re-encoded animation keeps its first frame only (and says so).
    first_frame_only = None
    if info.frames > 1:
        first_frame_only = (
            "the target takes stills" if not limits.animation else "re-encoding keeps one frame"
        )

    notes: list[str] = []
    im = _decode(data, info, origin, size, first_frame_only, notes)
    mime = wanted or _choose_format(im, info, limits, first_frame_only)
    if size != (info.width, info.height):  # JPEG draft decoding may already have shrunk it
        notes.append(f"resized {info.width}×{info.height} → {size[0]}×{size[1]}")
    if im.size != size:
        im = _resize(im, size)
    if mime != info.mime:
        reason = "" if info.mime in limits.mimes else " (the target does not accept it)"
        notes.append(
            f"converted {short_name(info.mime).upper()} → {short_name(mime).upper()}" + reason
        )
    if request.quality is not None and mime in ("image/jpeg", "image/webp"):
        notes.append(f"encoded {short_name(mime).upper()} at quality {request.quality}")
    return _save_within(im, mime, request, limits, origin, notes)


def to_pil(data: bytes, info: ImageInfo, origin: str) -> PILImage.Image:
    """The decoded image upright, as encoding sends it (the probe's orientation), for display."""
    with _opened(data, origin) as im:
        try:
            im.load()
            out = im.copy() if info.orientation == 1 else ImageOps.exif_transpose(im)
        except Exception as exc:
            raise InvalidMediaError(f"image {origin} is corrupt or truncated ({exc})") from exc
    return out


# --- internals ---------------------------------------------------------------------------------


class _opened:
    """`with _opened(data, origin) as im`: Pillow's open with its errors translated to ours."""

    def __init__(self, data: bytes, origin: str) -> None:
        self._data = data
        self._origin = origin
        self._im: PILImage.Image | None = None

    def __enter__(self) -> PILImage.Image:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            try:
                self._im = PILImage.open(io.BytesIO(self._data))
            except PILImage.DecompressionBombError as exc:
                raise MediaTooLargeError(
                    f"image {self._origin} is a decompression bomb ({exc}); raise "
                    "PIL.Image.MAX_IMAGE_PIXELS and pass pixel_limit= if you trust it"
                ) from None
            except Exception as exc:
                raise InvalidMediaError(
                    f"image {self._origin} cannot be read as an image ({exc}); check the file"
                ) from None
        return self._im

    def __exit__(self, *exc: object) -> None:
        if self._im is not None:
            self._im.close()


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
    with _opened(data, origin) as im:
        try:
            if info.mime == "image/jpeg" and size != (info.width, info.height):
                # DCT-domain downscale: decode at 1/2, 1/4 or 1/8 scale, never below the target.
                stored = (size[1], size[0]) if info.orientation >= 5 else size
                im.draft(im.mode if im.mode in ("RGB", "L") else None, stored)
            if first_frame_only:
                notes.append(f"took the first of {info.frames} frames ({first_frame_only})")
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
    import numpy as np  # only 16-bit and float images need it

    values = np.asarray(im).astype(np.float64)
    if im.mode == "F":
        top = 1.0 if values.size and float(values.max()) <= 1.0 else 255.0
    elif "16" in im.mode:
        top = 65535.0
    else:
        top = float(max(values.max(), 255)) if values.size else 255.0
    scaled = np.clip(values * (255.0 / top), 0, 255).round().astype(np.uint8)
    return PILImage.fromarray(scaled)


def _array_to_pil(array: np.ndarray[Any, Any] | Any, origin: str) -> PILImage.Image:
    import numpy as np

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
    im: PILImage.Image, info: ImageInfo, limits: ImageLimits, first_frame_only: str | None
) -> str:
    """The input's own format when the target takes it and mmkit writes it; else PNG for
    alpha/few colours, JPEG."""
    own = info.mime
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
    rgba = im.convert("RGBA")
    background = PILImage.new("RGB", rgba.size, (255, 255, 255))
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _save(im: PILImage.Image, mime: str, quality: int) -> bytes:
    buf = io.BytesIO()
    _SAVERS[mime](im, buf, quality)
    return buf.getvalue()


def _save_jpeg(im: PILImage.Image, buf: io.BytesIO, quality: int) -> None:
    im.save(buf, format="JPEG", quality=quality)


def _save_png(im: PILImage.Image, buf: io.BytesIO, quality: int) -> None:
    im.save(buf, format="PNG", compress_level=6)


def _save_webp(im: PILImage.Image, buf: io.BytesIO, quality: int) -> None:
    im.save(buf, format="WEBP", quality=quality, method=4)


def _save_gif(im: PILImage.Image, buf: io.BytesIO, quality: int) -> None:
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
    quality = request.quality or DEFAULT_JPEG_QUALITY
    prepared = _prepare(im, mime, notes)
    out = _save(prepared, mime, quality)
    cap = limits.max_bytes
    if cap is None or len(out) <= cap:
        return EncodedImage(out, mime, prepared.width, prepared.height, tuple(notes))
    first_size = len(out)
    lossy = "image/jpeg" if "image/jpeg" in limits.mimes and request.format is None else mime
    if lossy != mime:
        notes.append(f"re-encoded as JPEG to fit {cap:,} bytes")
        prepared = _prepare(im, lossy, notes)
    attempt = prepared
    for _ in range(_MAX_SHRINK_STEPS):
        for step in _QUALITY_STEPS if lossy in ("image/jpeg", "image/webp") else (quality,):
            out = _save(attempt, lossy, min(step, quality))
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
