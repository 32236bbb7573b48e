"""Image encoding and import-time benchmark: mmkit against the plain way, same input, same run.

1. A 12-megapixel photo-like JPEG made here, encoded to a JPEG data URI with max_side=1024:
   `mmkit.Image(p, max_side=1024)` vs PIL open → convert("RGB") → resize(LANCZOS) → save → base64.
   Prints both times, the speed ratio (target ≥ 2.5×) and the PSNR between the two outputs
   (target ≥ 30 dB).
2. `import mmkit` over a bare interpreter (target ≤ 250 ms), and that av, soundfile and numpy
   are not imported by it.

Run: .venv/bin/python bench/bench_image.py
"""

from __future__ import annotations

import base64
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

import mmkit
from mmkit.formats.base import data_uri

WIDTH, HEIGHT = 4000, 3000
MAX_SIDE = 1024
QUALITY = 85
ROUNDS = 7


def make_photo(path: Path) -> None:
    """Smooth gradients, shapes and sensor-like noise: compresses like a real photo."""
    rng = np.random.default_rng(12)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    r = 120 + 80 * np.sin(x / 370.0) + 30 * np.cos(y / 211.0)
    g = 100 + 90 * np.sin((x + y) / 523.0)
    b = 140 + 70 * np.cos(y / 300.0 - x / 900.0)
    rgb = np.stack([r, g, b], axis=-1)
    rgb += rng.normal(0, 6, size=rgb.shape).astype(np.float32)
    pixels = PILImage.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    pixels.save(path, format="JPEG", quality=90)


def mmkit_way(path: Path) -> str:
    image = mmkit.Image(path, max_side=MAX_SIDE, quality=QUALITY)
    encoded = image.encoded()
    assert encoded.mime == "image/jpeg"
    return data_uri(encoded.mime, encoded.data)


def plain_way(path: Path) -> str:
    with PILImage.open(path) as im:
        rgb = im.convert("RGB")
    scale = MAX_SIDE / max(rgb.size)
    size = (round(rgb.width * scale), round(rgb.height * scale))
    small = rgb.resize(size, PILImage.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def decode_uri(uri: str) -> np.ndarray:
    data = base64.b64decode(uri.split(",", 1)[1])
    with PILImage.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def timed(fn: object, path: Path) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(ROUNDS):
        start = time.perf_counter()
        out = fn(path)  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def import_time() -> tuple[float, float, list[str]]:
    def best(code: str) -> float:
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            runs.append(time.perf_counter() - start)
        return min(runs)

    bare = best("pass")
    with_mmkit = best("import mmkit")
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, mmkit; print(' '.join(m for m in ('av', 'soundfile', 'numpy', 'httpx')"
            " if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return bare, with_mmkit, probe.stdout.split()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo-12mp.jpg"
        make_photo(path)
        print(
            f"input: {WIDTH}×{HEIGHT} JPEG, {path.stat().st_size:,} bytes; "
            f"target max_side={MAX_SIDE}, quality {QUALITY}; median of {ROUNDS}"
        )
        mmkit_way(path), plain_way(path)  # warm both paths' imports and caches
        plain_s, plain_out = timed(plain_way, path)
        ours_s, ours_out = timed(mmkit_way, path)
    a, b = decode_uri(ours_out), decode_uri(plain_out)
    print(
        f"plain PIL+base64 : {plain_s * 1000:7.1f} ms  → {b.shape[1]}×{b.shape[0]}, "
        f"{len(plain_out):,} chars"
    )
    print(
        f"mmkit Image      : {ours_s * 1000:7.1f} ms  → {a.shape[1]}×{a.shape[0]}, "
        f"{len(ours_out):,} chars"
    )
    ratio = plain_s / ours_s
    quality = psnr(a, b) if a.shape == b.shape else float("nan")
    print(f"speed ratio      : {ratio:.2f}× (target ≥ 2.5×)  {'OK' if ratio >= 2.5 else 'MISS'}")
    print(
        f"PSNR vs plain    : {quality:.1f} dB (target ≥ 30 dB)  {'OK' if quality >= 30 else 'MISS'}"
    )

    bare, with_mmkit, loaded = import_time()
    extra_ms = (with_mmkit - bare) * 1000
    heavy = [m for m in loaded if m != "httpx"]
    print(
        f"import mmkit     : {extra_ms:.0f} ms over a bare interpreter (target ≤ 250 ms)  "
        f"{'OK' if extra_ms <= 250 else 'MISS'}"
    )
    print(
        f"loaded at import : {', '.join(loaded) or 'none of av, soundfile, numpy, httpx'}  "
        f"{'OK' if not heavy else 'MISS'}"
    )


if __name__ == "__main__":
    main()
