"""What a header claims is what is sent: files that hold more than their headers say are cut to
the claim (and the cut is recorded), never passed through whole."""

from __future__ import annotations

import base64
import io
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import mmkit
from mmkit import Message, Video


def payload(data_uri: str) -> bytes:
    header, _, body = data_uri.partition(",")
    assert header.endswith(";base64")
    return base64.b64decode(body, validate=True)


def _clip(seconds: int, fmt: str) -> bytes:
    """`seconds` of 32×32 H.264 at 10 fps: frame i is flat gray level i % 250."""
    buf = io.BytesIO()
    with av.open(buf, "w", format=fmt) as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "40"}
        for i in range(seconds * 10):
            pixels = np.full((32, 32, 3), i % 250, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


def _mp4_claiming_one_second(seconds: int) -> bytes:
    """An MP4 whose mvhd, tkhd and mdhd durations say 1 s over `seconds` of samples (its
    sample tables, which decoders follow, are left whole)."""
    data = bytearray(_clip(seconds, "mp4"))
    movie_scale = struct.unpack_from(">I", data, data.find(b"mvhd") + 16)[0]
    struct.pack_into(">I", data, data.find(b"mvhd") + 20, movie_scale)  # version 0 duration
    struct.pack_into(">I", data, data.find(b"tkhd") + 24, movie_scale)
    media_scale = struct.unpack_from(">I", data, data.find(b"mdhd") + 16)[0]
    struct.pack_into(">I", data, data.find(b"mdhd") + 20, media_scale)
    return bytes(data)


def _mkv_claiming_one_second(seconds: int) -> bytes:
    """A Matroska file whose Segment Info Duration (ID 0x4489, an 8-byte float in ms) says 1 s."""
    data = bytearray(_clip(seconds, "matroska"))
    at = data.find(b"\x44\x89\x88")
    assert at > 0
    struct.pack_into(">d", data, at + 3, 1000.0)
    return bytes(data)


def _decoded_seconds(data: bytes) -> tuple[int, float]:
    """(frames, seconds of the last frame's start) as FFmpeg decodes the bytes."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        times = [float(f.pts * stream.time_base) for f in container.decode(stream)]
    return len(times), max(times)


MAKERS = {"mp4": _mp4_claiming_one_second, "mkv": _mkv_claiming_one_second}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_the_lying_files_really_claim_one_second_over_sixty(tmp_path: Path, kind: str) -> None:
    data = MAKERS[kind](60)
    frames, last = _decoded_seconds(data)
    assert (frames, round(last, 2)) == (600, 59.9)
    path = tmp_path / f"lie.{kind}"
    path.write_bytes(data)
    assert Video(path).duration == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_a_file_holding_more_than_its_header_claims_goes_to_bytez_cut_to_the_claim(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"lie.{kind}"
    path.write_bytes(MAKERS[kind](60))
    video = Video(path, max_duration=10)
    (message,) = mmkit.to_bytez([Message.user("What happens?", video=video)])
    sent = payload(message["content"][1]["base64"])
    frames, last = _decoded_seconds(sent)
    # 1 s at 10 fps: the frames at 0.0 … 0.9 s (the 2-frame slack past a claim is for rounding)
    assert frames <= 12 and last < 1.2
    assert sent[4:8] == b"ftyp"  # re-encoded as MP4
    assert video.conversions_for("bytez")[0] == (
        "cut to the 1.0 s its headers claim (the file holds more: a receiver would have played "
        "it all)"
    )


def test_a_file_holding_what_it_claims_goes_byte_for_byte(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "clip.mp4")
    (message,) = mmkit.to_bytez([Message.user("What happens?", video=video)])
    assert payload(message["content"][1]["base64"]) == (fixtures_dir / "clip.mp4").read_bytes()
    assert video.conversions == []


# --- audio ------------------------------------------------------------------------------------


def _wav_claiming_one_second(extra_seconds: int) -> bytes:
    """A 16-bit 8 kHz mono WAV whose data chunk says 1 s (8,000 samples), followed by
    `extra_seconds` more of samples outside any chunk."""
    import soundfile

    buf = io.BytesIO()
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(8_000) / 8_000)).astype(np.float32)
    soundfile.write(buf, tone, 8_000, format="WAV", subtype="PCM_16")
    tail = np.full(8_000 * extra_seconds, 1000, "<i2").tobytes()
    return buf.getvalue() + tail


@pytest.mark.parametrize(("target", "rate"), [("openai", 8_000), ("bytez", 8_000), ("hf", 16_000)])
def test_a_wav_holding_more_than_its_header_claims_sends_the_claim_and_says_so(
    target: str, rate: int
) -> None:
    from helpers import decode_audio, sent_audio

    from mmkit import Audio

    audio = Audio(_wav_claiming_one_second(60))
    assert audio.duration == 1.0
    data, _ = sent_audio(target, audio)
    samples, got_rate = decode_audio(data)
    assert (len(samples), got_rate) == (rate, rate)  # 1.0 s, at HF's 16 kHz for HF
    assert len(data) < 40_000  # the 960,000 bytes after the data chunk stay home
    assert audio.conversions_for(target)[0] == (
        "sent the 1.0 s its header describes, not the 960,000 bytes after it"
    )


def test_a_wav_with_a_trailing_metadata_chunk_goes_as_it_is() -> None:
    from helpers import sent_audio

    from mmkit import Audio

    wav = _wav_claiming_one_second(0)
    chunk = b"LIST" + struct.pack("<I", 12) + b"INFOISFT\x00\x00\x00\x00"
    riff = wav[:4] + struct.pack("<I", len(wav) - 8 + len(chunk)) + wav[8:] + chunk
    audio = Audio(riff)
    data, _ = sent_audio("bytez", audio)
    assert data == riff
    assert audio.conversions == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_float_wav_holding_non_finite_samples_is_refused_like_an_array(bad: float) -> None:
    import soundfile

    from mmkit import Audio
    from mmkit.errors import InvalidMediaError

    samples = np.zeros(1_000, np.float32)
    samples[500] = bad
    buf = io.BytesIO()
    soundfile.write(buf, samples, 8_000, format="WAV", subtype="FLOAT")
    with pytest.raises(InvalidMediaError) as raised:
        mmkit.to_openai([Message.user(audio=Audio(buf.getvalue()))])
    assert "holds NaN or infinite samples" in str(raised.value)
    assert "bytes" in str(raised.value)  # names the input
    with pytest.raises(InvalidMediaError, match="NaN or infinite"):
        Audio((samples, 8_000))


# --- a far start= seeks: the decoding before it counts toward the work bound -------------------


def _flac_with_a_marker(seconds: int, marker_at: int) -> bytes:
    """`seconds` of 1 kHz mono FLAC, silent but for samples marker_at*1000 … +9 at 0.5."""
    import soundfile

    samples = np.zeros(seconds * 1_000, np.int16)
    samples[marker_at * 1_000 : marker_at * 1_000 + 10] = 16_384
    buf = io.BytesIO()
    soundfile.write(buf, samples, 1_000, format="FLAC", subtype="PCM_16")
    return buf.getvalue()


def test_a_start_past_the_duration_cap_seeks_and_gives_the_samples_there() -> None:
    from mmkit import Audio

    # 650 s, marker at 620 s: a start at 620 s lies past the 600 s of decoding the default cap
    # allows; decoding up to it would be refused, seeking to it is not.
    audio = Audio(_flac_with_a_marker(650, 620), start=620, end=621)
    samples, rate = audio.to_numpy()
    assert rate == 1_000 and samples.shape == (1_000, 1)
    assert samples[:10, 0].tolist() == [0.5] * 10
    assert not samples[10:, 0].any()


def test_a_far_start_counts_toward_a_small_duration_cap() -> None:
    from mmkit import Audio

    # max_duration=5 bounds decoded seconds: after the seek only ~2 s before the start are read
    audio = Audio(_flac_with_a_marker(650, 300), start=300, end=301, max_duration=5)
    samples, _ = audio.to_numpy()
    assert samples[:10, 0].tolist() == [0.5] * 10
