"""Every frame or page of an image, sized from the file's structure before any pixel is decoded.

A header's frame count is a claim (an APNG said 2,147,483,647) and a GIF's logical screen is not
its canvas (a later frame may grow it), so the probe walks the structure itself: GIF blocks, PNG
chunks, TIFF pages. It stops one frame past the cap, so a file cannot make the walk long.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class FrameSizes:
    """What the walk found: frames counted (at most cap + 1) and each frame's canvas size."""

    sizes: tuple[tuple[int, int], ...]

    @property
    def count(self) -> int:
        return len(self.sizes)

    @property
    def largest(self) -> tuple[int, int]:
        return max(self.sizes, key=lambda s: s[0] * s[1])


def gif_canvases(data: bytes, cap: int) -> FrameSizes:
    """Each GIF frame's canvas as Pillow builds it: the logical screen grown to every frame's
    extent so far. Bytes that are neither a block nor the trailer are skipped, as Pillow does."""
    if len(data) < 13:
        return FrameSizes(((0, 0),))
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    sizes: list[tuple[int, int]] = []
    end = len(data)
    while pos < end and len(sizes) <= cap:
        byte = data[pos]
        pos += 1
        if byte == 0x3B:  # trailer
            break
        if byte == 0x21:  # extension: a label, then sub-blocks
            pos = _skip_sub_blocks(data, pos + 1)
        elif byte == 0x2C:  # image descriptor
            if pos + 9 > end:
                break
            left, top, w, h, local = struct.unpack_from("<HHHHB", data, pos)
            width, height = max(width, left + w), max(height, top + h)
            sizes.append((width, height))
            pos += 9 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)  # LZW code size, then the pixel sub-blocks
    return FrameSizes(tuple(sizes) or ((width, height),))


def png_frame_count(data: bytes, cap: int) -> int:
    """Frames of a PNG: the fcTL chunks that are really there (1 for a still PNG).

    APNG frames lie inside the canvas (Pillow refuses others), so only the count matters."""
    count = 0
    for kind in _png_chunks(data):
        if kind == b"fcTL":
            count += 1
            if count > cap:
                break
        elif kind == b"IEND":
            break
    return max(count, 1)


def _png_chunks(data: bytes) -> Iterator[bytes]:
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        yield data[pos + 4 : pos + 8]
        pos += 12 + length


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    """Past a chain of GIF sub-blocks (a size byte, that many bytes, ... a zero size)."""
    end = len(data)
    while pos < end:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            break
    return pos


def ico_sizes(data: bytes) -> tuple[tuple[int, int], ...]:
    """The real size of every ICO entry: its embedded PNG's or BMP's own header, which Pillow
    decodes whatever the directory says (a "16×16" entry may hold a 13000² PNG)."""
    if len(data) < 6:
        return ()
    (count,) = struct.unpack_from("<H", data, 4)
    sizes = []
    for index in range(min(count, (len(data) - 6) // 16)):
        _, _, _, _, _, _, _, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * index)
        head = data[offset : offset + 24]
        if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
            sizes.append(struct.unpack_from(">II", head, 16))
        elif len(head) >= 12:  # BITMAPINFOHEADER: width, then twice the height (with its mask)
            width, height = struct.unpack_from("<ii", head, 4)
            sizes.append((abs(width), abs(height) // 2))
    return tuple(sizes)
