"""The bounded body decoder (mmkit/net/body.py) on the cases mutation testing found untested:
`identity` and `x-gzip`, the error texts a user reads, raw bytes counted across chunks, raw
"deflate" told from zlib-wrapped, bodies cut short, output drained exactly one STEP long.
Every body is real bytes made by the zlib and gzip modules."""

from __future__ import annotations

import gzip
import zlib

import pytest

from mmkit.net.body import BodyTooLarge, BoundedDecoder, CorruptBody, UnsupportedEncoding

STEP = 64 * 1024  # written out: the decoder's step is part of what these tests pin


def _decode(decoder: BoundedDecoder, *chunks: bytes) -> list[bytes]:
    """The pieces the decoder gives for these raw chunks, then for the end of the body."""
    pieces: list[bytes] = []
    for chunk in chunks:
        pieces += decoder.feed(chunk)
    return pieces + list(decoder.end())


def _raw_deflate(data: bytes) -> bytes:
    """`data` as a "deflate" body sent without its zlib header, as many servers do."""
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


# --- the encodings mmkit names as decodable -------------------------------------------------------


@pytest.mark.parametrize("header", ["identity", "IDENTITY", " identity ", "identity, identity"])
def test_an_identity_body_passes_through_unchanged(header: str) -> None:
    assert _decode(BoundedDecoder(header, 100), b"plain ", b"text") == [b"plain ", b"text"]


def test_identity_inside_a_chain_is_skipped() -> None:
    body = gzip.compress(b"a caption", mtime=0)
    assert b"".join(_decode(BoundedDecoder("identity, gzip", 100), body)) == b"a caption"


@pytest.mark.parametrize("header", ["x-gzip", "X-GZIP", "x-gzip, gzip"])
def test_an_x_gzip_body_decodes_as_gzip(header: str) -> None:
    body = gzip.compress(b"a caption", mtime=0)
    if header.count("gzip") == 2:
        body = gzip.compress(body, mtime=0)
    assert b"".join(_decode(BoundedDecoder(header, 100), body)) == b"a caption"


# --- the error texts a user reads (inside TransportError / FetchError) ----------------------------


def test_an_unknown_encoding_is_named_with_what_mmkit_asks_for() -> None:
    with pytest.raises(UnsupportedEncoding) as caught:
        BoundedDecoder("gzip, br", 100)
    assert str(caught.value) == (
        "the server sent Content-Encoding 'br', which mmkit does not decode "
        "(it asks for gzip, deflate or identity)"
    )


def test_too_many_stacked_encodings_are_counted_in_the_error() -> None:
    with pytest.raises(UnsupportedEncoding) as caught:
        BoundedDecoder("gzip, deflate, gzip, gzip", 100)
    assert str(caught.value) == (
        "the server stacked 4 Content-Encodings (gzip, deflate, gzip, gzip); mmkit unwraps at "
        "most 3"
    )


def test_three_stacked_encodings_are_still_unwrapped() -> None:
    body = gzip.compress(zlib.compress(gzip.compress(b"three deep", mtime=0)), mtime=0)
    decoder = BoundedDecoder("gzip, deflate, gzip", 100)
    assert b"".join(_decode(decoder, body)) == b"three deep"


def test_a_decoded_body_over_the_cap_names_the_cap() -> None:
    with pytest.raises(BodyTooLarge) as caught:
        _decode(BoundedDecoder("gzip", 10), gzip.compress(b"eleven byte", mtime=0))
    assert str(caught.value) == "the body is over the 10-byte cap"
    assert caught.value.cap == 10


def test_a_plain_body_over_the_cap_names_the_cap() -> None:
    with pytest.raises(BodyTooLarge) as caught:
        _decode(BoundedDecoder(None, 10), b"six b", b"six b", b"x")
    assert str(caught.value) == "the body is over the 10-byte cap"


def test_corrupt_deflate_data_is_named_in_the_error() -> None:
    body = zlib.compress(b"a caption")[:2] + b"\xff\xff\xff\xff"  # a zlib header, then junk
    with pytest.raises(CorruptBody) as caught:
        _decode(BoundedDecoder("deflate", 100), body)
    assert str(caught.value) == (
        "deflate data is corrupt (Error -3 while decompressing data: invalid block type)"
    )


# --- raw bytes are counted across every chunk ---------------------------------------------------


def test_junk_after_a_compressed_stream_counts_against_the_cap_across_chunks() -> None:
    # 5 decoded bytes, then junk that zlib ignores: only the raw count can stop it
    body = gzip.compress(b"hello", mtime=0) + b"\0" * 70_000
    decoder = BoundedDecoder("gzip", 100)
    chunks = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    with pytest.raises(BodyTooLarge) as caught:
        _decode(decoder, *chunks)
    assert str(caught.value) == "the body is over the 100-byte cap"
    assert decoder.raw == 66_000  # the chunk that passed cap + slack (65_636) is the 66th


