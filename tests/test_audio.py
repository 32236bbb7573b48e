"""How each fixture audio file is probed, sent to each target (passed through, or converted and
said so), cut, chunked, and refused when it cannot fit: errors name the file, the limit and the fix.
"""

from __future__ import annotations

import base64
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import pytest
import soundfile
from helpers import decode_audio, sent_audio

import mmkit
from mmkit import Audio, Message
from mmkit.errors import (
    BlockedURLError,
    InvalidMediaError,
    InvalidOptionError,
    MediaTooLargeError,
    UnsupportedFormatError,
)
from mmkit.formats.openai import TARGET as OPENAI
from mmkit.media.audio import AudioLimits
from mmkit.media.sniff import sniff
from mmkit.server import RunningServer
from mmkit.transport import Client

# Each fixture as made by fixtures/make_fixtures.py: type, codec, rate, channels, seconds.
FIXTURES: dict[str, tuple[str, str, int, int, float]] = {
    "tone.wav": ("audio/wav", "pcm16", 16_000, 1, 1.0),
    "tone_float32.wav": ("audio/wav", "float32", 8_000, 2, 1.0),
    "tone_extensible.wav": ("audio/wav", "pcm16", 16_000, 2, 0.5),
    "tone.flac": ("audio/flac", "flac", 44_100, 1, 1.0),
    "tone_vorbis.ogg": ("audio/ogg", "vorbis", 22_050, 2, 1.0),
    "tone_opus.ogg": ("audio/ogg", "opus", 48_000, 1, 1.0),
    "tone_id3.mp3": ("audio/mpeg", "mp3", 44_100, 2, 1.0),
    "tone_bare.mp3": ("audio/mpeg", "mp3", 48_000, 1, 1.0),
    "tone_aac.m4a": ("audio/mp4", "aac", 44_100, 2, 1.0),
    "tone_adts.aac": ("audio/aac", "aac", 48_000, 1, 1.0),
    "tone_opus.webm": ("audio/webm", "opus", 48_000, 2, 1.0),
    "tone.aiff": ("audio/aiff", "pcm16", 22_050, 1, 0.5),
}
# What OpenAI's input_audio takes as it is: plain 16-bit PCM WAV and MP3.
OPENAI_AS_IS = {"tone.wav": "wav", "tone_id3.mp3": "mp3", "tone_bare.mp3": "mp3"}
# What HF processors read with soundfile: any WAV, FLAC, MP3 and OGG.
HF_AS_IS = {
    "tone.wav",
    "tone_float32.wav",
    "tone_extensible.wav",
    "tone.flac",
    "tone_vorbis.ogg",
    "tone_opus.ogg",
    "tone_id3.mp3",
    "tone_bare.mp3",
}
TOLERANCE = 0.05  # seconds: codec priming and padding (AAC, bare MP3) stay within it


