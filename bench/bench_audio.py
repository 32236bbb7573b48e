"""Audio conversion benchmark: mmkit against the plain way, same input, same run.

A 10-minute 44.1 kHz stereo MP3 (128 kbit/s, a two-tone signal with noise) is made here, then
converted to 16 kHz mono 16-bit WAV two ways, in interleaved rounds, each measurement in a fresh
child process so that its peak memory (ru_maxrss) is its own:

- plain: `soundfile.read` of the whole file (float64, as soundfile returns by default), a
  downmix, `soxr.resample` of the whole signal (the same resampler, same quality), and
  `soundfile.write` of 16-bit WAV: what a careful user writes by hand, with no checks.
- mmkit: `Audio(data, sample_rate=16_000, mono=True).encoded(...)`: probe, streamed decode in
  blocks (PyAV), downmix, streamed soxr resampling and WAV writing, duration cap, recorded
  conversions.

Prints each round, the medians, and the ratios. Targets: mmkit's peak memory at most half of the
plain way's, its time no worse than 1.1×. A baseline child (imports and the file's bytes, no
conversion) shows what every process holds before converting.

Run: .venv/bin/python bench/bench_audio.py
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
from harness import peak_kib

RATE = 44_100
SECONDS = 600
PIECE = 30  # seconds encoded once; the file is this piece's MP3 frames repeated
TARGET_RATE = 16_000
ROUNDS = 5


def make_mp3(path: Path) -> None:
    """A 10-minute stereo MP3: 30 s encoded with libmp3lame (no tag, no Xing header), its frames
    repeated 20 times (a valid stream: decoders read frame after frame)."""
    import av

    rng = np.random.default_rng(3)
    t = np.arange(PIECE * RATE) / RATE
    left = 0.3 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 0.03, t.size)
    right = 0.3 * np.sin(2 * np.pi * 660 * t) + rng.normal(0, 0.03, t.size)
    planar = np.ascontiguousarray(np.stack([left, right]).astype(np.float32))
    buf = io.BytesIO()
    options = {"id3v2_version": "0", "write_xing": "0"}
    with av.open(buf, mode="w", format="mp3", options=options) as container:
        stream = container.add_stream("libmp3lame", rate=RATE, layout="stereo")
        stream.codec_context.bit_rate = 128_000
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = RATE, 0, Fraction(1, RATE)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    path.write_bytes(buf.getvalue() * (SECONDS // PIECE))


def plain(data: bytes) -> bytes:
    import soundfile
    import soxr

    samples, rate = soundfile.read(io.BytesIO(data))
    mono = samples.mean(axis=1)
    resampled = soxr.resample(mono, rate, TARGET_RATE, quality="HQ")
    out = io.BytesIO()
    soundfile.write(out, resampled, TARGET_RATE, format="WAV", subtype="PCM_16")
    return out.getvalue()


def with_mmkit(data: bytes) -> bytes:
    import mmkit
    from mmkit.media.audio import AudioLimits

    audio = mmkit.Audio(data, sample_rate=TARGET_RATE, mono=True, max_duration=SECONDS + 60)
    sent = audio.encoded(AudioLimits(accepts=frozenset(), writes=("wav",), max_bytes=None))
    return sent.data


def child(approach: str, path: str) -> None:
    """One measurement: read the file, convert it (or not, for the baseline), report."""
    import soundfile

    data = Path(path).read_bytes()
    start = time.perf_counter()
    out = {"plain": plain, "mmkit": with_mmkit}[approach](data) if approach != "baseline" else b""
    elapsed = time.perf_counter() - start
    seconds = soundfile.info(io.BytesIO(out)).duration if out else 0.0
    peak = peak_kib()
    print(json.dumps({"time": elapsed, "peak_mb": peak / 1024, "seconds": seconds}))


def measure(approach: str, path: Path) -> dict[str, float]:
    # Every child imports the same libraries first, so that their memory counts for all alike.
    prelude = "import av, numpy, soundfile, soxr, mmkit, mmkit.media.audio; "
    code = f"{prelude}import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
    code += f"import bench_audio; bench_audio.child({approach!r}, {str(path)!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.mp3"
        made = time.perf_counter()
        make_mp3(path)
        print(
            f"input: {SECONDS} s 44.1 kHz stereo MP3, {path.stat().st_size / 1e6:.1f} MB "
            f"(made in {time.perf_counter() - made:.1f} s) -> 16 kHz mono 16-bit WAV"
        )
        base = measure("baseline", path)
        print(f"baseline child (imports + file bytes): {base['peak_mb']:.0f} MB")
        runs: dict[str, list[dict[str, float]]] = {"plain": [], "mmkit": []}
        for index in range(ROUNDS):
            order = ("plain", "mmkit") if index % 2 == 0 else ("mmkit", "plain")
            for approach in order:
                result = measure(approach, path)
                runs[approach].append(result)
                print(
                    f"round {index + 1} {approach:>5}: {result['time']:.2f} s, peak "
                    f"{result['peak_mb']:.0f} MB, output {result['seconds']:.2f} s of audio"
                )
    medians = {
        name: (
            statistics.median(r["time"] for r in results),
            statistics.median(r["peak_mb"] for r in results),
        )
        for name, results in runs.items()
    }
    (plain_time, plain_peak), (mmkit_time, mmkit_peak) = medians["plain"], medians["mmkit"]
    print(f"median plain: {plain_time:.2f} s, peak {plain_peak:.0f} MB")
    print(f"median mmkit: {mmkit_time:.2f} s, peak {mmkit_peak:.0f} MB")
    print(
        f"mmkit / plain: time {mmkit_time / plain_time:.2f}× (target ≤ 1.1×), peak memory "
        f"{mmkit_peak / plain_peak:.2f}× (target ≤ 0.5×); above the baseline "
        f"{(mmkit_peak - base['peak_mb']) / (plain_peak - base['peak_mb']):.2f}×"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
