"""Captioning benchmark: `mmkit caption` against the plain ways, on the same images, same run.

2,000 generated images (mixed sizes; a third are 2400×1800 photos that need downscaling to
--max-side 1024), sent to the local conformance server running in its own process:

1. a plain sequential loop: read, downscale with Pillow when too big, base64, post (httpx.Client);
2. plain asyncio.gather at the same concurrency: the same steps in each coroutine, one
   httpx.AsyncClient (the encoding runs on the event loop, as such scripts do);
3. `mmkit caption` (the command, in a child process) with the same concurrency.

Target: mmkit ≥ 1.5× the asyncio version's items/s on two cores. Then memory: peak RSS of the
`mmkit caption` process for 2,000 and for 20,000 small images (same size each), within 1.2×.
(The encoding workers are children of the forkserver, so their RSS is not in this number; each
holds one item at a time.)

Run: .venv/bin/python bench/bench_caption.py [--items N] [--many N]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import server_process
from PIL import Image as PILImage
from PIL import ImageFilter

CONCURRENCY = 16
MAX_SIDE = 1024
PROMPT = "Describe this image in one sentence."
ROUTE = "/v1/chat/completions"


# --- the images -----------------------------------------------------------------------------------


def make_images(folder: Path, count: int, mixed: bool) -> None:
    """Photo-like images (smooth gradients with noise, so JPEG sizes are realistic), each unique.
    mixed: a third 2400×1800 JPEGs (downscaled to 1024), the rest 320×240 to 900×675, JPEG and
    PNG; else all 96×72 PNGs."""
    folder.mkdir(parents=True)
    draw = random.Random(5)
    bases: dict[tuple[int, int], PILImage.Image] = {}

    def base(size: tuple[int, int]) -> PILImage.Image:
        if size not in bases:
            noise = PILImage.effect_noise(size, 40).convert("RGB")
            gradient = PILImage.linear_gradient("L").resize(size).convert("RGB")
            bases[size] = PILImage.blend(gradient, noise, 0.3).filter(ImageFilter.SMOOTH)
        return bases[size]

    for n in range(count):
        if not mixed:
            size, kind = (96, 72), "png"
        elif n % 3 == 0:
            size, kind = (2400, 1800), "jpg"
        else:
            width = draw.choice((320, 480, 640, 900))
            size, kind = (width, width * 3 // 4), draw.choice(("jpg", "png"))
        im = base(size).copy()
        im.paste((n % 251, n * 7 % 253, n * 13 % 255), (0, 0, 8, 8))  # every file unique
        im.save(folder / f"{n:06d}.{kind}", quality=90, compress_level=1)


# --- the plain ways -------------------------------------------------------------------------------


def plain_body(path: Path) -> bytes:
    """Read; downscale with Pillow if a side is over MAX_SIDE; base64; the JSON body."""
    data = path.read_bytes()
    mime = "image/png" if data[:4] == b"\x89PNG" else "image/jpeg"
    with PILImage.open(io.BytesIO(data)) as im:
        if max(im.size) > MAX_SIDE:
            im.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            im.convert("RGB").save(out, "JPEG", quality=85)
            data, mime = out.getvalue(), "image/jpeg"
    uri = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    content = [{"type": "text", "text": PROMPT}, {"type": "image_url", "image_url": {"url": uri}}]
    body = {"model": "bench", "messages": [{"role": "user", "content": content}]}
    return json.dumps(body).encode()


def plain_sequential(base: str, paths: list[Path]) -> float:
    started = time.perf_counter()
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=base, timeout=120) as client:
        for path in paths:
            client.post(ROUTE, content=plain_body(path), headers=headers).raise_for_status()
    return len(paths) / (time.perf_counter() - started)


def plain_asyncio(base: str, paths: list[Path]) -> float:
    async def main() -> None:
        gate = asyncio.Semaphore(CONCURRENCY)
        headers = {"Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:

            async def one(path: Path) -> None:
                async with gate:
                    body = plain_body(path)
                    (await client.post(ROUTE, content=body, headers=headers)).raise_for_status()

            await asyncio.gather(*(one(p) for p in paths))

    started = time.perf_counter()
    asyncio.run(main())
    return len(paths) / (time.perf_counter() - started)


# --- mmkit caption --------------------------------------------------------------------------------

_CHILD = f"""
import sys, time, json
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from harness import peak_kib
from mmkit.cli import main
started = time.perf_counter()
status = main(sys.argv[1:])
elapsed = time.perf_counter() - started
print(json.dumps({{"status": status, "elapsed": elapsed,
    "rss_mb": peak_kib() / 1024}}))
