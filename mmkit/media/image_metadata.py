"""Private metadata cut out of image bytes without touching the pixels.

An image sent as it is would carry its EXIF (GPS position, camera serial, maker notes), XMP and
text to a third party. `strip` removes them at the container level: JPEG segments, PNG chunks,
WebP chunks and GIF extensions are dropped whole and everything else is copied byte for byte, so
the compressed pixel data, and with it every decoded pixel, stays identical (a TIFF, whose
metadata shares the directory its decoding needs, is written again losslessly instead; BMP holds
none). What decoding needs stays: JPEG/WebP EXIF holding only orientation and resolution, ICC
colour profiles, JFIF and Adobe segments, GIF timing and looping. PNG's eXIf always goes: mmkit
does not apply a PNG's EXIF orientation (most decoders do not), so a receiver that did would show
something else than what mmkit describes.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass

# EXIF tags a decoder may need and that say nothing about who, where or with what.
_HARMLESS_TAGS = frozenset(
    {
        0x0112,  # Orientation
        0x011A,  # XResolution
        0x011B,  # YResolution
        0x0128,  # ResolutionUnit
        0x0213,  # YCbCrPositioning
        0x8769,  # the Exif IFD pointer (its contents are checked on their own)
        0x9000,  # ExifVersion
        0x9101,  # ComponentsConfiguration
        0xA000,  # FlashpixVersion
        0xA001,  # ColorSpace
        0xA002,  # PixelXDimension
        0xA003,  # PixelYDimension
    }
)
_CAMERA_TAGS = frozenset(
    {0x010F, 0x0110, 0x927C, 0xA430, 0xA431, 0xA433, 0xA434, 0xA435}
)  # Make, Model, MakerNote, CameraOwnerName, BodySerialNumber, LensMake, LensModel, LensSerial
_TIME_TAGS = frozenset({0x0132, 0x9003, 0x9004})  # DateTime, DateTimeOriginal, ...Digitized
_GPS_IFD, _EXIF_IFD, _IFD1 = 0x8825, 0x8769, -1  # -1: Pillow's key for IFD1 (the thumbnail)

_JPEG_XMP = (b"http://ns.adobe.com/xap/1.0/\x00", b"http://ns.adobe.com/xmp/extension/\x00")
# The next marker after entropy-coded data: 0xFF not followed by a stuffed 0x00, a fill 0xFF or
# a restart marker (those belong to the scan).
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xff\xd0-\xd7]")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT = (b"tEXt", b"iTXt", b"zTXt")
_WEBP_EXIF_FLAG, _WEBP_XMP_FLAG = 0x08, 0x04


@dataclass(frozen=True)
class Stripped:
    data: bytes  # the input itself when nothing was removed
    note: str | None = None  # "removed EXIF metadata (GPS position, camera) and XMP metadata"


class _Malformed(Exception):
    """The container does not parse: the caller re-encodes instead (which drops everything)."""


def strip(data: bytes, mime: str, *, cut: bool = True) -> Stripped | None:
    """`data` without private metadata, and a note naming what went; None when the container
    could not be walked (the caller must not send it as it is). Types without a walker here
    (BMP, ICO...) come back unchanged. `cut=False` only reads what there is (for an image being
    re-encoded anyway): the note is the same, the data may still hold it."""
    walk = _WALKERS.get(mime)
    if walk is None:
        return Stripped(data)
    try:
        out, removed = walk(data, cut)
    except (_Malformed, IndexError, ValueError, OSError):  # OSError: Pillow on a TIFF it refuses
        return None
    if not removed:
        return Stripped(data)
    return Stripped(out, "removed " + " and ".join(removed))


def pillows_own(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    """The warnings Pillow itself gave. catch_warnings records every warning in the process
    meanwhile: another thread's, or a socket the garbage collector closes mid-read."""
    from PIL import Image as PILImage

    pillow = os.path.dirname(PILImage.__file__) + os.sep
    return [warning for warning in caught if warning.filename.startswith(pillow)]


def exif_note(payload: bytes) -> tuple[str | None, int]:
    """(what a removed EXIF block held, or None when nothing private; its orientation)."""
    from PIL import Image as PILImage

    exif = PILImage.Exif()
    try:
        with warnings.catch_warnings(record=True) as caught:  # Pillow skips a broken tag
            warnings.simplefilter("always")
            exif.load(payload)
            tags = dict(exif)
            inner = dict(exif.get_ifd(_EXIF_IFD)) if _EXIF_IFD in tags else {}
            gps = dict(exif.get_ifd(_GPS_IFD)) if _GPS_IFD in tags else {}
            thumbnail = bool(exif.get_ifd(_IFD1))  # an old crop's preview can outlive the edit
    except Exception:  # an unreadable block: nobody can vouch for it, so it goes
        return "EXIF metadata (unreadable)", 1
    orientation = tags.get(0x0112, 1)
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    if pillows_own(caught):  # what a skipped tag held is unknown: it goes
        return "EXIF metadata (partly unreadable)", orientation
    found = {*tags, *inner} - _HARMLESS_TAGS
    if not found and not gps and not thumbnail:
        return None, orientation
    kinds = []
    if gps:
        kinds.append("GPS position")
    if found & _CAMERA_TAGS:
        kinds.append("camera")
    if found & _TIME_TAGS:
        kinds.append("capture time")
    if thumbnail:
        kinds.append("thumbnail")
    if found - _CAMERA_TAGS - _TIME_TAGS - {_GPS_IFD}:
        kinds.append("other fields")
    return f"EXIF metadata ({', '.join(kinds)})", orientation


