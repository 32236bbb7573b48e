"""Write tests/data/model_table.json: what each model's own processor makes of an image size.

Runs transformers' image processors (the PIL/numpy backends, no torch) built with each model's
published preprocessor_config.json values, written out below (no hub download: no network),
over sizes from 16x16 to 8000x8000 and aspect ratios up to 1:50, and records (model, input size)
-> (processor output size, tokens). Token counts come from the processor's own outputs and
the counting code of transformers' processing_<model>.py. For the API models (OpenAI, Claude,
Gemini) there is no processor: their rows are the documentation's worked examples, written out
with the page they come from.

Qwen video rows come from qwen-vl-utils' own fetch_video (the helper Qwen's model cards use to
read a video), pinned at QWEN_VL_UTILS below: its smart_nframes picks the frame count at 2 fps,
its per-frame pixel bounds and smart_resize pick the frame size, and transformers'
Qwen2VLVideoProcessor.get_num_of_video_patches counts the tokens (/ merge_size^2, as
processing_qwen2_vl does). Only decoding and pixel resizing are left out: the reader handed to
fetch_video reports a video of the row's frame count, fps and size (frames of zeros, expanded,
so an hour of 4K costs no memory), and the resize returns a tensor of the size fetch_video
asked for. qwen-vl-utils and transformers' video processor import torchvision at the top, and
PyPI's torchvision does not import beside the torch wheel used here: torchvision is replaced by
a stub module in sys.modules (InterpolationMode and a size-only resize), which the pure
functions called here never touch otherwise.

Run it in its own environment, never in the project's venv (torch stays out of `make test`):

    python3 -m venv /work/tblenv
    /work/tblenv/bin/pip install transformers pillow numpy torch==2.13.0 qwen-vl-utils==0.0.14
    /work/tblenv/bin/python tools/model_table.py
"""

from __future__ import annotations

import datetime
import enum
import importlib.metadata
import json
import logging
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import transformers
from PIL import Image
from transformers import (
    CLIPImageProcessorPil,
    Gemma3ImageProcessorPil,
    Idefics3ImageProcessorPil,
    LlavaNextImageProcessorPil,
    PixtralImageProcessorPil,
    Qwen2VLImageProcessorPil,
    SmolVLMImageProcessorPil,
    WhisperFeatureExtractor,
)
from transformers.image_processing_utils import select_best_resolution
from transformers.models.llava_next.processing_llava_next import LlavaNextProcessor
from transformers.models.pixtral.image_processing_pil_pixtral import _num_image_tokens

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "model_table.json"
HF = "https://huggingface.co"

