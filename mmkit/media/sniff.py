"""Magic-byte detection of a media type: the bytes decide, never an extension or a header."""

from __future__ import annotations

# (offset, signature, mime) checked in order; the first match wins.
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"BM", "image/bmp"),
    (0, b"II*\x00", "image/tiff"),
    (0, b"MM\x00*", "image/tiff"),
    (0, b"\x00\x00\x01\x00", "image/x-icon"),
    (0, b"fLaC", "audio/flac"),
    (0, b"OggS", "audio/ogg"),
)

# ISO base media (MP4 family): the brand at bytes 8..12 tells what the box holds.
_FTYP_BRANDS: dict[bytes, str] = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"M4P ": "audio/mp4",
    b"F4A ": "audio/mp4",
    b"qt  ": "video/quicktime",
    b"3gp4": "video/3gpp",
    b"3gp5": "video/3gpp",
}

# Other brands ("isom", "mp42", ...) say nothing of the content: video/mp4 here, and the audio
# probe calls a file with only sound tracks audio/mp4.

# IFF containers: the form type at bytes 8..12.
_IFF_FORMS: dict[bytes, str] = {
    b"AIFF": "audio/aiff",
    b"AIFC": "audio/aiff",
}

# RIFF containers: the form type at bytes 8..12.
_RIFF_FORMS: dict[bytes, str] = {
    b"WEBP": "image/webp",
    b"WAVE": "audio/wav",
    b"AVI ": "video/x-msvideo",
}

# Short names used on the wire and by Pillow, keyed by MIME type.
EXTENSIONS: dict[str, str] = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/bmp": "bmp",
    "image/tiff": "tiff",
    "image/x-icon": "ico",
    "image/avif": "avif",
    "image/heic": "heic",
    "image/heif": "heif",
    "audio/wav": "wav",
    "audio/mpeg": "mp3",
    "audio/flac": "flac",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "audio/aac": "aac",
    "audio/aiff": "aiff",
    "audio/webm": "webm",  # before video/webm: "webm" alone still means video/webm
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "video/x-msvideo": "avi",
    "video/x-matroska": "mkv",
    "video/mp2t": "ts",
    "video/3gpp": "3gp",
}

# What users and servers write for the same type.
_ALIASES: dict[str, str] = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/tif": "image/tiff",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/x-flac": "audio/flac",
    "audio/x-m4a": "audio/mp4",
    "audio/m4a": "audio/mp4",
    "video/avi": "video/x-msvideo",
    "video/msvideo": "video/x-msvideo",
    "video/matroska": "video/x-matroska",
    "video/mpeg2-ts": "video/mp2t",
    "audio/x-aiff": "audio/aiff",
    "audio/aacp": "audio/aac",
    "audio/x-aac": "audio/aac",
    "audio/x-hx-aac-adts": "audio/aac",
}

_SHORT_NAMES: dict[str, str] = {
    **{short: mime for mime, short in EXTENSIONS.items()},
    "jpg": "image/jpeg",
    "tif": "image/tiff",
}


def sniff(data: bytes | memoryview) -> str | None:
    """The MIME type the bytes really are, or None when no known signature matches."""
    head = bytes(data[:16])
    for offset, signature, mime in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return mime
    if head[:4] == b"RIFF" and len(head) >= 12:
        return _RIFF_FORMS.get(head[8:12])
    if head[:4] == b"FORM" and len(head) >= 12:
        return _IFF_FORMS.get(head[8:12])
    if head[4:8] == b"ftyp" and len(head) >= 12:
        return _FTYP_BRANDS.get(head[8:12], "video/mp4")
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: the DocType says WebM or Matroska
        return "video/x-matroska" if b"matroska" in bytes(data[:64]) else "video/webm"
    if _is_mpeg_ts(data):
        return "video/mp2t"
    if head[:3] == b"ID3":
        return _after_id3(data)
    return _frame_sync(head)


def _after_id3(data: bytes | memoryview) -> str:
    """An ID3v2 tag may precede MP3, ADTS AAC or even FLAC: look past it (its size is in the
    header, four 7-bit bytes)."""
    head = bytes(data[:10])
    if len(head) == 10 and all(b < 0x80 for b in head[6:10]):
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        size += 10 + (10 if head[5] & 0x10 else 0)  # a footer repeats the header
        after = bytes(data[size : size + 16])
        if after[:4] == b"fLaC":
            return "audio/flac"
        if _frame_sync(after) == "audio/aac":
            return "audio/aac"
    return "audio/mpeg"


def _frame_sync(head: bytes) -> str | None:
    """A bare MPEG audio frame (MP3 without a tag) or an ADTS AAC frame, by its header bits."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return None
    if (head[1] & 0xF6) == 0xF0:  # 12 sync bits, layer 00: ADTS; a valid sampling index
        return "audio/aac" if ((head[2] >> 2) & 0x0F) < 13 else None
    version, layer = (head[1] >> 3) & 0x03, (head[1] >> 1) & 0x03
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x03
    # Reserved version, layer, bitrate and sample-rate codes never occur in a real frame.
    if version == 1 or layer == 0 or bitrate == 0x0F or rate == 0x03:
        return None
    return "audio/mpeg"


def _is_mpeg_ts(data: bytes | memoryview) -> bool:
    """188-byte transport packets, each starting with the 0x47 sync byte (three in a row)."""
    return len(data) >= 3 * 188 and all(data[i * 188] == 0x47 for i in range(3))


def normalize_mime(value: str | None) -> str | None:
    """'IMAGE/JPG; charset=x' -> 'image/jpeg'; a short name ('jpg', 'wav') -> its MIME type."""
    if not value:
        return None
    mime = value.split(";", 1)[0].strip().lower()
    if "/" not in mime:
        return _SHORT_NAMES.get(mime.lstrip("."))
    return _ALIASES.get(mime, mime)


def short_name(mime: str) -> str:
    """'image/jpeg' -> 'jpeg': the name Pillow and the wire formats use."""
    return EXTENSIONS.get(mime, mime.rsplit("/", 1)[-1])