def _orientation_only(orientation: int) -> bytes:
    """An EXIF payload holding the orientation alone ("Exif\\0\\0" + TIFF)."""
    from PIL import Image as PILImage

    exif = PILImage.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


# --- JPEG --------------------------------------------------------------------------------------


def _jpeg(data: bytes, cut: bool) -> tuple[bytes, list[str]]:
    """Drop APP1 EXIF (kept as orientation alone when it held more) and XMP, APP13 (IPTC,
    Photoshop), comments, and anything after the image's end (a phone's appended video or a
    second picture, each with metadata of its own)."""
    if data[:2] != b"\xff\xd8":
        raise _Malformed("no SOI")
    out, removed = [data[:2]], []
    exif_found: list[str] = []
    dropped_comment = dropped_xmp = dropped_iptc = False
    pos, end = 2, len(data)
    while True:
        if pos + 1 >= end or data[pos] != 0xFF:
            raise _Malformed("no marker")
        while data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI
            out.append(b"\xff\xd9")
            pos += 2
            break
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        if length < 2 or pos + 2 + length > end:
            raise _Malformed("segment past the end")
        segment = data[pos : pos + 2 + length]
        payload = segment[4:]
        pos += 2 + length
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            note, orientation = exif_note(payload)
            if note is None:
                out.append(segment)  # orientation and resolution only: what decoders need
                continue
            exif_found.append(note)
            if orientation != 1:  # the receiver must still turn it upright
                kept = _orientation_only(orientation)
                out.append(b"\xff\xe1" + (len(kept) + 2).to_bytes(2, "big") + kept)
            continue
        if marker == 0xE1 and payload.startswith(_JPEG_XMP):
            dropped_xmp = True
            continue
        if marker == 0xED:  # APP13: Photoshop resources, IPTC (captions, places, names)
            dropped_iptc = True
            continue
        if marker == 0xFE:
            dropped_comment = True
            continue
        out.append(segment)
        if marker == 0xDA:  # SOS: the entropy-coded scan follows, copied as it is
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                raise _Malformed("scan without an end")
            out.append(data[pos : found.start()])
            pos = found.start()
    trailer = len(data) - pos
    removed.extend(exif_found)
    if dropped_xmp:
        removed.append("XMP metadata")
    if dropped_iptc:
        removed.append("IPTC/Photoshop metadata")
    if dropped_comment:
        removed.append("comments")
    if trailer:
        removed.append(f"{trailer:,} bytes after the image's end")
    return b"".join(out), removed


# --- PNG ---------------------------------------------------------------------------------------


def _png(data: bytes, cut: bool) -> tuple[bytes, list[str]]:
    """Drop eXIf and the text chunks (tEXt, iTXt, zTXt); every other chunk is copied as is."""
    if not data.startswith(_PNG_SIGNATURE):
        raise _Malformed("no PNG signature")
    out, pos = [_PNG_SIGNATURE], len(_PNG_SIGNATURE)
    exif: str | None = None
    keys: list[str] = []
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        after = pos + 12 + length
        if len(kind) < 4 or after > len(data):
            raise _Malformed("chunk past the end")
        chunk, body = data[pos:after], data[pos + 8 : pos + 8 + length]
        pos = after
        if kind == b"eXIf":
            exif = exif_note(body)[0] or "EXIF metadata"
        elif kind in _PNG_TEXT:
            key = body.split(b"\x00", 1)[0].decode("latin-1")
            if key not in keys:
                keys.append(key)
        else:
            out.append(chunk)
        if kind == b"IEND":
            break
    removed = [exif] if exif else []
    if keys:
        removed.append(f"PNG text ({', '.join(keys)})")
    return b"".join(out), removed


# --- WebP --------------------------------------------------------------------------------------


