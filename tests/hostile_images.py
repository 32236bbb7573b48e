"""Small hostile image files, built byte by byte: each claims or hides far more pixels than its
size suggests. Tests use them to show that every limit is counted on what would be decoded."""

from __future__ import annotations

import struct
import zlib

# A 1×1 frame's LZW stream: code size 2, one sub-block of two bytes, the terminator.
_ONE_PIXEL_LZW = b"\x02\x02\x44\x01\x00"


def gif(
    screen: tuple[int, int], frames: list[tuple[int, int, int, int]], delay: bool = False
) -> bytes:
    """A GIF with a 2-colour global palette and one tiny frame per (left, top, width, height).

    Pillow grows the canvas to every frame's extent, whatever the logical screen says."""
    out = bytearray(b"GIF89a")
    out += struct.pack("<HHBBB", screen[0], screen[1], 0x80, 0, 0)
    out += b"\x00\x00\x00\xff\xff\xff"
    for left, top, width, height in frames:
        if delay:  # graphic control extension: 10 ms, no disposal
            out += b"\x21\xf9\x04\x00\x01\x00\x00\x00"
        out += b"\x2c" + struct.pack("<HHHHB", left, top, width, height, 0)
        out += _ONE_PIXEL_LZW
    out += b"\x3b"
    return bytes(out)


def canvas_growing_gif(side: int) -> bytes:
    """1×1 on its header and its first frame; the second frame grows the canvas to side²."""
    return gif((1, 1), [(0, 0, 1, 1), (0, 0, side, side)])


def many_frame_gif(frames: int, side: int) -> bytes:
    """`frames` 1-pixel frames on a side² canvas: each one decodes the whole canvas."""
    return gif((side, side), [(0, 0, 1, 1)] * frames, delay=True)


def two_page_tiff(second: tuple[int, int], second_channels: int = 4) -> bytes:
    """A TIFF whose first page is 2×2 RGB and whose second page claims `second` pixels
    (RGBA by default), its strip a few bytes long: the header alone says how big it is."""
    first_data = bytes(range(12))
    second_data = b"\x00" * 64
    out = bytearray(b"II*\x00") + struct.pack("<I", 8)
    pages = [((2, 2), 3, first_data), (second, second_channels, second_data)]
    for index, ((width, height), channels, data) in enumerate(pages):
        ifd_at = len(out)
        entries = 10 if channels == 4 else 9
        ifd_size = 2 + 12 * entries + 4
        bits_at = ifd_at + ifd_size
        data_at = bits_at + 2 * channels
        tags = [
            (256, 4, 1, width),
            (257, 4, 1, height),
            (258, 3, channels, bits_at),
            (259, 3, 1, 1),
            (262, 3, 1, 2),
            (273, 4, 1, data_at),
            (277, 3, 1, channels),
            (278, 4, 1, height),
            (279, 4, 1, len(data)),
        ]
        if channels == 4:
            tags.append((338, 3, 1, 2))  # unassociated alpha
        out += struct.pack("<H", len(tags))
        for tag, kind, count, value in tags:
            out += struct.pack("<HHII", tag, kind, count, value)
        last = index == len(pages) - 1
        next_at = 0 if last else data_at + len(data)
        out += struct.pack("<I", next_at)
        out += struct.pack(f"<{channels}H", *([8] * channels))
        out += data
    return bytes(out)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def lying_apng(claimed_frames: int = 2**31 - 1) -> bytes:
    """A 1×1 APNG with one real frame whose acTL chunk claims `claimed_frames`."""
    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)  # 1×1, 8-bit grayscale
    actl = struct.pack(">II", claimed_frames, 0)
    fctl = struct.pack(">IIIIIHHBB", 0, 1, 1, 0, 0, 1, 10, 0, 0)
    idat = zlib.compress(b"\x00\x80")  # filter byte 0, one gray pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"acTL", actl)
        + _png_chunk(b"fcTL", fctl)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def ico_hiding_a_big_png(side: int) -> bytes:
    """An ICO whose directory lists one 16×16 entry holding a PNG whose header says side²."""
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00"))
        + _png_chunk(b"IEND", b"")
    )
    entry = struct.pack("<BBBBHHII", 16, 16, 0, 0, 1, 32, len(png), 6 + 16)
    return struct.pack("<HHH", 0, 1, 1) + entry + png