def counted(data: bytes) -> tuple[float, int, int]:
    """(seconds, rate, channels) of any audio bytes, every frame decoded by FFmpeg (not mmkit)."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        frames = [
            (f.samples, f.sample_rate, f.layout.nb_channels) for f in container.decode(stream)
        ]
    total = sum(n for n, _, _ in frames)
    return total / frames[0][1], frames[0][1], frames[0][2]


# --- what the probe says -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_probe_reads_type_codec_rate_channels_and_length(name: str, fixtures_dir: Path) -> None:
    mime, codec, rate, channels, seconds = FIXTURES[name]
    audio = Audio(fixtures_dir / name)

    assert (audio.mime, audio.codec, audio.sample_rate, audio.channels) == (
        mime,
        codec,
        rate,
        channels,
    )
    assert audio.duration == pytest.approx(seconds, abs=TOLERANCE)
    assert audio.nbytes == (fixtures_dir / name).stat().st_size
    assert audio.conversions == []


def test_mp4_with_only_sound_is_audio_and_a_video_gives_its_sound_track(
    fixtures_dir: Path,
) -> None:
    m4a = (fixtures_dir / "tone_aac.m4a").read_bytes()
    assert m4a[4:12] == b"ftypisom"  # the brand says nothing; the tracks do
    assert Audio(m4a).mime == "audio/mp4"
    with pytest.raises(InvalidMediaError, match="video without sound"):
        Audio(fixtures_dir / "clip.mp4")


def test_repr_and_describe(fixtures_dir: Path) -> None:
    audio = Audio(fixtures_dir / "tone_id3.mp3")
    assert (
        repr(audio)
        == f"Audio({fixtures_dir / 'tone_id3.mp3'} MP3 1.0 s 44.1 kHz stereo, 8,587 bytes)"
    )


# --- OpenAI: input_audio, wav or mp3 -----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_fixture_becomes_openai_input_audio(name: str, fixtures_dir: Path) -> None:
    _, _, rate, channels, seconds = FIXTURES[name]
    audio = Audio(fixtures_dir / name)

    data, fmt = sent_audio("openai", audio)

    assert fmt in ("wav", "mp3")
    assert sniff(data) == {"wav": "audio/wav", "mp3": "audio/mpeg"}[fmt]
    samples, got_rate = decode_audio(data)
    assert (got_rate, samples.shape[1]) == (rate, channels)
    assert abs(len(samples) / got_rate - seconds) <= TOLERANCE
    if name in OPENAI_AS_IS:
        assert data == (fixtures_dir / name).read_bytes() and fmt == OPENAI_AS_IS[name]
        assert audio.conversions_for("openai") == []
    else:
        assert fmt == "wav"
        assert audio.conversions_for("openai")[0].startswith("converted ")
        assert audio.conversions_for("openai")[0].endswith(
            "→ 16-bit PCM WAV (the target does not accept it)"
        )


def test_conversions_name_what_was_converted(fixtures_dir: Path) -> None:
    cases = {
        "tone_float32.wav": "converted 32-bit float WAV → 16-bit PCM WAV",
        "tone_extensible.wav": "converted 16-bit PCM WAV (WAVE_FORMAT_EXTENSIBLE) → 16-bit PCM WAV",
        "tone_aac.m4a": "converted AAC in M4A → 16-bit PCM WAV",
        "tone_opus.ogg": "converted Opus in OGG → 16-bit PCM WAV",
        "tone.flac": "converted FLAC → 16-bit PCM WAV",
    }
    for name, expected in cases.items():
        audio = Audio(fixtures_dir / name)
        mmkit.to_openai([Message.user([audio])])
        assert audio.conversions_for("openai") == [f"{expected} (the target does not accept it)"], (
            name
        )


def test_pcm16_samples_survive_the_float_wav_conversion_bit_exact(fixtures_dir: Path) -> None:
    source, _ = decode_audio((fixtures_dir / "tone_extensible.wav").read_bytes())
    data, _ = sent_audio("openai", Audio(fixtures_dir / "tone_extensible.wav"))
    sent, _ = decode_audio(data)
    np.testing.assert_array_equal(sent, source)


# --- Bytez: a data URI with the true MIME type -------------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_fixture_goes_to_bytez_with_its_true_type(name: str, fixtures_dir: Path) -> None:
    mime, _, rate, channels, seconds = FIXTURES[name]

    data, declared = sent_audio("bytez", Audio(fixtures_dir / name))

    assert data == (fixtures_dir / name).read_bytes()
    assert declared == mime
    got_seconds, got_rate, got_channels = counted(data)
    assert (got_rate, got_channels) == (rate, channels)
    assert abs(got_seconds - seconds) <= TOLERANCE


def test_bytez_passes_an_audio_url_as_is_and_openai_cannot() -> None:
    audio = Audio("https://example.com/talk.mp3")
    (message,) = mmkit.to_bytez([Message.user([audio])])
    assert message["content"] == [{"type": "audio", "url": "https://example.com/talk.mp3"}]
    assert OPENAI.fetches_audio_urls is False  # input_audio has no URL form: fetched, inlined


# --- Hugging Face: read by processors at 16 kHz mono -------------------------------------------


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_fixture_becomes_an_hf_audio_part(name: str, fixtures_dir: Path) -> None:
    mime, _, rate, channels, seconds = FIXTURES[name]
    audio = Audio(fixtures_dir / name)

    data, declared = sent_audio("hf", audio)

    if name in HF_AS_IS:
        assert data == (fixtures_dir / name).read_bytes() and declared == mime
        expected = (rate, channels)
    else:
        assert declared == "audio/wav"
        assert "resampled" in " ".join(audio.conversions) or rate == 16_000
        expected = (16_000, 1)
    got_seconds, got_rate, got_channels = counted(data)
    assert (got_rate, got_channels) == expected
    assert abs(got_seconds - seconds) <= TOLERANCE


# --- options -----------------------------------------------------------------------------------


def test_start_end_mono_and_rate_are_applied_and_recorded(fixtures_dir: Path) -> None:
    audio = Audio(
        fixtures_dir / "tone_aac.m4a", start=0.25, end=0.75, mono=True, sample_rate=16_000
    )
    assert (audio.duration, audio.sample_rate, audio.channels) == (0.5, 16_000, 1)

    data, fmt = sent_audio("openai", audio)

    samples, rate = decode_audio(data)
    assert (fmt, rate, samples.shape[1]) == ("wav", 16_000, 1)
    assert len(samples) == 8_000
    assert audio.conversions_for("openai") == [
        "converted AAC in M4A → 16-bit PCM WAV (the target does not accept it)",
        "skipped the first 0.25 s (start=)",
        "downmixed 2 channels to mono",
        "resampled 44,100 Hz → 16,000 Hz",
        "cut at end=0.75 s",
    ]


def test_mono_is_the_mean_of_the_channels(fixtures_dir: Path) -> None:
    source = soundfile.read(fixtures_dir / "tone_extensible.wav", dtype="int16")[0].astype(int)
    data, _ = sent_audio("openai", Audio(fixtures_dir / "tone_extensible.wav", mono=True))
    sent = soundfile.read(io.BytesIO(data), dtype="int16")[0]
    np.testing.assert_array_equal(sent, np.rint((source[:, 0] + source[:, 1]) / 2))


def test_trimming_keeps_the_right_samples(fixtures_dir: Path) -> None:
    source, _ = decode_audio((fixtures_dir / "tone.wav").read_bytes())
    data, _ = sent_audio("openai", Audio(fixtures_dir / "tone.wav", start=0.1, end=0.4))
    sent, _ = decode_audio(data)
    np.testing.assert_array_equal(sent, source[1_600:6_400])


@pytest.mark.parametrize(("fmt", "mime"), [("mp3", "audio/mpeg"), ("flac", "audio/flac")])
def test_format_option_writes_that_format(fmt: str, mime: str, fixtures_dir: Path) -> None:
    audio = Audio(fixtures_dir / "tone_vorbis.ogg", format=fmt)

    data, declared = sent_audio("bytez", audio)

    assert (sniff(data), declared) == (mime, mime)
    samples, rate = decode_audio(data)
    assert (rate, samples.shape[1]) == (22_050, 2)
    assert abs(len(samples) / rate - 1.0) <= TOLERANCE


def test_mp3_at_a_rate_mp3_lacks_is_resampled_and_says_so() -> None:
    samples = np.zeros(37_000, np.int16)
    audio = Audio((samples, 37_000), format="mp3")
    data, fmt = sent_audio("openai", audio)
    assert fmt == "mp3" and decode_audio(data)[1] == 32_000
    assert "resampled 37,000 Hz → 32,000 Hz (MP3 has no 37,000 Hz: 32,000 Hz instead)" in (
        audio.conversions_for("openai")
    )


def test_a_format_the_target_refuses_names_what_it_takes(fixtures_dir: Path) -> None:
    audio = Audio(fixtures_dir / "tone.wav", format="flac")
    with pytest.raises(UnsupportedFormatError, match=r"format='flac' .* takes wav, mp3"):
        mmkit.to_openai([Message.user([audio])])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": 0.5, "end": 0.5}, "end=0.5 is not after start=0.5"),
        ({"start": -1}, "start"),
        ({"sample_rate": 10}, "sample_rate"),
        ({"format": "ogg"}, "format"),
        ({"max_duration": 0}, "max_duration"),
        ({"speed": 2}, "unknown keyword speed=2; options are sample_rate, mono, format"),
        ({"samplerate": 8000}, r"unknown keyword samplerate=8000; did you mean sample_rate=\?"),
        ({"sampling_rate": 16000}, r"keyword sampling_rate=16000; did you mean sample_rate=\?"),
    ],
)
def test_bad_options_are_refused_by_name(
    options: dict[str, Any], message: str, fixtures_dir: Path
) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        Audio(fixtures_dir / "tone.wav", **options)


# --- (samples, rate) ---------------------------------------------------------------------------


def test_int16_samples_are_sent_bit_exact() -> None:
    rng = np.random.default_rng(7)
    samples = rng.integers(-32768, 32767, size=(4_000, 2), dtype=np.int16)
    audio = Audio((samples, 8_000))
    assert (audio.sample_rate, audio.channels, audio.duration) == (8_000, 2, 0.5)

    data, fmt = sent_audio("openai", audio)

    assert fmt == "wav" and audio.conversions == []
    sent, _ = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=True)
    np.testing.assert_array_equal(sent, samples)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ((np.zeros(100, np.uint8), 8_000), "dtype uint8"),
        ((np.zeros((2, 48_000), np.float32), 48_000), r"channels × frames: pass samples\.T"),
        ((np.full(10, np.nan, np.float32), 8_000), "NaN"),
        ((np.zeros(0, np.float32), 8_000), "empty"),
        ((np.zeros(10, np.float32), 8_000.5), "integer"),
        (np.zeros(10, np.float32), r"Audio\(\(samples, 16_000\)\)"),
    ],
)
def test_bad_samples_are_refused_with_the_fix(source: Any, message: str) -> None:
    with pytest.raises(mmkit.MmkitError, match=message):
        Audio(source)


def test_float_samples_beyond_full_scale_are_clipped_and_said_so() -> None:
    audio = Audio((np.array([0.5, 1.5, -2.0, 0.0], np.float32), 8_000))
    data, _ = sent_audio("openai", audio)
    sent, _ = soundfile.read(io.BytesIO(data), dtype="int16")
    assert sent.tolist() == [16384, 32767, -32768, 0]
    assert "clipped 2 samples beyond full scale" in audio.conversions_for("openai")


# --- messages ----------------------------------------------------------------------------------


def test_message_builders_take_audio(fixtures_dir: Path) -> None:
    samples = (np.zeros(1_600, np.int16), 16_000)
    one = Message.user("Transcribe", audio=samples)
    many = Message.user("Compare", audios=[fixtures_dir / "tone.wav", samples])
    assert [type(p).__name__ for p in one.content] == ["Text", "Audio"]
    assert len(many.audios) == 2
    with pytest.raises(InvalidOptionError, match="audios= takes a list"):
        Message.user("x", audios=fixtures_dir / "tone.wav")  # type: ignore[arg-type]
    with pytest.raises(
        InvalidMediaError, match=r"^audio bytes \(27 bytes\) has no known audio signature"
    ):
        Message.user("x", audio=b"not audio at all, just text")


def test_audio_part_round_trips_through_json(fixtures_dir: Path) -> None:
    message = Message.user("hi", audio=Audio(fixtures_dir / "tone.flac", end=0.5))
    again = Message.model_validate_json(message.model_dump_json())
    assert again == message
    (part,) = again.audios
    assert part.end == 0.5 and part.sample_rate == 44_100


# --- limits ------------------------------------------------------------------------------------


def lying_flac(claimed_seconds: int, real_seconds: int, rate: int = 8_000) -> bytes:
    """A FLAC whose STREAMINFO claims `claimed_seconds` but whose frames hold `real_seconds` of
    silence (libsndfile stops at the claim; FFmpeg, like the receivers, decodes every frame)."""
    buf = io.BytesIO()
    with soundfile.SoundFile(buf, "w", rate, 1, "PCM_16", format="FLAC") as handle:
        minute = np.zeros(rate * 60, np.int16)
        for _ in range(real_seconds // 60):
            handle.write(minute)
    data = bytearray(buf.getvalue())
    # STREAMINFO follows "fLaC" and a 4-byte block header; its bytes 10..18 end with the
    # 36-bit total sample count.
    packed = int.from_bytes(data[18:26], "big")
    packed = (packed & ~((1 << 36) - 1)) | (claimed_seconds * rate)
    data[18:26] = packed.to_bytes(8, "big")
    return bytes(data)


def test_a_header_claiming_1_s_over_30_minutes_is_cut_at_the_cap_in_bounded_memory() -> None:
    data = lying_flac(claimed_seconds=1, real_seconds=1_800)
    assert soundfile.info(io.BytesIO(data)).duration == 1.0  # what the header claims
    audio = Audio(data)
    assert audio.duration == 1.0  # the probe reports the claim; limits never use it

    tracemalloc.start()
    try:
        with pytest.raises(MediaTooLargeError, match=r"holds more than 600 s .*max_duration="):
            mmkit.to_hf([Message.user([audio])])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 600 s decoded at once would be 19 MB as float32, 38 MB as float64: blocks stay small.
    assert peak < 4 * 1024 * 1024


def test_the_duration_cap_is_settable(fixtures_dir: Path) -> None:
    with pytest.raises(MediaTooLargeError, match=r"more than 0\.5 s"):
        sent_audio("openai", Audio(fixtures_dir / "tone.wav", max_duration=0.5))
    sent_audio("openai", Audio(fixtures_dir / "tone.wav", max_duration=1.0))


def test_a_target_duration_limit_names_end_and_chunks(fixtures_dir: Path) -> None:
    limits = AudioLimits(max_duration=0.5)
    with pytest.raises(MediaTooLargeError, match=r"target's 0.5-second limit.*end=.*chunks"):
        sent_audio("openai", Audio(fixtures_dir / "tone.wav"), audio=limits)


def test_over_the_byte_limit_wav_falls_back_to_mp3_and_says_so(fixtures_dir: Path) -> None:
    limits = AudioLimits(max_bytes=20_000)  # tone.wav is 32,044 bytes
    audio = Audio(fixtures_dir / "tone.wav")

    data, fmt = sent_audio("openai", audio, audio=limits)

    assert fmt == "mp3" and len(data) <= 20_000
    assert audio.conversions_for("openai") == [
        "converted 16-bit PCM WAV → MP3 (over the target's 20,000 bytes)",
        "encoded as MP3 to fit 20,000 bytes",
    ]


def test_what_cannot_fit_names_the_limit_and_the_options(fixtures_dir: Path) -> None:
    limits = AudioLimits(max_bytes=1_000)
    with pytest.raises(
        MediaTooLargeError,
        match=r"more than 1,000 bytes .* as WAV or MP3; .*end=.*sample_rate=.*mono=True",
    ):
        sent_audio("openai", Audio(fixtures_dir / "tone.wav"), audio=limits)


# --- chunks ------------------------------------------------------------------------------------


def test_chunks_cover_the_audio_in_order(fixtures_dir: Path) -> None:
    source, _ = decode_audio((fixtures_dir / "tone.wav").read_bytes())
    audio = Audio(fixtures_dir / "tone.wav")

    pieces = list(audio.chunks(0.4, overlap=0.1))

    spans = [p.origin.rsplit("[", 1)[1] for p in pieces]
    assert spans == ["0.0–0.4 s]", "0.3–0.7 s]", "0.6–1.0 s]"]
    decoded = [decode_audio(sent_audio("openai", p)[0])[0] for p in pieces]
    assert [len(d) for d in decoded] == [6_400, 6_400, 6_400]
    np.testing.assert_array_equal(decoded[1], source[4_800:11_200])


def test_chunks_of_a_compressed_file_are_wav_and_say_so(fixtures_dir: Path) -> None:
    pieces = list(Audio(fixtures_dir / "tone_id3.mp3").chunks(0.3))
    assert [round(p.duration or 0, 2) for p in pieces] == [0.3, 0.3, 0.3, 0.1]
    assert all(p.mime == "audio/wav" and p.channels == 2 for p in pieces)
    assert pieces[0].conversions == ["decoded to 16-bit PCM WAV to cut it"]


@pytest.mark.parametrize(("seconds", "overlap"), [(0, 0), (1, 1), (1, -0.5)])
def test_bad_chunk_sizes_are_refused(seconds: float, overlap: float, fixtures_dir: Path) -> None:
    with pytest.raises(InvalidOptionError):
        next(Audio(fixtures_dir / "tone.wav").chunks(seconds, overlap))


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"plain text, not audio", "no known audio signature"),
        ((b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "looks like image/png"),
        (b"fLaC" + b"\0" * 60, "cannot be decoded"),
        (b"ID3\x04\0\0\0\0\0\0" + b"\xff" * 30, "cannot be decoded"),
    ],
)
def test_bad_bytes_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(InvalidMediaError, match=message):
        sent_audio("openai", Audio(data))


def test_truncated_audio_is_refused_or_sent_shorter(fixtures_dir: Path) -> None:
    whole = (fixtures_dir / "tone_aac.m4a").read_bytes()
    with pytest.raises(InvalidMediaError, match="cannot be decoded"):
        Audio(whole[: len(whole) // 2])  # the sample tables are at the end


# --- parsing: dicts are data -------------------------------------------------------------------


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def test_from_openai_reads_input_audio_and_audio_url(fixtures_dir: Path) -> None:
    wav = fixtures_dir / "tone.wav"
    (message,) = mmkit.from_openai(
        [
            {
                "role": "user",
                "content": [
                    {"type": "input_audio", "input_audio": {"data": b64(wav), "format": "wav"}},
                    {"type": "audio_url", "audio_url": {"url": "https://example.com/a.mp3"}},
                    {"type": "audio_url", "audio_url": f"data:audio/wav;base64,{b64(wav)}"},
                ],
            }
        ]
    )
    inline, by_url, by_data_uri = message.audios
    assert inline.data == wav.read_bytes() and inline.sample_rate == 16_000
    assert by_url.url == "https://example.com/a.mp3" and by_url.data is None
    assert by_data_uri.data == wav.read_bytes()


def test_input_audio_format_is_checked_against_the_bytes(fixtures_dir: Path) -> None:
    part = {"type": "input_audio", "input_audio": {"data": b64(fixtures_dir / "tone.wav")}}
    with pytest.raises(InvalidOptionError, match="'wav' or 'mp3'"):
        mmkit.from_openai([{"role": "user", "content": [part]}])
    part["input_audio"]["format"] = "mp3"  # type: ignore[index]
    (message,) = mmkit.from_openai([{"role": "user", "content": [part]}])
    assert message.audios[0].conversions == [
        "declared type audio/mpeg corrected to audio/wav (from the bytes)"
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "FIXTURE", "format": "wav"}},
        {"type": "audio_url", "audio_url": {"url": "FIXTURE"}},
        {"type": "audio_url", "audio_url": {"url": "file://FIXTURE"}},
    ],
)
def test_openai_dicts_never_read_local_files(part: dict[str, Any], fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "tone.wav")
    filled = json.loads(json.dumps(part).replace("FIXTURE", path))
    with pytest.raises(BlockedURLError, match="local_files=True"):
        mmkit.from_openai([{"role": "user", "content": [filled]}])
    (message,) = mmkit.from_openai([{"role": "user", "content": [filled]}], local_files=True)
    assert message.audios[0].data == (fixtures_dir / "tone.wav").read_bytes()


def test_hf_audio_path_needs_local_files(fixtures_dir: Path) -> None:
    item = {"role": "user", "content": [{"type": "audio", "path": str(fixtures_dir / "tone.wav")}]}
    with pytest.raises(BlockedURLError):
        mmkit.from_hf([item])
    (message,) = mmkit.from_hf([item], local_files=True)
    assert message.audios[0].codec == "pcm16"


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_bytez_and_hf_parts_parse_back_to_the_same_audio(name: str, fixtures_dir: Path) -> None:
    messages = [Message.user("Transcribe", audio=fixtures_dir / name)]
    assert mmkit.from_bytez(mmkit.to_bytez(messages)) == messages
    (again,) = mmkit.from_hf(mmkit.to_hf(messages))
    assert again.audios[0].sample_rate == (FIXTURES[name][2] if name in HF_AS_IS else 16_000)


def test_openai_round_trip_of_what_passes_as_is(fixtures_dir: Path) -> None:
    messages = [Message.user("Transcribe", audios=[fixtures_dir / n for n in OPENAI_AS_IS])]
    assert mmkit.from_openai(mmkit.to_openai(messages)) == messages


# --- sent through the transport to the local server --------------------------------------------

# What the server says it heard for each fixture, in FIXTURES order of names (sorted).
HEARD = {
    "tone.aiff": "audio 0.5 s 22.05 kHz mono",
    "tone.flac": "audio 1.0 s 44.1 kHz mono",
    "tone.wav": "audio 1.0 s 16 kHz mono",
    "tone_aac.m4a": "audio 1.0 s 44.1 kHz stereo",
    "tone_adts.aac": "audio 1.0 s 48 kHz mono",
    "tone_bare.mp3": "audio 1.0 s 48 kHz mono",
    "tone_extensible.wav": "audio 0.5 s 16 kHz stereo",
    "tone_float32.wav": "audio 1.0 s 8 kHz stereo",
    "tone_id3.mp3": "audio 1.0 s 44.1 kHz stereo",
    "tone_opus.ogg": "audio 1.0 s 48 kHz mono",
    "tone_opus.webm": "audio 1.0 s 48 kHz stereo",
    "tone_vorbis.ogg": "audio 1.0 s 22.05 kHz stereo",
}


@pytest.mark.parametrize("route", ["openai", "bytez", "compatible"])
def test_every_fixture_is_sent_and_heard_by_the_local_server(
    route: str, server: RunningServer, fixtures_dir: Path
) -> None:
    names = sorted(FIXTURES)
    messages = [Message.user("Transcribe", audios=[fixtures_dir / name for name in names])]
    model, base_url = {
        "openai": ("openai/gpt-4o-audio", f"{server.base_url}/v1"),
        "bytez": ("bytez/openai/whisper-large-v3", server.base_url),
        "compatible": ("my-audio-model", f"{server.base_url}/v1"),
    }[route]

    with Client(model, base_url=base_url, api_key="k") as client:
        reply = client.chat(messages, max_tokens=200)

    assert reply.text == "; ".join(['text "Transcribe"', *(HEARD[name] for name in names)])


def test_the_server_refuses_audio_that_holds_more_than_its_cap(server: RunningServer) -> None:
    flac = lying_flac(claimed_seconds=1, real_seconds=660)
    part = {"type": "audio", "base64": "data:audio/flac;base64," + b64_bytes(flac)}
    response = httpx.post(
        f"{server.base_url}/models/v2/openai/whisper",
        json={"messages": [{"role": "user", "content": [part]}]},
        timeout=60,
    )
    assert response.status_code == 400
    assert "holds more than 600 s" in response.json()["error"]


def b64_bytes(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_a_header_cut_where_libsndfile_seeks_before_the_start_is_a_plain_error(
    fixtures_dir: Path,
) -> None:
    # tone.aiff cut after 22 bytes makes libsndfile seek to -1; an in-memory file that raised
    # there escaped through soundfile's callback (an unraisable exception, an error here)
    cut = (fixtures_dir / "tone.aiff").read_bytes()[:22]
    with pytest.raises(mmkit.MmkitError) as raised:
        Audio(cut)
    assert str(raised.value) == (
        "audio bytes (22 bytes) cannot be decoded as audio (Invalid data found when processing "
        "input); re-export or re-download it"
    )