def _webp(data: bytes, cut: bool) -> tuple[bytes, list[str]]:
    """Drop the EXIF and XMP chunks of an extended WebP, clearing their flags in VP8X."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _Malformed("no RIFF WEBP header")
    chunks, pos, removed = [], 12, []
    end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    flags_cleared = 0
    while pos + 8 <= end:
        kind = data[pos : pos + 4]
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        after = pos + 8 + size + (size & 1)
        if pos + 8 + size > end:
            raise _Malformed("chunk past the end")
        body = data[pos + 8 : pos + 8 + size]
        chunk = data[pos:after]
        pos = after
        if kind == b"EXIF":
            note, _ = exif_note(body)
            if note is not None:  # orientation alone is kept, as in JPEG
                removed.append(note)
                flags_cleared |= _WEBP_EXIF_FLAG
                continue
        elif kind == b"XMP ":
            removed.append("XMP metadata")
            flags_cleared |= _WEBP_XMP_FLAG
            continue
        chunks.append(chunk)
    if not removed:
        return data, []
    if chunks and chunks[0][:4] == b"VP8X":
        first = bytearray(chunks[0])
        first[8] &= ~flags_cleared & 0xFF
        chunks[0] = bytes(first)
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body, removed


# --- GIF ---------------------------------------------------------------------------------------


def _gif(data: bytes, cut: bool) -> tuple[bytes, list[str]]:
    """Drop comment extensions, XMP application extensions and bytes after the trailer; the
    image blocks, palettes, timing and looping extensions are copied as they are."""
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        raise _Malformed("no GIF header")
    pos = 13 + _palette_size(data[10])
    out, removed = [data[:pos]], []
    while True:
        block, start = data[pos], pos
        if block == 0x3B:  # trailer
            out.append(data[pos : pos + 1])
            pos += 1
            break
        if block == 0x21:  # extension: label, then sub-blocks
            label = data[pos + 1]
            ident = data[pos + 3 : pos + 3 + data[pos + 2]] if label == 0xFF else b""
            pos = _after_sub_blocks(data, pos + 2)
            xmp = ident[:8] == b"XMP Data"
            dropped = "comments" if label == 0xFE else "XMP metadata" if xmp else ""
            if dropped:
                if dropped not in removed:
                    removed.append(dropped)
                continue
            out.append(data[start:pos])
            continue
        if block == 0x2C:  # image: descriptor, local palette, LZW code size, sub-blocks
            pos = _after_sub_blocks(data, pos + 10 + _palette_size(data[pos + 9]) + 1)
            out.append(data[start:pos])
            continue
        raise _Malformed(f"unknown GIF block {block:#x}")
    if len(data) > pos:
        removed.append(f"{len(data) - pos:,} bytes after the image's end")
    return b"".join(out), removed


def _palette_size(flags: int) -> int:
    return 3 * (2 << (flags & 7)) if flags & 0x80 else 0


def _after_sub_blocks(data: bytes, pos: int) -> int:
    while True:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos
        if pos > len(data):
            raise _Malformed("sub-block past the end")


# --- TIFF --------------------------------------------------------------------------------------

# Tags that say how to decode the pixels (and their colour profile); any other goes.
_TIFF_STRUCTURE = frozenset(
    {254, 255, 256, 257, 258, 259, 262, 263, 266, 273, 274, 277, 278, 279, 280, 281, 282, 283}
    | {284, 286, 287, 290, 291, 296, 297, 317, 318, 319, 320, 322, 323, 324, 325, 338, 339, 340}
    | {341, 530, 531, 532, 34675}
)
_TIFF_LOSSLESS = frozenset({"raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits"})


def _tiff(data: bytes, cut: bool) -> tuple[bytes, list[str]]:
    """A TIFF's metadata lives in the tags of the directory that also says how to decode it:
    with anything beyond decoding tags, the page is written again (same lossless compression,
    same pixels, colour profile and resolution kept) by Pillow, which writes no other tag."""
    import io

    from PIL import TiffImagePlugin

    with TiffImagePlugin.TiffImageFile(io.BytesIO(data)) as im:  # the header; not decoded yet
        tags = dict(im.tag_v2)
        extra = set(tags) - _TIFF_STRUCTURE
        if not extra:
            return data, []
        note = _tiff_note(extra)
        if not cut:
            return data, [note]
        compression = im.info.get("compression", "raw")
        if getattr(im, "n_frames", 1) > 1 or compression not in _TIFF_LOSSLESS:
            raise _Malformed("not one losslessly compressed page")  # re-encoding drops it all
        im.load()
        page = im.copy()  # a plain image: Pillow copies XMP/IPTC from a TIFF file it saves
    params: dict[str, object] = {"compression": compression}
    for key in ("icc_profile", "dpi"):
        if im.info.get(key):
            params[key] = im.info[key]
    out = io.BytesIO()
    page.save(out, format="TIFF", **params)
    return out.getvalue(), [note]


def _tiff_note(extra: set[int]) -> str:
    kinds = []
    if _GPS_IFD in extra:
        kinds.append("GPS position")
    if extra & (_CAMERA_TAGS | {_EXIF_IFD}):
        kinds.append("camera")
    if extra & _TIME_TAGS:
        kinds.append("capture time")
    if 700 in extra:
        kinds.append("XMP")
    if extra - _CAMERA_TAGS - _TIME_TAGS - {_GPS_IFD, _EXIF_IFD, 700}:
        kinds.append("other fields")
    return f"TIFF metadata ({', '.join(kinds)})"


_WALKERS = {
    "image/jpeg": _jpeg,
    "image/png": _png,
    "image/webp": _webp,
    "image/gif": _gif,
    "image/tiff": _tiff,
}