def test_junk_up_to_the_slack_is_let_through() -> None:
    body = gzip.compress(b"hello", mtime=0)
    junk = b"\0" * (100 + 64 * 1024 - len(body))
    decoder = BoundedDecoder("gzip", 100)
    assert b"".join(_decode(decoder, body, junk)) == b"hello"
    assert decoder.raw == 100 + 64 * 1024


# --- "deflate": zlib-wrapped or raw, told by the first two bytes ----------------------------------


def test_a_raw_deflate_body_whose_first_bytes_pass_the_zlib_checksum_is_still_raw() -> None:
    body = _raw_deflate(b"58 frames")
    assert body[:2] == b"\x33\xb5"  # (0x33 << 8 | 0xb5) % 31 == 0, but 0x33 is no zlib method
    assert b"".join(_decode(BoundedDecoder("deflate", 100), body)) == b"58 frames"


def test_a_raw_deflate_body_whose_first_byte_looks_like_a_zlib_method_is_still_raw() -> None:
    # a non-final stored block; its first byte's padding bits are free (RFC 1951 3.2.4), and
    # here they read 0x08, zlib's "deflate" method nibble, but the pair fails the checksum
    packer = zlib.compressobj(0, zlib.DEFLATED, -zlib.MAX_WBITS)
    stored = packer.compress(b"ten frames") + packer.flush(zlib.Z_SYNC_FLUSH) + packer.flush()
    assert stored[0] == 0x00
    body = b"\x08" + stored[1:]
    assert zlib.decompress(body, -zlib.MAX_WBITS) == b"ten frames"  # zlib itself reads it
    assert (body[0] << 8 | body[1]) % 31 != 0
    assert b"".join(_decode(BoundedDecoder("deflate", 100), body)) == b"ten frames"


@pytest.mark.parametrize("wrapped", [True, False])
def test_deflate_sent_a_byte_at_a_time_decodes(wrapped: bool) -> None:
    body = zlib.compress(b"a caption") if wrapped else _raw_deflate(b"a caption")
    decoder = BoundedDecoder("deflate", 100)
    assert b"".join(_decode(decoder, *(body[i : i + 1] for i in range(len(body))))) == (
        b"a caption"
    )


# --- bodies that end early ----------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"\x78"], ids=["empty", "one byte"])
def test_a_deflate_body_too_short_to_say_its_kind_decodes_to_nothing(body: bytes) -> None:
    # as httpx does: what was decoded before the body ended, here nothing, and no error
    assert _decode(BoundedDecoder("deflate", 100), body) == []


def test_a_two_byte_deflate_body_of_junk_is_reported_corrupt() -> None:
    # two bytes are enough to tell zlib from raw, and these say "raw, block type 3": no such type
    with pytest.raises(CorruptBody) as caught:
        _decode(BoundedDecoder("deflate", 100), b"\x07\x00")
    assert str(caught.value) == (
        "deflate data is corrupt (Error -3 while decompressing data: invalid block type)"
    )


def test_a_gzip_body_cut_short_gives_what_was_decoded() -> None:
    body = gzip.compress(b"a caption that was cut", mtime=0)
    assert b"".join(_decode(BoundedDecoder("gzip", 100), body[:-8])) == b"a caption that was cut"


# --- output exactly one STEP long ---------------------------------------------------------------


def test_a_chunk_that_decodes_to_exactly_one_step_is_drained_and_the_body_ends_cleanly() -> None:
    body = gzip.compress(b"\0" * STEP, mtime=0)
    head, trailer = body[:-8], body[-8:]  # the stream's data, then its CRC and length
    pieces = _decode(BoundedDecoder("gzip", STEP), head, trailer)
    assert b"".join(pieces) == b"\0" * STEP
    assert [len(p) for p in pieces] == [STEP]


def test_a_body_of_exactly_one_step_in_one_chunk_decodes() -> None:
    body = gzip.compress(b"\0" * STEP, mtime=0)
    assert [len(p) for p in _decode(BoundedDecoder("gzip", STEP), body)] == [STEP]


def test_a_large_body_comes_out_in_pieces_of_at_most_one_step() -> None:
    data = bytes(range(256)) * 1024  # 256 KiB
    pieces = _decode(BoundedDecoder("gzip", len(data)), gzip.compress(data, mtime=0))
    assert b"".join(pieces) == data
    assert [len(p) for p in pieces] == [STEP, STEP, STEP, STEP]