# Each model's preprocessor_config.json values (and processor_config.json's token counts).
CONFIGS: dict[str, dict[str, Any]] = {
    "Qwen/Qwen2-VL-7B-Instruct": {
        "source": f"{HF}/Qwen/Qwen2-VL-7B-Instruct/blob/main/preprocessor_config.json",
        "min_pixels": 3136,
        "max_pixels": 12845056,
        "patch_size": 14,
        "merge_size": 2,
        "temporal_patch_size": 2,
    },
    "Qwen/Qwen2.5-VL-7B-Instruct": {
        "source": f"{HF}/Qwen/Qwen2.5-VL-7B-Instruct/blob/main/preprocessor_config.json",
        "min_pixels": 3136,
        "max_pixels": 12845056,
        "patch_size": 14,
        "merge_size": 2,
        "temporal_patch_size": 2,
    },
    "google/gemma-3-4b-it": {
        "source": f"{HF}/google/gemma-3-4b-it/blob/main/preprocessor_config.json",
        "size": {"height": 896, "width": 896},
        "do_pan_and_scan": False,
        "image_seq_length": 256,
    },
    "mistral-community/pixtral-12b": {
        "source": f"{HF}/mistral-community/pixtral-12b/blob/main/preprocessor_config.json",
        "size": {"longest_edge": 1024},
        "patch_size": {"height": 16, "width": 16},
    },
    "llava-hf/llava-1.5-7b-hf": {
        "source": f"{HF}/llava-hf/llava-1.5-7b-hf/blob/main/preprocessor_config.json",
        "size": {"shortest_edge": 336},
        "crop_size": {"height": 336, "width": 336},
        "patch_size": 14,
        "vision_feature_select_strategy": "default",
        "num_additional_image_tokens": 1,
    },
    "llava-hf/llava-v1.6-mistral-7b-hf": {
        "source": f"{HF}/llava-hf/llava-v1.6-mistral-7b-hf/blob/main/preprocessor_config.json",
        "size": {"shortest_edge": 336},
        "crop_size": {"height": 336, "width": 336},
        "image_grid_pinpoints": [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]],
        "patch_size": 14,
        "vision_feature_select_strategy": "default",
        "num_additional_image_tokens": 1,
    },
    "HuggingFaceM4/Idefics3-8B-Llama3": {
        "source": f"{HF}/HuggingFaceM4/Idefics3-8B-Llama3/blob/main/preprocessor_config.json",
        "size": {"longest_edge": 1456},
        "max_image_size": {"longest_edge": 364},
        "image_seq_len": 169,
    },
    "HuggingFaceTB/SmolVLM-Instruct": {
        "source": f"{HF}/HuggingFaceTB/SmolVLM-Instruct/blob/main/preprocessor_config.json",
        "size": {"longest_edge": 1536},
        "max_image_size": {"longest_edge": 384},
        "image_seq_len": 81,
    },
    "Qwen/Qwen2-Audio-7B-Instruct": {
        "source": f"{HF}/Qwen/Qwen2-Audio-7B-Instruct/blob/main/preprocessor_config.json",
        "sampling_rate": 16000,
        "chunk_length": 30,
        "hop_length": 160,
        "feature_size": 128,
    },
}


