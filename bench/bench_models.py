"""Model-aware encoding benchmark: a 12 MP photo sent to each model family, the generic way
(today's target limits) against the model's rule (`Image(photo, model=M)`), same run.

For each family: the size and bytes sent each way, mmkit's encode time each way (median of
ROUNDS, a fresh part each round: encodings are cached per part), and the model's token cost.
When the table environment exists (/work/tblenv, see tools/model_table.py), also the model's
own processor (transformers' PIL backend, full preprocessing) timed on each of the two images
sent: the work the server saves when it is sent the model's size.

Run: .venv/bin/python bench/bench_models.py
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image as PILImage

import mmkit
from mmkit import Image
from mmkit.formats.openai import TARGET
from mmkit.models import plan_image

ROUNDS = 3
TBLENV = Path("/work/tblenv/bin/python")
TOOLS = Path(__file__).resolve().parent.parent / "tools"
MODELS = [
    "Qwen/Qwen2.5-VL-7B-Instruct",
    "google/gemma-3-4b-it",
    "mistral-community/pixtral-12b",
    "llava-hf/llava-1.5-7b-hf",
    "llava-hf/llava-v1.6-mistral-7b-hf",
    "HuggingFaceM4/Idefics3-8B-Llama3",
    "HuggingFaceTB/SmolVLM-Instruct",
    "gpt-4o",
    "gpt-4.1-mini",
    "claude-sonnet-4-5",
    "gemini-2.0-flash",
]


def photo() -> bytes:
    """A 4032x3024 photo-like JPEG (gradients, texture and noise), quality 90."""
    rng = np.random.default_rng(12)
    x = np.linspace(0, 1, 4032)[None, :]
    y = np.linspace(0, 1, 3024)[:, None]
    channels = [200 * x + 30 * y, 120 + 80 * np.sin(9 * x + 5 * y), 220 * y + 0 * x]
    base = np.stack(np.broadcast_arrays(*channels), axis=-1)
    pixels = (base + rng.normal(0, 12, (3024, 4032, 3))).clip(0, 255).astype(np.uint8)
    buf = io.BytesIO()
    PILImage.fromarray(pixels).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def timed(data: bytes, model: str | None) -> tuple[float, bytes, int, int]:
    """Median encode seconds and the bytes and size sent, for the OpenAI wire target."""
    times = []
    for _ in range(ROUNDS):
        part = Image(data, model=model)
        start = time.perf_counter()
        sent = part.encoded(TARGET.images)
        times.append(time.perf_counter() - start)
    return statistics.median(times), sent.data, sent.width, sent.height


# Runs in the table environment: the processor's full preprocessing on each file, timed.
CHILD = """
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from PIL import Image
import model_table as t
from transformers import LlavaNextImageProcessorPil
jobs = json.loads(sys.argv[2])
t.FAST = {}  # full preprocessing: rescale and normalize too

def llava_next(im, cfg):
    LlavaNextImageProcessorPil(size=cfg["size"], crop_size=cfg["crop_size"],
                               image_grid_pinpoints=cfg["image_grid_pinpoints"])(im)

runners = {
    "Qwen/Qwen2.5-VL-7B-Instruct": t.qwen,
    "google/gemma-3-4b-it": t.gemma3,
    "mistral-community/pixtral-12b": t.pixtral,
    "llava-hf/llava-1.5-7b-hf": t.llava15,
    "llava-hf/llava-v1.6-mistral-7b-hf": llava_next,
    "HuggingFaceM4/Idefics3-8B-Llama3": lambda im, c: t.idefics(im, c, t.Idefics3ImageProcessorPil),
    "HuggingFaceTB/SmolVLM-Instruct": lambda im, c: t.idefics(im, c, t.SmolVLMImageProcessorPil),
}
out = {}
for model, paths in jobs.items():
    row = []
    for path in paths:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            with Image.open(path) as im:
                runners[model](im.convert("RGB"), t.CONFIGS[model])
            times.append(time.perf_counter() - start)
        row.append(statistics.median(times))
    out[model] = row
print(json.dumps(out))
"""


def processor_times(jobs: dict[str, list[str]]) -> dict[str, list[float]]:
    if not TBLENV.exists():
        return {}
    done = subprocess.run(
        [str(TBLENV), "-c", CHILD, str(TOOLS), json.dumps(jobs)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        print(f"processor timing failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return {}
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    data = photo()
    print(f"photo: 4032×3024 JPEG, {len(data):,} bytes; target: OpenAI wire format limits")
    generic_s, generic, gw, gh = timed(data, None)
    rows: list[tuple[str, int, int, int, float, int]] = []
    jobs: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        generic_path = Path(tmp, "generic.jpg")
        generic_path.write_bytes(generic)
        for model in MODELS:
            seconds, sent, w, h = timed(data, model)
            tokens = mmkit.media_tokens(Image(data), model=model)
            path = Path(tmp, f"{len(rows)}.jpg")
            path.write_bytes(sent)
            jobs[model] = [str(generic_path), str(path)]
            rows.append((model, w, h, len(sent), seconds, tokens))
        procs = processor_times({m: p for m, p in jobs.items() if "/" in m})
    print(f"generic: {gw}×{gh}, {len(generic):,} bytes, encode {generic_s * 1000:.0f} ms\n")
    print("bytes ratio: generic bytes / model bytes; tokens: generic image -> model's size")
    head = f"{'model':36} {'sent':>11} {'bytes':>10} {'ratio':>6} {'encode':>7} {'tokens':>14}"
    print(head + f" {'processor: generic -> model':>30}")
    for model, w, h, nbytes, seconds, tokens in rows:
        proc = procs.get(model)
        saved = f"{proc[0] * 1000:8.0f} ms -> {proc[1] * 1000:6.0f} ms" if proc else "-"
        before = plan_image(model, gw, gh).tokens
        print(
            f"{model:36} {f'{w}×{h}':>11} {nbytes:>10,} {len(generic) / nbytes:>5.1f}x "
            f"{seconds * 1000:>5.0f}ms {f'{before} -> {tokens}':>14} {saved:>30}"
        )


if __name__ == "__main__":
    main()
