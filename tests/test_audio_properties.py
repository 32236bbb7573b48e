"""Property tests for audio: generated signals and real encoded files survive every target with
the right length, rate and channels; PCM is bit-exact; bad bytes only ever raise MmkitError."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import av
import numpy as np
import soundfile
from helpers import sent_audio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mmkit import Audio, MmkitError
from mmkit.testing import strategies as mst

SIGNALS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BAD = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOLERANCE = 0.05  # seconds of codec priming and padding
MP3_RATES = (8_000, 11_025, 12_000, 16_000, 22_050, 24_000, 32_000, 44_100, 48_000)


def frames_of(samples: np.ndarray[Any, Any]) -> tuple[int, int]:
    return samples.shape[0], 1 if samples.ndim == 1 else samples.shape[1]


def counted(data: bytes) -> tuple[float, int, int]:
    """(seconds, rate, channels), every frame decoded by FFmpeg, not by mmkit."""
    # Bare AAC (ADTS) and MP3 streams of a frame or three are valid, but too short for FFmpeg to
    # guess: name the demuxer from the frame header, as a receiver told the format does.
    adts = data[:2] in (b"\xff\xf1", b"\xff\xf9")
    layer3 = len(data) > 1 and data[0] == 0xFF and data[1] & 0xE6 == 0xE2  # MPEG audio layer III
    hint = "aac" if adts else "mp3" if layer3 else None
    with av.open(io.BytesIO(data), format=hint) as container:
        stream = container.streams.audio[0]
        total, rate, channels = 0, 0, 0
        for frame in container.decode(stream):
            total += frame.samples
            rate, channels = frame.sample_rate, frame.layout.nb_channels
    return total / rate, rate, channels


@SIGNALS
@given(pair=mst.samples(), target=st.sampled_from(["openai", "bytez"]))
def test_generated_signals_keep_their_length_rate_and_channels(
    pair: tuple[np.ndarray[Any, Any], int], target: str
) -> None:
    samples, rate = pair
    frames, channels = frames_of(samples)

    data, _ = sent_audio(target, Audio(pair))

    sent, sent_rate = soundfile.read(io.BytesIO(data), always_2d=True)
    assert (sent_rate, sent.shape) == (rate, (frames, channels))


@SIGNALS
@given(pair=mst.samples(dtypes=("int16",)))
def test_pcm16_round_trips_bit_exact(pair: tuple[np.ndarray[Any, Any], int]) -> None:
    samples, _rate = pair
    audio = Audio(pair)

    data, fmt = sent_audio("openai", audio)

    sent, _ = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=True)
    assert fmt == "wav" and audio.conversions == []
    np.testing.assert_array_equal(sent, samples.reshape(len(samples), -1))


@SIGNALS
@given(pair=mst.samples(), rate=st.sampled_from([8_000, 16_000, 24_000]), mono=st.booleans())
def test_resampled_and_downmixed_signals_have_the_asked_length(
    pair: tuple[np.ndarray[Any, Any], int], rate: int, mono: bool
) -> None:
    samples, source_rate = pair
    frames, channels = frames_of(samples)

    data, _ = sent_audio("openai", Audio(pair, sample_rate=rate, mono=mono))

    sent, sent_rate = soundfile.read(io.BytesIO(data), always_2d=True)
    assert sent_rate == rate and sent.shape[1] == (1 if mono else channels)
    assert abs(len(sent) - frames * rate / source_rate) <= 2


@SIGNALS
@given(pair=mst.samples(max_seconds=2.0))
# 3 MP3 frames FFmpeg cannot tell from noise without being told the format
@example(
    pair=(
        (np.sin(np.arange(241)[:, None] * [0.9183994566, 0.9183994566]) * 16000).astype(np.int16),
        18_185,
    )
)
def test_mp3_output_is_within_tolerance(pair: tuple[np.ndarray[Any, Any], int]) -> None:
    samples, rate = pair
    frames, channels = frames_of(samples)

    data, fmt = sent_audio("openai", Audio(pair, format="mp3"))

    seconds, sent_rate, sent_channels = counted(data)
    assert fmt == "mp3" and sent_channels == channels
    assert sent_rate == min(MP3_RATES, key=lambda r: abs(r - rate))
    assert abs(seconds - frames / rate) <= TOLERANCE


@FILES
@given(data=mst.audio_bytes(), target=st.sampled_from(["openai", "bytez", "hf"]))
def test_every_encoded_format_reaches_every_target(data: bytes, target: str) -> None:
    seconds, rate, channels = counted(data)
    audio = Audio(data)

    sent, declared = sent_audio(target, audio)

    got_seconds, got_rate, got_channels = counted(sent)
    assert abs(got_seconds - seconds) <= TOLERANCE
    if target == "hf" and audio.conversions:  # what HF processors read: 16 kHz mono
        assert (got_rate, got_channels) == (16_000, 1)
    else:
        assert (got_rate, got_channels) == (rate, channels)
    if target == "openai":
        assert declared in ("wav", "mp3")
    if not audio.conversions:
        assert sent == data


@BAD
@given(data=mst.corrupt_bytes() | st.binary(max_size=512))
def test_random_bytes_raise_only_mmkit_errors(data: bytes) -> None:
    with contextlib.suppress(MmkitError):
        sent_audio("openai", Audio(data))


@FILES
@given(data=mst.audio_bytes(max_seconds=0.3), cut=st.floats(0.0, 1.0), flip=st.integers(0, 255))
def test_truncated_or_damaged_audio_raises_only_mmkit_errors(
    data: bytes, cut: float, flip: int
) -> None:
    damaged = bytearray(data[: max(1, int(len(data) * cut))])
    if len(damaged) > 64:
        damaged[len(damaged) // 2] ^= flip
    for target in ("openai", "hf"):
        with contextlib.suppress(MmkitError):
            sent_audio(target, Audio(bytes(damaged)))
