"""Image encoding and import-time benchmark: mmkit against the plain way, same input, same run.

1. A 12-megapixel photo-like JPEG made here, encoded to a JPEG data URI with max_side=1024, three
   ways in interleaved rounds (each round runs all three, in a rotating order):
   - naive: PIL open → convert("RGB") → resize(LANCZOS) → save → base64 (what transformers and
     qwen-vl-utils do: the full 12 MP decode);
   - best plain Pillow: open → draft (DCT-domain 1/2, 1/4, 1/8 decode) → reduce → one bicubic
     resize → save → base64 (what a careful user writes by hand, with no checks);
   - mmkit: `mmkit.Image(p, max_side=1024).encoded()` → data URI (probe, bomb checks, EXIF,
     format choice, and the same fast decode).
   Prints the medians and both ratios: mmkit at least 2.5× the naive path, and no slower than
   1.1× the best plain-Pillow path (what mmkit's checks may cost); and the PSNR of mmkit's output
   against the naive one (target ≥ 30 dB).
2. `import mmkit` over a bare interpreter (target ≤ 250 ms; bytecode cached, as installed), and
   that av, soundfile and numpy are not imported by it.

Run: .venv/bin/python bench/bench_image.py
"""

from __future__ import annotations

import base64
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

import mmkit
from mmkit.formats.base import data_uri

WIDTH, HEIGHT = 4000, 3000
MAX_SIDE = 1024
QUALITY = 85
ROUNDS = 9


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
    """The naive baseline: a full decode and LANCZOS."""
    with PILImage.open(path) as im:
        rgb = im.convert("RGB")
    scale = MAX_SIDE / max(rgb.size)
    size = (round(rgb.width * scale), round(rgb.height * scale))
    small = rgb.resize(size, PILImage.Resampling.LANCZOS)
    buf = io.BytesIO()
    small.save(buf, format="JPEG", quality=QUALITY)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def best_plain_way(path: Path) -> str:
    """The best plain Pillow: draft, integer reduce to within 2× of the target, one resize."""
    with PILImage.open(path) as im:
        scale = MAX_SIDE / max(im.size)
        size = (round(im.width * scale), round(im.height * scale))
        im.draft("RGB", size)
        rgb = im.convert("RGB")
    factor = min(rgb.width // size[0], rgb.height // size[1]) // 2
    if factor > 1:
        rgb = rgb.reduce(factor)
    small = rgb.resize(size, PILImage.Resampling.BICUBIC)
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


def interleaved(ways: Mapping[str, Callable[[Path], str]], path: Path) -> dict[str, float]:
    """Median seconds of each way over ROUNDS rounds; each round runs every way once, the order
    rotating so no way always runs first (warm caches) or last."""
    names = list(ways)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(ROUNDS):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            start = time.perf_counter()
            ways[name](path)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(runs) for name, runs in times.items()}


def import_time() -> tuple[float, float, list[str]]:
    # Measured with bytecode allowed: an installed package has its .pyc files (pip compiles them),
    # so that is what a user's `import mmkit` costs. With PYTHONDONTWRITEBYTECODE set (as some
    # machines and CI images do), an editable checkout recompiled every mmkit module in every
    # run (40-55 ms more here). The warm run below writes the .pyc files; the timed runs read them.
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}
    subprocess.run([sys.executable, "-c", "import mmkit"], check=True, env=env)

    def best(code: str) -> float:
        runs = []
        for _ in range(7):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
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
        env=env,
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
        ways = {"naive": plain_way, "best": best_plain_way, "mmkit": mmkit_way}
        outputs = {name: way(path) for name, way in ways.items()}  # warm imports and caches
        medians = interleaved(ways, path)
    shapes = {name: decode_uri(uri) for name, uri in outputs.items()}
    labels = {
        "naive": "naive PIL (full decode + LANCZOS)",
        "best": "best plain Pillow (draft+reduce)",
        "mmkit": "mmkit Image",
    }
    for name, label in labels.items():
        pixels = shapes[name]
        print(
            f"{label:34}: {medians[name] * 1000:7.1f} ms  → {pixels.shape[1]}×{pixels.shape[0]}, "
            f"{len(outputs[name]):,} chars"
        )
    naive_ratio = medians["naive"] / medians["mmkit"]
    best_ratio = medians["mmkit"] / medians["best"]
    a, b = shapes["mmkit"], shapes["naive"]
    quality = psnr(a, b) if a.shape == b.shape else float("nan")
    print(
        f"naive / mmkit     : {naive_ratio:.2f}× faster (target ≥ 2.5×)  "
        f"{'OK' if naive_ratio >= 2.5 else 'MISS'}"
    )
    print(
        f"mmkit / best plain: {best_ratio:.2f}× the time (target ≤ 1.1×)  "
        f"{'OK' if best_ratio <= 1.1 else 'MISS'}"
    )
    verdict = "OK" if quality >= 30 else "MISS"
    print(f"PSNR vs naive     : {quality:.1f} dB (target ≥ 30 dB)  {verdict}")

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