"""


def mmkit_caption(base: str, folder: Path, count: int, out: Path) -> dict[str, float]:
    command = [
        sys.executable, "-c", _CHILD, "caption", str(folder), "--model", "bench",
        "--base-url", f"{base}/v1", "--out", str(out), "--concurrency", str(CONCURRENCY),
        "--max-side", str(MAX_SIDE), "--prompt", PROMPT, "--progress-every", "3600",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    lines = out.read_text().count("\n")
    if lines != count or '"error"' in out.read_text():
        raise SystemExit(f"mmkit caption wrote {lines} records for {count} items, or errors")
    result["items_per_s"] = count / result["elapsed"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--many", type=int, default=20000)
    parser.add_argument("--sequential", type=int, default=500, help="items for the slow loop")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mmkit-bench-caption-"))
    try:
        started = time.perf_counter()
        make_images(work / "mixed", args.items, mixed=True)
        paths = sorted((work / "mixed").iterdir())
        mb = sum(p.stat().st_size for p in paths) / 2**20
        big = sum(1 for p in paths if int(p.stem) % 3 == 0)
        print(
            f"{args.items:,} images, {mb:.0f} MB, {big:,} of them 2400×1800 (downscaled to "
            f"{MAX_SIDE}); made in {time.perf_counter() - started:.1f} s; {os.cpu_count()} cores"
        )
        with server_process() as base:
            plain_asyncio(base, paths[:50])  # warm the server and the page cache
            seq = plain_sequential(base, paths[: args.sequential])
            print(f"plain sequential loop ({args.sequential:,} items): {seq:7.1f} items/s")
            rounds = []
            for n in range(2):  # interleaved: asyncio, mmkit, asyncio, mmkit
                a = plain_asyncio(base, paths)
                m = mmkit_caption(base, work / "mixed", args.items, work / f"out{n}.jsonl")
                rounds.append((a, m["items_per_s"]))
                print(
                    f"round {n + 1}: plain asyncio.gather {a:7.1f} items/s | mmkit caption "
                    f"{m['items_per_s']:7.1f} items/s (peak RSS {m['rss_mb']:.0f} MB)"
                )
            a = sum(r[0] for r in rounds) / len(rounds)
            m_rate = sum(r[1] for r in rounds) / len(rounds)
            print(
                f"mmkit caption vs plain asyncio.gather: {m_rate / a:.2f}× (target ≥ 1.5×); "
                f"vs the sequential loop: {m_rate / seq:.2f}×"
            )

            make_images(work / "small", args.items, mixed=False)
            make_images(work / "many", args.many, mixed=False)
            few = mmkit_caption(base, work / "small", args.items, work / "few.jsonl")
            many = mmkit_caption(base, work / "many", args.many, work / "many.jsonl")
            print(
                f"peak RSS of mmkit caption: {args.items:,} small images {few['rss_mb']:.0f} MB "
                f"({few['items_per_s']:.0f} items/s), {args.many:,} small images "
                f"{many['rss_mb']:.0f} MB ({many['items_per_s']:.0f} items/s) -> "
                f"{many['rss_mb'] / few['rss_mb']:.2f}× (target ≤ 1.2×)"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    main()
