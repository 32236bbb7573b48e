"""What each model family does to media, as data: one entry a family, every number with its
source. A new model is one entry here; the rule kinds live in rules.py and timed.py.

Processor numbers are the model's preprocessor_config.json values, as transformers' image
processors (transformers 5.x, models/<family>/image_processing_*.py) apply them; API numbers
are the provider's documentation. Checked against them on 2026-12-04.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mmkit.models.rules import (
    AnyRes,
    AreaBudget,
    FixedSize,
    GeminiTiles,
    ImageRule,
    OpenAIPatches,
    OpenAITiles,
    PatchFit,
    SmartResize,
    Tiles,
)
from mmkit.models.timed import (
    AudioRule,
    PerSecondAudio,
    PerSecondVideo,
    QwenVideo,
    VideoRule,
    WhisperAudio,
)

HF = "https://huggingface.co"
TF = "https://github.com/huggingface/transformers/blob/main/src/transformers/models"


@dataclass(frozen=True)
class Family:
    """One model family: the ids it matches and what it does to each kind of media.

    `patterns` are regular expressions matched (whole, case-insensitively) against the model
    name after its provider and organisation prefixes (`bytez/google/gemma-3-4b-it` is tried as
    itself, `google/gemma-3-4b-it` and `gemma-3-4b-it`). A kind of media the family takes no
    rule for is None."""

    name: str
    patterns: tuple[str, ...]
    image: ImageRule | None
    sources: tuple[str, ...]
    video: VideoRule | None = None
    audio: AudioRule | None = None
    compiled: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pats = tuple(re.compile(p, re.IGNORECASE) for p in self.patterns)
        object.__setattr__(self, "compiled", pats)

    def matches(self, name: str) -> bool:
        return any(p.fullmatch(name) for p in self.compiled)


# Qwen2-VL and Qwen2.5-VL share every image number: patch_size 14, merge_size 2,
# min_pixels 3136, max_pixels 12845056 (preprocessor_config.json of both).
_QWEN_IMAGE = SmartResize(patch=14, merge=2, min_pixels=3136, max_pixels=12845056, max_ratio=200)
# qwen-vl-utils 0.0.14's video constants: FPS 2, FRAME_FACTOR 2, FPS_MIN_FRAMES 4,
# FPS_MAX_FRAMES 768, VIDEO_MIN/MAX_TOKEN_NUM 128/768 (x 28*28 pixels a frame), and
# fetch_video's total_pixels MODEL_SEQ_LEN*28*28*0.9 with MODEL_SEQ_LEN 128000.
_QWEN_VIDEO = QwenVideo(
    fps=2.0,
    frame_factor=2,
    min_frames=4,
    max_frames=768,
    factor=28,
    min_pixels=128 * 28 * 28,
    max_pixels=768 * 28 * 28,
    total_pixels=128000 * 28 * 28 * 0.9,
)
_QWEN_SOURCES = (
    f"{HF}/Qwen/Qwen2.5-VL-7B-Instruct/blob/main/preprocessor_config.json",
    f"{HF}/Qwen/Qwen2-VL-7B-Instruct/blob/main/preprocessor_config.json",
    f"{TF}/qwen2_vl/image_processing_qwen2_vl.py (smart_resize)",
    "https://github.com/QwenLM/Qwen2-VL/blob/main/qwen-vl-utils/src/qwen_vl_utils/vision_process.py",
)

# LLaVA-NeXT (llava-v1.6-*): image_grid_pinpoints, crop_size 336, patch 14; the processor
# counts base 24*24 features + 1 CLS, and the "default" feature strategy drops one: extra 0.
_LLAVA_NEXT_PINPOINTS = ((336, 672), (672, 336), (672, 672), (1008, 336), (336, 1008))

FAMILIES: tuple[Family, ...] = (
    Family(
        name="Qwen2.5-VL",
        patterns=(r"qwen2\.5-vl-.*",),
        image=_QWEN_IMAGE,
        video=_QWEN_VIDEO,
        sources=_QWEN_SOURCES,
    ),
    Family(
        name="Qwen2-VL",
        patterns=(r"qwen2-vl-.*",),
        image=_QWEN_IMAGE,
        video=_QWEN_VIDEO,
        sources=_QWEN_SOURCES,
    ),
    Family(
        name="Gemma 3",
        # gemma-3-1b is text only: only the 4b, 12b and 27b take images.
        patterns=(r"gemma-3-(4b|12b|27b)(-(it|pt))?",),
        # size 896x896 (stretched, no crop), image_seq_length 256, do_pan_and_scan off.
        image=FixedSize(896, 896, 256),
        sources=(
            f"{HF}/google/gemma-3-4b-it/blob/main/preprocessor_config.json",
            f"{HF}/google/gemma-3-4b-it/blob/main/processor_config.json",
            f"{TF}/gemma3/image_processing_pil_gemma3.py",
        ),
    ),
    Family(
        name="Pixtral",
        patterns=(r"pixtral-12b(-2409)?",),
        # size.longest_edge 1024, patch_size 16; tokens rows*(cols+1) ([IMG_BREAK] a row).
        image=PatchFit(longest_edge=1024, patch=16),
        sources=(
            f"{HF}/mistral-community/pixtral-12b/blob/main/preprocessor_config.json",
            f"{TF}/pixtral/image_processing_pil_pixtral.py",
            f"{TF}/pixtral/processing_pixtral.py",
        ),
    ),
    Family(
        name="LLaVA-NeXT",
        patterns=(r"llava-v1\.6-.*",),
        image=AnyRes(pinpoints=_LLAVA_NEXT_PINPOINTS, tile=336, patch=14, extra_tokens=0),
        sources=(
            f"{HF}/llava-hf/llava-v1.6-mistral-7b-hf/blob/main/preprocessor_config.json",
            f"{TF}/llava_next/image_processing_pil_llava_next.py",
            f"{TF}/llava_next/processing_llava_next.py (_get_number_of_features)",
        ),
    ),
    Family(
        name="LLaVA-1.5",
        patterns=(r"llava-1\.5-.*",),
        # CLIP: shortest_edge 336 then a 336x336 centre crop; (336/14)^2 = 576 features.
        image=FixedSize(336, 336, 576, crop=True),
        sources=(
            f"{HF}/llava-hf/llava-1.5-7b-hf/blob/main/preprocessor_config.json",
            f"{TF}/llava/processing_llava.py",
        ),
    ),
    Family(
        name="Idefics3",
        patterns=(r"idefics3-.*",),
        # size.longest_edge 1456 (4*364), max_image_size 364, image_seq_len 169.
        image=Tiles(longest_edge=1456, tile=364, tile_tokens=169, max_side=4096),
        sources=(
            f"{HF}/HuggingFaceM4/Idefics3-8B-Llama3/blob/main/preprocessor_config.json",
            f"{TF}/idefics3/image_processing_pil_idefics3.py",
            f"{TF}/idefics3/processing_idefics3.py",
        ),
    ),
    Family(
        name="SmolVLM",
        patterns=(r"smolvlm-instruct", r"smolvlm2-2\.2b-instruct"),
        # size.longest_edge 1536 (4*384), max_image_size 384, image_seq_len 81.
        image=Tiles(longest_edge=1536, tile=384, tile_tokens=81, max_side=4096),
        sources=(
            f"{HF}/HuggingFaceTB/SmolVLM-Instruct/blob/main/preprocessor_config.json",
            f"{HF}/HuggingFaceTB/SmolVLM-Instruct/blob/main/processor_config.json",
            f"{TF}/smolvlm/image_processing_pil_smolvlm.py",
        ),
    ),
    Family(
        name="OpenAI patch models (mini, 1.62)",
        patterns=(r"gpt-4\.1-mini(-\d{4}-\d\d-\d\d)?", r"gpt-5-mini(-\d{4}-\d\d-\d\d)?"),
        image=OpenAIPatches(multiplier=1.62),
        sources=("https://platform.openai.com/docs/guides/images-vision#calculating-costs",),
    ),
    Family(
        name="OpenAI patch models (nano, 2.46)",
        patterns=(r"gpt-4\.1-nano(-\d{4}-\d\d-\d\d)?", r"gpt-5-nano(-\d{4}-\d\d-\d\d)?"),
        image=OpenAIPatches(multiplier=2.46),
        sources=("https://platform.openai.com/docs/guides/images-vision#calculating-costs",),
    ),
    Family(
        name="OpenAI patch models (o4-mini, 1.72)",
        patterns=(r"o4-mini(-\d{4}-\d\d-\d\d)?",),
        image=OpenAIPatches(multiplier=1.72),
        sources=("https://platform.openai.com/docs/guides/images-vision#calculating-costs",),
    ),
    Family(
        name="OpenAI tile models (85 + 170 a tile)",
        patterns=(
            r"gpt-4o(-\d{4}-\d\d-\d\d)?",
            r"chatgpt-4o-latest",
            r"gpt-4\.1(-\d{4}-\d\d-\d\d)?",
            r"gpt-4\.5-preview(-\d{4}-\d\d-\d\d)?",
        ),
        image=OpenAITiles(base=85, per_tile=170),
        sources=("https://platform.openai.com/docs/guides/images-vision#calculating-costs",),
    ),
    Family(
        name="OpenAI tile models (o1, o3: 75 + 150 a tile)",
        patterns=(r"o1(-pro)?(-\d{4}-\d\d-\d\d)?", r"o3(-\d{4}-\d\d-\d\d)?"),
        image=OpenAITiles(base=75, per_tile=150),
        sources=("https://platform.openai.com/docs/guides/images-vision#calculating-costs",),
    ),
    Family(
        name="OpenAI tile models (gpt-4o-mini: 2833 + 5667 a tile)",
        patterns=(r"gpt-4o-mini(-\d{4}-\d\d-\d\d)?",),
        image=OpenAITiles(base=2833, per_tile=5667),
        sources=("https://platform.openai.com/docs/guides/images-vision#calculating-costs",),
    ),
    Family(
        name="Anthropic Claude",
        patterns=(r"claude-(3|3-5|3-7|3\.5|3\.7)-.*", r"claude-(opus|sonnet|haiku)-4.*"),
        # Long edge 1568, the recommended 1.15 MP (under which the API resizes nothing);
        # tokens = width*height/750 (the docs' examples round up: 200x200 is ~54).
        image=AreaBudget(max_side=1568, max_pixels=1_150_000, pixels_per_token=750),
        sources=(
            "https://docs.anthropic.com/en/docs/build-with-claude/vision#evaluate-image-size",
        ),
    ),
    Family(
        name="Gemini 1.5 / 2.x",
        patterns=(r"gemini-(1\.5|2\.0|2\.5)-.*",),
        # 258 tokens when both sides <= 384, else 258 a 768x768 tile (the docs do not say how
        # tiles are cut: mmkit counts ceil(w/768)*ceil(h/768)); video 263/s at 1 fps, audio 32/s.
        image=GeminiTiles(small_side=384, tile=768, per_tile=258),
        video=PerSecondVideo(fps=1.0, tokens_per_second=263),
        audio=PerSecondAudio(tokens_per_second=32),
        sources=(
            "https://ai.google.dev/gemini-api/docs/tokens#multimodal-tokens",
            "https://ai.google.dev/gemini-api/docs/video-understanding",
            "https://geminibyexample.com/027-calculate-input-tokens/",
        ),
    ),
    Family(
        name="Qwen2-Audio",
        patterns=(r"qwen2-audio-7b(-instruct)?",),
        image=None,
        # WhisperFeatureExtractor: sampling_rate 16000, chunk_length 30, hop_length 160;
        # processing_qwen2_audio counts (((mel - 1)//2 + 1) - 2)//2 + 1 tokens.
        audio=WhisperAudio(sample_rate=16000, window_seconds=30, hop=160),
        sources=(
            f"{HF}/Qwen/Qwen2-Audio-7B-Instruct/blob/main/preprocessor_config.json",
            f"{TF}/whisper/feature_extraction_whisper.py",
            f"{TF}/qwen2_audio/processing_qwen2_audio.py",
        ),
    ),
)
