"""The MP4 display matrix: how far the player turns the picture, read from the `tkhd` box.

PyAV exposes the matrix only on decoded frames; reading the box keeps the probe header-only.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mmkit.media.video.info import Source

if TYPE_CHECKING:
    pass


def _mp4_rotation(src: Source) -> int:
    """The video track's display rotation from its `tkhd` matrix (0 when absent or odd).

    PyAV exposes the matrix only on decoded frames; reading the box keeps the probe header-only.
    """
    try:
        data = src if isinstance(src, bytes) else _moov_bytes(src)
        return _rotation_in(data, 0, len(data))
    except (struct.error, ValueError, OSError):
        return 0


def _moov_bytes(path: Path) -> bytes:
    """The `moov` box of a file on disk, wherever it is (start or end), without reading the rest."""
    with open(path, "rb") as handle:
        offset = 0
        size_total = path.stat().st_size
        while offset + 8 <= size_total:
            handle.seek(offset)
            header = handle.read(16)
            size, kind = struct.unpack(">I4s", header[:8])
            if size == 1:
                size = struct.unpack(">Q", header[8:16])[0]
            elif size == 0:
                size = size_total - offset
            if size < 8:
                return b""
            if kind == b"moov":
                handle.seek(offset)
                return handle.read(min(size, 64 * 1024 * 1024))
            offset += size
    return b""


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            return
        yield kind, offset + header, offset + size
        offset += size


def _rotation_in(data: bytes, start: int, end: int) -> int:
    for kind, body, stop in _boxes(data, start, end):
        if kind == b"moov":
            return _rotation_in(data, body, stop)
        if kind == b"trak" and _is_video_track(data, body, stop):
            for inner, inner_body, _ in _boxes(data, body, stop):
                if inner == b"tkhd":
                    return _tkhd_rotation(data, inner_body)
    return 0


def _is_video_track(data: bytes, start: int, end: int) -> bool:
    for kind, body, stop in _boxes(data, start, end):
        if kind == b"mdia":
            for inner, inner_body, _ in _boxes(data, body, stop):
                if inner == b"hdlr":
                    return data[inner_body + 8 : inner_body + 12] == b"vide"
    return False


def _tkhd_rotation(data: bytes, body: int) -> int:
    version = data[body]
    # version 0: 4 + 4*5 + 8 + 4 = matrix at 40; version 1 has 64-bit times: matrix at 52.
    matrix_at = body + (52 if version == 1 else 40)
    a, b, _, c, d = struct.unpack(">5i", data[matrix_at : matrix_at + 20])
    # FFmpeg's av_display_rotation_get: the counter-clockwise angle of the matrix [a b; c d].
    scale_a, scale_b = math.hypot(a, c), math.hypot(b, d)
    if not scale_a or not scale_b:
        return 0
    angle = -math.degrees(math.atan2(b / scale_b, a / scale_a))
    return round(angle / 90) % 4 * 90
