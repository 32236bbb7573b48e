"""Response bodies read raw and decoded here, step by step, under a cap on the decoded bytes.

httpx inflates any Content-Encoding the server names (stacked ones too) a whole network chunk at
a time, before a caller can count anything: 3 KB of `gzip, gzip` becomes gigabytes inside one
`iter_bytes()` step. So callers read `iter_raw()` and feed it to a `BoundedDecoder`, which
inflates at most `STEP` bytes per call into zlib (its `max_length`) at every layer and stops as
soon as the decoded total passes the cap: memory stays within the cap plus a few steps, whatever
the encoding chain.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

STEP = 64 * 1024  # the most one decompress call may produce
RAW_SLACK = 64 * 1024  # raw bytes allowed past the cap: headers and incompressible expansion
MAX_LAYERS = 3  # stacked encodings beyond this are refused, not unwrapped
# What mmkit's chat client asks for: the encodings it can decode within a cap.
ACCEPT_ENCODING = "gzip, deflate"


class BodyTooLarge(Exception):
    """The decoded (or raw) body passed the cap."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"the body is over the {cap}-byte cap")
        self.cap = cap


class UnsupportedEncoding(Exception):
    """A Content-Encoding mmkit does not decode (br, zstd, an unknown one, too many layers)."""


class CorruptBody(Exception):
    """The compressed body does not decode."""


class _Inflate:
    """One gzip or deflate layer, producing at most STEP bytes per zlib call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._obj: Any = None
        self._head = b""  # a deflate body's first bytes, until they say zlib or raw
        if name in ("gzip", "x-gzip"):
            self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def _start(self, data: bytes) -> bytes:
        """A "deflate" body is meant to be zlib-wrapped but is often sent raw (httpx takes both):
        the first two bytes tell, once both have arrived."""
        data = self._head + data
        if len(data) < 2:
            self._head = data
            return b""
        self._head = b""
        zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
        self._obj = zlib.decompressobj(zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS)
        return data

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            data = self._start(data)
            if self._obj is None:
                return
        obj = self._obj
        while data and not obj.eof:
            try:
                out = obj.decompress(data, STEP)
            except zlib.error as exc:
                raise CorruptBody(f"{self.name} data is corrupt ({exc})") from None
            data = obj.unconsumed_tail
            if out:
                yield out
            # zlib may hold output back once max_length is hit: drain it with no new input
            while len(out) == STEP and not data and not obj.eof:
                out = obj.decompress(b"", STEP)
                if out:
                    yield out
        # anything after the end of the stream (unused_data) is ignored, as httpx does

    def end(self) -> Iterator[bytes]:
        if self._obj is None and self._head:
            yield from self.feed(b"")
        if self._obj is not None and not self._obj.eof:
            try:
                out = self._obj.flush(STEP)
            except zlib.error as exc:
                raise CorruptBody(f"{self.name} data is corrupt ({exc})") from None
            if out:
                yield out


def parse_encodings(header: str | None) -> list[str]:
    """The Content-Encoding layers in the order they must be undone (last applied first).

    Raises UnsupportedEncoding for anything but gzip/x-gzip/deflate/identity, or too many layers.
    """
    names = [n.strip().lower() for n in (header or "").split(",")]
    layers = [n for n in names if n and n != "identity"]
    for name in layers:
        if name not in ("gzip", "x-gzip", "deflate"):
            raise UnsupportedEncoding(
                f"the server sent Content-Encoding {name!r}, which mmkit does not decode "
                f"(it asks for {ACCEPT_ENCODING} or identity)"
            )
    if len(layers) > MAX_LAYERS:
        raise UnsupportedEncoding(
            f"the server stacked {len(layers)} Content-Encodings ({header}); mmkit unwraps at "
            f"most {MAX_LAYERS}"
        )
    return list(reversed(layers))


class BoundedDecoder:
    """Raw body bytes in, decoded pieces out; BodyTooLarge once more than `cap` bytes come out
    (or go in, give or take RAW_SLACK: bytes after a compressed stream's end count too)."""

    def __init__(self, content_encoding: str | None, cap: int) -> None:
        self._layers = [_Inflate(name) for name in parse_encodings(content_encoding)]
        self.cap = cap
        self.raw = 0
        self.decoded = 0

    def feed(self, raw: bytes) -> Iterator[bytes]:
        self.raw += len(raw)
        # compressed data can be a little larger than what it holds; past that, it is junk
        if self.raw > self.cap + (RAW_SLACK if self._layers else 0):
            raise BodyTooLarge(self.cap)
        yield from self._count(self._through(0, raw))

    def end(self) -> Iterator[bytes]:
        """What the layers still hold when the raw body has ended."""
        yield from self._count(self._ending(0))

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            yield data
            return
        for piece in self._layers[index].feed(data):
            yield from self._through(index + 1, piece)

    def _ending(self, index: int) -> Iterator[bytes]:
        if index == len(self._layers):
            return
        for piece in self._layers[index].end():
            yield from self._through(index + 1, piece)
        yield from self._ending(index + 1)

    def _count(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        for piece in pieces:
            self.decoded += len(piece)
            if self.decoded > self.cap:
                raise BodyTooLarge(self.cap)
            yield piece