def sizes() -> list[tuple[int, int]]:
    """Squares from 16 to 8000, common photo and screen sizes, and ratios up to 1:50 both ways."""
    out = {(s, s) for s in (16, 17, 100, 224, 336, 364, 384, 500, 512, 768, 896, 1000, 1024)}
    out |= {(s, s) for s in (1092, 1456, 1536, 1568, 2048, 3584, 4000, 8000)}
    out |= {(4032, 3024), (3024, 4032), (1920, 1080), (1080, 1920), (641, 479), (333, 777)}
    out |= {(4000, 3000), (1800, 2400), (6000, 4000), (8000, 6000), (5000, 8000)}
    # LLaVA-NeXT counts a 4163x2861 photo 98 tokens under its own 672x462 resize
    out |= {(4163, 2861), (672, 462), (714, 3036), (238, 1008)}
    for ratio in (2, 3, 5, 10, 20, 50):
        for long in (800, 2000, 8000):
            short = max(16, long // ratio)
            out |= {(long, short), (short, long)}
    return sorted(out)


def image(width: int, height: int) -> Image.Image:
    # Real pixels (a gradient), not a blank: the processors see an ordinary photo-like image.
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None, None]
    return Image.fromarray(np.broadcast_to((x // 2 + y // 2), (height, width, 3)).copy())


FAST = {"do_rescale": False, "do_normalize": False}  # sizes only: skip the float maths


def qwen(im: Image.Image, cfg: dict[str, Any]) -> tuple[int, int, int]:
    p = Qwen2VLImageProcessorPil(
        size={"shortest_edge": cfg["min_pixels"], "longest_edge": cfg["max_pixels"]},
        patch_size=cfg["patch_size"],
        merge_size=cfg["merge_size"],
        temporal_patch_size=cfg["temporal_patch_size"],
        **FAST,
    )
    _, gh, gw = (int(v) for v in p(im)["image_grid_thw"][0])
    # processing_qwen2_vl: one token a merge_size^2 block of the grid
    return gw * cfg["patch_size"], gh * cfg["patch_size"], gh * gw // cfg["merge_size"] ** 2


def gemma3(im: Image.Image, cfg: dict[str, Any]) -> tuple[int, int, int]:
    p = Gemma3ImageProcessorPil(size=cfg["size"], do_pan_and_scan=cfg["do_pan_and_scan"], **FAST)
    h, w = p(im)["pixel_values"][0].shape[-2:]
    return int(w), int(h), cfg["image_seq_length"]


def pixtral(im: Image.Image, cfg: dict[str, Any]) -> tuple[int, int, int]:
    p = PixtralImageProcessorPil(size=cfg["size"], patch_size=cfg["patch_size"], **FAST)
    h, w = (int(v) for v in p(im)["image_sizes"][0])
    ph, pw = cfg["patch_size"]["height"], cfg["patch_size"]["width"]
    rows, cols = _num_image_tokens((h, w), (ph, pw))
    # processing_pixtral: a row of [IMG] tokens then [IMG_BREAK]; the last break is [IMG_END]
    return w, h, rows * (cols + 1)


def llava15(im: Image.Image, cfg: dict[str, Any]) -> tuple[int, int, int]:
    p = CLIPImageProcessorPil(size=cfg["size"], crop_size=cfg["crop_size"], **FAST)
    h, w = p(im)["pixel_values"][0].shape[-2:]
    side = cfg["crop_size"]["height"] // cfg["patch_size"]
    # processing_llava: patches + CLS, minus one under the "default" feature strategy
    tokens = side * side + cfg["num_additional_image_tokens"] - 1
    return int(w), int(h), tokens


def llava_next(im: Image.Image, cfg: dict[str, Any]) -> tuple[int, int, int]:
    p = LlavaNextImageProcessorPil(
        size=cfg["size"],
        crop_size=cfg["crop_size"],
        image_grid_pinpoints=cfg["image_grid_pinpoints"],
        **FAST,
    )
    arr = np.asarray(im).transpose(2, 0, 1)
    best = select_best_resolution((im.height, im.width), cfg["image_grid_pinpoints"])
    resized = p._resize_for_patching(arr, best, resample=None)  # what the grid tiles are cut from
    h, w = resized.shape[-2:]
    proc = types.SimpleNamespace(
        image_processor=p,
        patch_size=cfg["patch_size"],
        num_additional_image_tokens=cfg["num_additional_image_tokens"],
    )
    proc._get_unpadded_features = types.MethodType(LlavaNextProcessor._get_unpadded_features, proc)
    side = cfg["crop_size"]["height"]
    feats = LlavaNextProcessor._get_number_of_features(proc, im.height, im.width, side, side)
    if cfg["vision_feature_select_strategy"] == "default":
        feats -= 1
    return int(w), int(h), int(feats)


def idefics(im: Image.Image, cfg: dict[str, Any], cls: type) -> tuple[int, int, int]:
    p = cls(size=cfg["size"], max_image_size=cfg["max_image_size"], **FAST)
    out = p(im, return_row_col_info=True)
    rows, cols = int(out["rows"][0][0]), int(out["cols"][0][0])
    tile = cfg["max_image_size"]["longest_edge"]
    # processing_idefics3: image_seq_len tokens a tile, plus the global image when split
    tiles = rows * cols + 1 if rows * cols else 1
    return max(cols, 1) * tile, max(rows, 1) * tile, tiles * cfg["image_seq_len"]


Runner = Callable[[Any, dict[str, Any]], tuple[int, int, int]]


def image_rows() -> list[dict[str, Any]]:
    runners: dict[str, Runner] = {
        "Qwen/Qwen2.5-VL-7B-Instruct": qwen,
        "google/gemma-3-4b-it": gemma3,
        "mistral-community/pixtral-12b": pixtral,
        "llava-hf/llava-1.5-7b-hf": llava15,
        "llava-hf/llava-v1.6-mistral-7b-hf": llava_next,
        "HuggingFaceM4/Idefics3-8B-Llama3": lambda im, c: idefics(im, c, Idefics3ImageProcessorPil),
        "HuggingFaceTB/SmolVLM-Instruct": lambda im, c: idefics(im, c, SmolVLMImageProcessorPil),
    }
    rows = []
    for w, h in sizes():
        im = image(w, h)
        for model, run in runners.items():
            ow, oh, tokens = run(im, CONFIGS[model])
            rows.append({"model": model, "input": [w, h], "output": [ow, oh], "tokens": tokens})
        print(f"{w}x{h}", file=sys.stderr)
    return rows


def audio_rows() -> list[dict[str, Any]]:
    cfg = CONFIGS["Qwen/Qwen2-Audio-7B-Instruct"]
    fe = WhisperFeatureExtractor(
        feature_size=cfg["feature_size"],
        sampling_rate=cfg["sampling_rate"],
        hop_length=cfg["hop_length"],
        chunk_length=cfg["chunk_length"],
    )
    rows = []
    for seconds in (0.5, 1.0, 2.37, 10.0, 29.99, 30.0, 45.0, 600.0):
        n = round(seconds * cfg["sampling_rate"])
        wave = np.sin(np.arange(n) / 10.0).astype(np.float32)
        out = fe(
            wave,
            sampling_rate=cfg["sampling_rate"],
            return_attention_mask=True,
            padding="max_length",
        )
        mel = int(np.asarray(out["attention_mask"]).sum())
        # processing_qwen2_audio: num_audio_tokens
        tokens = (((mel - 1) // 2 + 1) - 2) // 2 + 1
        rows.append(
            {"model": "Qwen/Qwen2-Audio-7B-Instruct", "duration": seconds, "tokens": tokens}
        )
    return rows


QWEN_VL_UTILS = "0.0.14"
QWEN_VIDEO_MODELS = ("Qwen/Qwen2-VL-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct")


def video_durations() -> list[float]:
    """0.5 s to 2 h, with the edges of smart_nframes and of the per-frame pixel budget."""
    return [
        *(0.5, 1.0, 1.5, 2.0, 2.5),  # the 4-frame floor; at 1 fps, too few frames
        *(3.0, 3.5, 4.9, 5.0, 7.3),  # 2 fps gives an odd count: floored to a pair
        *(10.0, 60.0, 149.9, 150.0, 151.0, 200.0),  # the total budget shared past 300 frames
        *(383.9, 384.0, 384.5, 600.0, 3600.0, 7200.0),  # the 768-frame cap
    ]


VIDEO_FPS = (23.976, 25.0, 30.0, 60.0, 1.0)
# tiny, 640x480, 720p, 1080p, 4K, portrait, very wide (24:1) and the 200:1 ratio limit
VIDEO_SIZES = (
    (96, 64),
    (640, 480),
    (1280, 720),
    (1920, 1080),
    (3840, 2160),
    (1080, 1920),
    (3840, 160),
    (4000, 20),
)


class _InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _stub_torchvision() -> None:
    """torchvision as a stub: the names qwen-vl-utils and transformers import, and a resize
    that only makes a tensor of the asked size (all that fetch_video's output is read for)."""
    import torch  # type: ignore[import-not-found]  # only in /work/tblenv

    def resize(video: Any, size: list[int], **_: Any) -> Any:
        t, c = video.shape[:2]
        return torch.zeros(1, c, *size).expand(t, c, *size)  # float: .float() copies nothing

    def module(name: str, **attrs: Any) -> types.ModuleType:
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        sys.modules[name] = mod
        return mod

    modes = {"InterpolationMode": _InterpolationMode}
    module("torchvision", __version__="0.0.0+stub")
    module("torchvision.io")
    module("torchvision.transforms", **modes)
    module("torchvision.transforms.functional", resize=resize, **modes)
    module("torchvision.transforms.v2")
    module("torchvision.transforms.v2.functional", **modes)
    for name in list(sys.modules):  # each submodule an attribute of its parent, as imports do
        parent, _, child = name.rpartition(".")
        if name.startswith("torchvision.") and parent in sys.modules:
            setattr(sys.modules[parent], child, sys.modules[name])


def video_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(rows, provenance): qwen-vl-utils' fetch_video and the processor's count, a row each
    (model, duration, fps, size); a clip too short for smart_nframes records its error."""
    import transformers.video_processing_utils  # noqa: F401  (before the stub: see docstring)

    assert "MODEL_SEQ_LEN" not in os.environ, "MODEL_SEQ_LEN changes qwen-vl-utils' pixel budget"
    _stub_torchvision()
    import torch
    from qwen_vl_utils import vision_process as vp  # type: ignore[import-not-found]
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

    version = importlib.metadata.version("qwen-vl-utils")
    assert version == QWEN_VL_UTILS, f"qwen-vl-utils {version}; the table pins {QWEN_VL_UTILS}"
    assert vp.get_video_reader_backend() == "torchvision"  # the reader replaced below
    source: dict[str, Any] = {}

    def reader(ele: dict[str, Any]) -> tuple[Any, dict[str, Any], float]:
        # _read_video_torchvision without the decoding: smart_nframes on the stream's counts
        total, fps, (w, h) = source["total_frames"], source["fps"], source["size"]
        nframes = vp.smart_nframes(ele, total_frames=total, video_fps=fps)
        video = torch.zeros(1, 3, h, w, dtype=torch.uint8).expand(nframes, 3, h, w)
        return video, {"fps": fps, "total_num_frames": total}, nframes / max(total, 1e-6) * fps

    vp.VIDEO_READER_BACKENDS["torchvision"] = reader
    logging.getLogger(vp.__name__).setLevel(logging.ERROR)  # its 1-fps "nframes > total" notes
    rows = []
    for model in QWEN_VIDEO_MODELS:
        cfg = CONFIGS[model]
        processor = Qwen2VLVideoProcessor(
            size={"shortest_edge": cfg["min_pixels"], "longest_edge": cfg["max_pixels"]},
            patch_size=cfg["patch_size"],
            merge_size=cfg["merge_size"],
            temporal_patch_size=cfg["temporal_patch_size"],
        )
        for seconds in video_durations():
            for fps in VIDEO_FPS:
                for w, h in VIDEO_SIZES:
                    # the decoder's frame count for `seconds` at `fps` (mmkit's plan_video input)
                    total = round(seconds * fps)
                    source.update(total_frames=total, fps=fps, size=(w, h))
                    row: dict[str, Any] = {
                        "model": model,
                        "duration": seconds,
                        "fps": fps,
                        "input": [w, h],
                        "total_frames": total,
                    }
                    try:
                        video = vp.fetch_video(
                            {"video": "row.mp4", "fps": vp.FPS},
                            image_patch_size=cfg["patch_size"],
                        )
                    except ValueError as e:
                        rows.append({**row, "error": f"ValueError: {e}"})
                        continue
                    n, _, oh, ow = (int(v) for v in video.shape)
                    patches = processor.get_num_of_video_patches(n, oh, ow)
                    tokens = patches // cfg["merge_size"] ** 2
                    rows.append({**row, "frames": n, "output": [ow, oh], "tokens": tokens})
    provenance = {
        "qwen-vl-utils": version,
        "torch": torch.__version__,
        "source": "qwen_vl_utils/vision_process.py: fetch_video, smart_nframes, smart_resize",
        "fetch_video": {"fps": vp.FPS},
        "constants": {
            name: getattr(vp, name)
            for name in (
                "FPS",
                "FRAME_FACTOR",
                "FPS_MIN_FRAMES",
                "FPS_MAX_FRAMES",
                "VIDEO_MIN_TOKEN_NUM",
                "VIDEO_MAX_TOKEN_NUM",
                "SPATIAL_MERGE_SIZE",
                "MODEL_SEQ_LEN",
                "MAX_RATIO",
            )
        },
        # fetch_video: total_pixels = MODEL_SEQ_LEN * image_factor^2 * 0.9; per frame
        # max(min(VIDEO_MAX_TOKEN_NUM * f^2, total_pixels / nframes * FRAME_FACTOR),
        #     int(VIDEO_MIN_TOKEN_NUM * f^2 * 1.05)), f = patch_size * SPATIAL_MERGE_SIZE
        "total_pixels": vp.MODEL_SEQ_LEN * 28 * 28 * 0.9,
        "total_frames": "round(duration * fps)",
        "tokens": "Qwen2VLVideoProcessor.get_num_of_video_patches // merge_size**2",
    }
    return rows, provenance


def dump(table: dict[str, Any]) -> str:
    """json indent 1, but a video row a line (there are thousands)."""
    parts = []
    for key, value in table.items():
        if key == "video":
            body = ",\n".join("  " + json.dumps(row) for row in value)
            parts.append(f' "video": [\n{body}\n ]')
        else:
            parts.append(f" {json.dumps(key)}: " + json.dumps(value, indent=1).replace("\n", "\n "))
    return "{\n" + ",\n".join(parts) + "\n}\n"


OPENAI = "https://platform.openai.com/docs/guides/images-vision#calculating-costs"
CLAUDE = "https://docs.anthropic.com/en/docs/build-with-claude/vision#calculate-image-costs"
GEMINI = "https://ai.google.dev/gemini-api/docs/tokens#multimodal-tokens"
GEMINI_EX = "https://geminibyexample.com/027-calculate-input-tokens/"

# The providers' worked examples, as the pages write them. "plan" rows give the size the API
# uses and the tokens; "tokens" rows give the tokens of an image sent at that size.
DOC_ROWS: list[dict[str, Any]] = [
    {
        "model": "gpt-4o",
        "input": [1024, 1024],
        "detail": "high",
        "output": [768, 768],
        "tokens": 765,
        "source": OPENAI,
    },
    {
        "model": "gpt-4o",
        "input": [2048, 4096],
        "detail": "high",
        "output": [768, 1536],
        "tokens": 1105,
        "source": OPENAI,
    },
    {"model": "gpt-4o", "input": [4096, 8192], "detail": "low", "tokens": 85, "source": OPENAI},
    # The patch examples are patch counts (multiplier 1); the models multiply them.
    {
        "model": "patches",
        "input": [1024, 1024],
        "output": [1024, 1024],
        "tokens": 1024,
        "source": OPENAI,
    },
    {
        "model": "patches",
        "input": [1800, 2400],
        "output": [1056, 1408],
        "tokens": 1452,
        "source": OPENAI,
    },
    {"model": "claude-sonnet-4-5", "size": [200, 200], "tokens": 54, "source": CLAUDE},
    {"model": "claude-sonnet-4-5", "size": [1000, 1000], "tokens": 1334, "source": CLAUDE},
    {"model": "claude-sonnet-4-5", "size": [1092, 1092], "tokens": 1590, "source": CLAUDE},
    {"model": "gemini-2.0-flash", "size": [384, 384], "tokens": 258, "source": GEMINI},
    {"model": "gemini-2.0-flash", "size": [600, 400], "tokens": 258, "source": GEMINI_EX},
    {"model": "gemini-2.0-flash", "video_seconds": 10, "tokens": 2630, "source": GEMINI_EX},
    {"model": "gemini-2.0-flash", "audio_seconds": 30, "tokens": 960, "source": GEMINI_EX},
]


def main() -> None:
    videos, video_provenance = video_rows()
    table = {
        "provenance": {
            "generator": "tools/model_table.py",
            "transformers": transformers.__version__,
            "pillow": PIL.__version__,
            "numpy": np.__version__,
            "date": datetime.date.today().isoformat(),
            "configs": CONFIGS,
            "video": video_provenance,
        },
        "images": image_rows(),
        "audio": audio_rows(),
        "video": videos,
        "documented": DOC_ROWS,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump(table))
    print(f"wrote {OUT}: {len(table['images'])} image, {len(videos)} video rows", file=sys.stderr)


if __name__ == "__main__":
    main()
