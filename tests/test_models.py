"""What each model's processor makes of an image, a video or audio, and what it costs: mmkit's
plans against transformers' own processors (tests/data/model_table.json, written by
tools/model_table.py) and against the providers' documented worked examples."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.errors import (
    ConfigError,
    InvalidOptionError,
    MediaTooLargeError,
    UnknownModelError,
    UnsupportedFormatError,
)
from mmkit.models import FAMILIES, lookup, plan_audio, plan_image, plan_video
from mmkit.models.rules import AreaBudget, OpenAIPatches

TABLE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "model_table.json").read_text()
)
TABLE_MODELS = sorted({row["model"] for row in TABLE["images"]})


def test_the_table_covers_every_processor_family_over_the_promised_sizes() -> None:
    assert TABLE_MODELS == [
        "HuggingFaceM4/Idefics3-8B-Llama3",
        "HuggingFaceTB/SmolVLM-Instruct",
        "Qwen/Qwen2.5-VL-7B-Instruct",
        "google/gemma-3-4b-it",
        "llava-hf/llava-1.5-7b-hf",
        "llava-hf/llava-v1.6-mistral-7b-hf",
        "mistral-community/pixtral-12b",
    ]
    inputs = {tuple(row["input"]) for row in TABLE["images"]}
    assert (16, 16) in inputs and (8000, 8000) in inputs
    assert (8000, 160) in inputs and (160, 8000) in inputs  # 1:50 both ways
    assert TABLE["provenance"]["transformers"].startswith("5.")


@pytest.mark.parametrize("model", TABLE_MODELS)
def test_sizes_and_tokens_equal_the_processors_for_every_row(model: str) -> None:
    rows = [row for row in TABLE["images"] if row["model"] == model]
    assert len(rows) == 72
    wrong = []
    for row in rows:
        plan = plan_image(model, *row["input"])
        got = [plan.width, plan.height, plan.tokens]
        if got != [*row["output"], row["tokens"]]:
            wrong.append((row["input"], row["output"], row["tokens"], got))
    assert wrong == []


def test_qwen2_audio_tokens_equal_the_whisper_feature_extractors() -> None:
    rows = TABLE["audio"]
    assert [(r["duration"], r["tokens"]) for r in rows] == [
        (0.5, 12),
        (1.0, 25),
        (2.37, 59),
        (10.0, 250),
        (29.99, 750),
        (30.0, 750),
        (45.0, 750),  # one 30-s window is read: the rest is cut
        (600.0, 750),
    ]
    for row in rows:
        plan = plan_audio(row["model"], row["duration"])
        assert plan.tokens == row["tokens"]
        assert (plan.sample_rate, plan.channels, plan.max_duration) == (16000, 1, 30.0)


def test_openai_tile_models_follow_the_docs_worked_examples() -> None:
    assert plan_image("gpt-4o", 1024, 1024, detail="high") == plan_image("gpt-4o", 1024, 1024)
    big = plan_image("gpt-4o", 1024, 1024)
    assert (big.width, big.height, big.tokens) == (768, 768, 765)
    tall = plan_image("openai/gpt-4o", 2048, 4096, detail="high")
    assert (tall.width, tall.height, tall.tokens) == (768, 1536, 1105)
    assert plan_image("gpt-4o", 4096, 8192, detail="low").tokens == 85
    assert plan_image("gpt-4.1", 4096, 8192, detail="low").tokens == 85
    # o1 and o3 are billed 75 + 150 a tile, gpt-4o-mini 2833 + 5667 a tile (the docs' table).
    assert plan_image("o3", 1024, 1024).tokens == 75 + 4 * 150
    assert plan_image("gpt-4o-mini", 1024, 1024).tokens == 2833 + 4 * 5667


def test_openai_patch_models_follow_the_docs_worked_examples() -> None:
    # The docs' examples count patches; each model multiplies them.
    patches = OpenAIPatches(multiplier=1.0)
    square = patches.plan(1024, 1024)
    assert (square.width, square.height, square.tokens) == (1024, 1024, 1024)
    capped = patches.plan(1800, 2400)
    assert (capped.width, capped.height, capped.tokens) == (1056, 1408, 1452)
    assert plan_image("gpt-4.1-mini", 1024, 1024).tokens == 1659  # 1024 * 1.62 = 1658.88
    assert plan_image("gpt-5-nano", 1024, 1024).tokens == 2520  # 1024 * 2.46 = 2519.04
    assert plan_image("o4-mini", 1800, 2400).tokens == 2498  # 1452 * 1.72 = 2497.44


def test_claude_and_gemini_follow_their_docs_worked_examples() -> None:
    claude = lookup("claude-sonnet-4-5")
    assert claude is not None and isinstance(claude.image, AreaBudget)
    for (w, h), tokens in (((200, 200), 54), ((1000, 1000), 1334), ((1092, 1092), 1590)):
        assert claude.image.tokens(w, h) == tokens
    # A 12 MP photo is brought within the 1568-px edge and 1.15 MP.
    photo = plan_image("anthropic/claude-3-5-sonnet-20241022", 4032, 3024)
    assert (photo.width, photo.height, photo.tokens) == (1238, 928, 1532)
    assert plan_image("gemini-2.0-flash", 384, 384).tokens == 258
    assert plan_image("gemini-2.0-flash", 600, 400).tokens == 258
    assert plan_image("google/gemini-2.5-pro", 1920, 1080).tokens == 3 * 2 * 258
    assert plan_video("gemini-2.0-flash", 10.0, 30.0, 1280, 720).tokens == 2630
    assert plan_audio("gemini-2.0-flash", 30.0).tokens == 960


VIDEO_ROWS: list[dict[str, Any]] = TABLE["video"]


def _video_id(row: dict[str, Any]) -> str:
    w, h = row["input"]
    return f"{row['model'].split('/')[1]}-{row['duration']:g}s-{row['fps']:g}fps-{w}x{h}"


def test_the_video_table_is_qwen_vl_utils_own_over_the_edges_of_its_rules() -> None:
    assert TABLE["provenance"]["video"]["qwen-vl-utils"] == "0.0.14"
    assert {row["model"] for row in VIDEO_ROWS} == {
        "Qwen/Qwen2-VL-7B-Instruct",
        "Qwen/Qwen2.5-VL-7B-Instruct",
    }
    assert len(VIDEO_ROWS) == 1760
    by_input = {(r["model"], r["duration"], r["fps"], *r["input"]): r for r in VIDEO_ROWS}
    # 1 s at 1 fps is a single frame: smart_nframes refuses it
    short = by_input[("Qwen/Qwen2-VL-7B-Instruct", 1.0, 1.0, 640, 480)]
    assert short["error"] == "ValueError: nframes should in interval [2, 1], but got 0."
    # 1.5 s at 30 fps: 3 frames at 2 fps, raised to the 4-frame floor
    assert by_input[("Qwen/Qwen2-VL-7B-Instruct", 1.5, 30.0, 640, 480)]["frames"] == 4
    # 3.5 s at 30 fps: 7 frames at 2 fps, floored to a pair (qwen-vl-utils 0.0.14 floors)
    assert by_input[("Qwen/Qwen2-VL-7B-Instruct", 3.5, 30.0, 640, 480)]["frames"] == 6
    # two hours at 60 fps: capped at 768 frames
    assert by_input[("Qwen/Qwen2.5-VL-7B-Instruct", 7200.0, 60.0, 3840, 2160)]["frames"] == 768


@pytest.mark.parametrize("row", VIDEO_ROWS, ids=_video_id)
def test_qwen_video_plans_equal_qwen_vl_utils_for_every_row(row: dict[str, Any]) -> None:
    args = (row["model"], row["duration"], row["fps"], *row["input"])
    if "error" in row:
        # qwen-vl-utils raises ValueError: too few frames to sample a pair
        with pytest.raises(MediaTooLargeError, match=r"at least 2"):
            plan_video(*args)
        return
    plan = plan_video(*args)
    assert [plan.frames, plan.width, plan.height, plan.tokens] == [
        row["frames"],
        *row["output"],
        row["tokens"],
    ]


def test_qwen_video_samples_two_frames_a_second_in_pairs_within_the_frame_budget() -> None:
    # 10 s of 1080p at 30 fps: 20 frames; each frame within 768*28*28 pixels.
    clip = plan_video("Qwen/Qwen2.5-VL-7B-Instruct", 10.0, 30.0, 1920, 1080)
    assert (clip.frames, clip.width, clip.height, clip.tokens) == (20, 1008, 560, 7200)
    # An hour at 30 fps: capped at 768 frames, each then within the total budget's share:
    # 128000*28*28*0.9 pixels / 768 * 2 = 235200 a frame, and 560x420 is exactly that.
    hour = plan_video("Qwen/Qwen2-VL-7B-Instruct", 3600.0, 30.0, 640, 480)
    assert (hour.frames, hour.width, hour.height, hour.tokens) == (768, 560, 420, 115200)
    # 3 s at 30 fps: 6 frames; 1.5 s: the 4-frame minimum.
    assert plan_video("Qwen/Qwen2-VL-2B-Instruct", 3.0, 30.0, 640, 480).frames == 6
    assert plan_video("Qwen/Qwen2-VL-2B-Instruct", 1.5, 30.0, 640, 480).frames == 4
    # 3.5 s: 7 frames at 2 fps, floored to a pair (qwen-vl-utils 0.0.14 floors)
    assert plan_video("Qwen/Qwen2-VL-2B-Instruct", 3.5, 30.0, 640, 480).frames == 6
    assert plan_video("Qwen/Qwen2-VL-2B-Instruct", 2.5, 30.0, 640, 480).frames == 4
    with pytest.raises(MediaTooLargeError, match=r"1 frames; .* at least 2"):
        plan_video("Qwen/Qwen2-VL-2B-Instruct", 1.0, 1.0, 640, 480)


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("bytez/google/gemma-3-4b-it", "Gemma 3"),
        ("google/gemma-3-27b-it", "Gemma 3"),
        ("openai/gpt-4o", "OpenAI tile models (85 + 170 a tile)"),
        ("gpt-4o-2024-08-06", "OpenAI tile models (85 + 170 a tile)"),
        ("gpt-4o-mini", "OpenAI tile models (gpt-4o-mini: 2833 + 5667 a tile)"),
        ("gpt-4.1-mini", "OpenAI patch models (mini, 1.62)"),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "Qwen2.5-VL"),
        ("qwen/qwen2-vl-72b-instruct", "Qwen2-VL"),
        ("mistralai/Pixtral-12B-2409", "Pixtral"),
        ("llava-hf/llava-v1.6-vicuna-13b-hf", "LLaVA-NeXT"),
        ("llava-hf/llava-1.5-13b-hf", "LLaVA-1.5"),
        ("HuggingFaceTB/SmolVLM2-2.2B-Instruct", "SmolVLM"),
        ("anthropic/claude-opus-4-1", "Anthropic Claude"),
        ("Qwen/Qwen2-Audio-7B-Instruct", "Qwen2-Audio"),
    ],
)
def test_lookup_matches_ids_with_provider_prefixes(model_id: str, family: str) -> None:
    found = lookup(model_id)
    assert found is not None and found.name == family


@pytest.mark.parametrize(
    "model_id",
    ["google/gemma-3-1b-it", "gpt-4o-audio-preview", "my-alias", "Qwen/Qwen3-VL-8B", "", "llava"],
)
def test_an_unknown_model_is_not_guessed(model_id: str) -> None:
    assert lookup(model_id) is None
    with pytest.raises(UnknownModelError, match="no media rule for model") as caught:
        plan_image(model_id, 640, 480)
    assert repr(model_id) in str(caught.value)
    assert "leave model= unset" in str(caught.value)
    assert isinstance(caught.value, ConfigError)
    with pytest.raises(UnknownModelError):
        plan_video(model_id, 1.0, 30.0, 640, 480)
    with pytest.raises(UnknownModelError):
        plan_audio(model_id, 1.0)


def test_media_a_model_does_not_take_is_refused_by_name() -> None:
    with pytest.raises(UnsupportedFormatError, match=r"'google/gemma-3-4b-it' \(Gemma 3\).*video"):
        plan_video("google/gemma-3-4b-it", 1.0, 30.0, 640, 480)
    with pytest.raises(UnsupportedFormatError, match="audio"):
        plan_audio("Qwen/Qwen2.5-VL-7B-Instruct", 1.0)
    with pytest.raises(UnsupportedFormatError, match="image"):
        plan_image("Qwen/Qwen2-Audio-7B-Instruct", 640, 480)


def test_impossible_sizes_and_durations_are_refused() -> None:
    with pytest.raises(InvalidOptionError, match="at least 1x1 pixels, got 0x480"):
        plan_image("google/gemma-3-4b-it", 0, 480)
    with pytest.raises(MediaTooLargeError, match="aspect ratio over 200:1"):
        plan_image("Qwen/Qwen2.5-VL-7B-Instruct", 20100, 100)
    with pytest.raises(InvalidOptionError, match="positive number of seconds"):
        plan_audio("Qwen/Qwen2-Audio-7B-Instruct", 0.0)
    with pytest.raises(InvalidOptionError, match="positive number of seconds"):
        plan_video("gemini-2.0-flash", float("nan"), 30.0, 640, 480)


# Sizes from 16 px to 8000 px a side, aspect ratios up to 1:50.
@st.composite
def sizes(draw: st.DrawFn) -> tuple[int, int]:
    long = draw(st.integers(16, 8000))
    short = draw(st.integers(max(16, math.ceil(long / 50)), long))
    return (long, short) if draw(st.booleans()) else (short, long)


IMAGE_MODELS = [
    "Qwen/Qwen2.5-VL-7B-Instruct",
    "google/gemma-3-4b-it",
    "mistral-community/pixtral-12b",
    "llava-hf/llava-1.5-7b-hf",
    "llava-hf/llava-v1.6-mistral-7b-hf",
    "HuggingFaceM4/Idefics3-8B-Llama3",
    "HuggingFaceTB/SmolVLM-Instruct",
    "gpt-4o",
    "o3",
    "gpt-4.1-mini",
    "claude-sonnet-4-5",
    "gemini-2.0-flash",
]


def test_every_image_family_is_in_the_property_tests() -> None:
    with_images = {f.name for f in FAMILIES if f.image is not None}
    covered = {f.name for m in IMAGE_MODELS if (f := lookup(m)) is not None}
    missing = with_images - covered
    # The other OpenAI entries are the same two rules with other numbers.
    assert sorted(missing) == [
        "OpenAI patch models (nano, 2.46)",
        "OpenAI patch models (o4-mini, 1.72)",
        "OpenAI tile models (gpt-4o-mini: 2833 + 5667 a tile)",
        "Qwen2-VL",
    ]


@settings(max_examples=300, deadline=None)
@given(size=sizes())
def test_sides_stay_within_what_each_model_keeps_and_tokens_follow_its_formula(
    size: tuple[int, int],
) -> None:
    w, h = size
    qwen = plan_image("Qwen/Qwen2.5-VL-7B-Instruct", w, h)
    assert qwen.width % 28 == 0 and qwen.height % 28 == 0
    assert 3136 <= qwen.width * qwen.height <= 12845056
    assert qwen.tokens == (qwen.width // 28) * (qwen.height // 28)

    gemma = plan_image("google/gemma-3-4b-it", w, h)
    assert (gemma.width, gemma.height, gemma.tokens, gemma.crop) == (896, 896, 256, False)

    pixtral = plan_image("mistral-community/pixtral-12b", w, h)
    assert pixtral.width % 16 == 0 and pixtral.height % 16 == 0
    assert max(pixtral.width, pixtral.height) <= 1024
    rows, cols = pixtral.height // 16, pixtral.width // 16
    assert pixtral.tokens == rows * (cols + 1)

    llava = plan_image("llava-hf/llava-1.5-7b-hf", w, h)
    assert (llava.width, llava.height, llava.tokens, llava.crop) == (336, 336, 576, True)

    nxt = plan_image("llava-hf/llava-v1.6-mistral-7b-hf", w, h)
    assert nxt.width <= 1008 and nxt.height <= 1008 and nxt.width * nxt.height <= 672 * 672
    # base 576 + at most a 48x48 grid with its 48 newlines
    assert 576 < nxt.tokens <= 576 + 48 * 48 + 48

    for model, tile, per_tile in (
        ("HuggingFaceM4/Idefics3-8B-Llama3", 364, 169),
        ("HuggingFaceTB/SmolVLM-Instruct", 384, 81),
    ):
        tiles = plan_image(model, w, h)
        assert tiles.width % tile == 0 and tiles.height % tile == 0
        assert max(tiles.width, tiles.height) == 4 * tile
        grid = (tiles.width // tile) * (tiles.height // tile)
        assert tiles.tokens == (grid + 1) * per_tile

    gpt = plan_image("gpt-4o", w, h)
    assert max(gpt.width, gpt.height) <= 2048 and min(gpt.width, gpt.height) <= 768
    assert gpt.tokens == 85 + 170 * math.ceil(gpt.width / 512) * math.ceil(gpt.height / 512)
    o3 = plan_image("o3", w, h)
    assert o3.tokens == 75 + 150 * math.ceil(o3.width / 512) * math.ceil(o3.height / 512)

    mini = plan_image("gpt-4.1-mini", w, h)
    patches = math.ceil(mini.width / 32) * math.ceil(mini.height / 32)
    assert patches <= 1536
    assert mini.tokens == math.ceil(round(patches * 1.62, 6))

    claude = plan_image("claude-sonnet-4-5", w, h)
    assert max(claude.width, claude.height) <= 1568
    assert claude.width * claude.height <= 1_150_000
    assert claude.tokens == math.ceil(claude.width * claude.height / 750)

    gemini = plan_image("gemini-2.0-flash", w, h)
    assert (gemini.width, gemini.height) == (w, h)
    small = w <= 384 and h <= 384
    expected = 258 if small else 258 * math.ceil(w / 768) * math.ceil(h / 768)
    assert gemini.tokens == expected


@pytest.mark.parametrize("model", IMAGE_MODELS)
@settings(max_examples=150, deadline=None)
@given(size=sizes())
def test_the_planned_size_planned_again_is_unchanged(size: tuple[int, int], model: str) -> None:
    """Sending the planned size means the server's processor resizes nothing a second time."""
    plan = plan_image(model, *size)
    again = plan_image(model, plan.width, plan.height)
    assert (again.width, again.height) == (plan.width, plan.height)
    if not model.startswith("llava-hf/llava-v1.6"):
        assert again.tokens == plan.tokens


def test_llava_next_counts_tokens_from_the_size_it_is_sent() -> None:
    """LLaVA-NeXT takes the padding off its grid features by the received image's aspect ratio
    with int() truncation, so the same picture costs more sent at its planned 672x462 than
    at 4163x2861 (both counts are transformers', in the table): count what is sent."""
    model = "llava-hf/llava-v1.6-mistral-7b-hf"
    rows = {tuple(r["input"]): r for r in TABLE["images"] if r["model"] == model}
    assert (rows[(4163, 2861)]["output"], rows[(4163, 2861)]["tokens"]) == ([672, 462], 2144)
    assert (rows[(672, 462)]["output"], rows[(672, 462)]["tokens"]) == ([672, 462], 2242)
    assert plan_image(model, 4163, 2861).tokens == 2144
    assert plan_image(model, 672, 462).tokens == 2242


@settings(max_examples=200, deadline=None)
@given(size=sizes())
def test_shrinking_rules_never_grow_an_image(size: tuple[int, int]) -> None:
    w, h = size
    for model in ("mistral-community/pixtral-12b", "gpt-4o", "gpt-4.1-mini", "claude-opus-4-1"):
        plan = plan_image(model, w, h)
        # Pixtral rounds each side up to whole 16-px patches, never past the next one.
        slack = 15 if model.startswith("mistral") else 0
        assert plan.width <= w + slack and plan.height <= h + slack


@settings(max_examples=200, deadline=None)
@given(
    size=sizes(),
    duration=st.floats(1.0, 7200.0),
    fps=st.sampled_from([10.0, 23.976, 25.0, 30.0, 60.0]),
)
def test_qwen_video_frames_come_in_pairs_within_the_frame_budget(
    size: tuple[int, int], duration: float, fps: float
) -> None:
    plan = plan_video("Qwen/Qwen2.5-VL-7B-Instruct", duration, fps, *size)
    assert plan.frames % 2 == 0 and 4 <= plan.frames <= 768
    assert plan.width % 28 == 0 and plan.height % 28 == 0
    if size[0] * size[1] < 2 * 128 * 28 * 28:
        return  # a tiny frame is scaled up to the minimum, rounding up past the budget
    # qwen-vl-utils' per-frame budget: the total budget (128000*28*28*0.9 pixels in 0.0.14)
    # shared by frame pairs, within bounds
    total = 128000 * 28 * 28 * 0.9
    budget = max(min(768 * 28 * 28, total / plan.frames * 2), int(128 * 28 * 28 * 1.05))
    assert plan.width * plan.height <= budget
    assert plan.tokens == plan.frames // 2 * (plan.width // 28) * (plan.height // 28)


# --- sending: Image(model=), Video(model=), media_tokens, Client, inspect ----------------------


def photo(width: int, height: int) -> bytes:
    """A real JPEG photo-like image (a gradient with noise) of any size."""
    import io

    import numpy as np
    from PIL import Image as PILImage

    rng = np.random.default_rng(7)
    x = np.linspace(0, 255, width)[None, :, None]
    y = np.linspace(0, 255, height)[:, None, None]
    pixels = (x * 0.5 + y * 0.5 + rng.normal(0, 20, (height, width, 3))).clip(0, 255)
    buf = io.BytesIO()
    PILImage.fromarray(pixels.astype("uint8")).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def decoded_size(data: bytes) -> tuple[int, int]:
    import io

    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(data)) as im:
        im.load()
        width, height = im.size
        return int(width), int(height)


PHOTO = photo(1200, 900)


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("Qwen/Qwen2.5-VL-7B-Instruct", (1204, 896)),  # multiples of 28, within its pixels
        ("google/gemma-3-4b-it", (896, 896)),  # stretched, as its processor does
        ("llava-hf/llava-1.5-7b-hf", (448, 336)),  # short side 336: the server only crops
        ("llava-hf/llava-v1.6-mistral-7b-hf", (672, 505)),
        ("mistral-community/pixtral-12b", (1024, 768)),
        ("gpt-4o", (1024, 768)),
        ("claude-sonnet-4-5", (1200, 900)),  # 1.08 MP: within Claude's bound already
        ("HuggingFaceTB/SmolVLM-Instruct", (1200, 900)),  # it grows to 1536: not invented here
    ],
)
def test_an_image_is_encoded_at_its_models_processor_size(
    model: str, size: tuple[int, int]
) -> None:
    from mmkit import Image

    sent = Image(PHOTO, model=model).encoded()
    assert decoded_size(sent.data) == size
    # the server's processor resizes nothing a second time (or only crops, for LLaVA-1.5)
    again = plan_image(model, *size)
    if model.startswith("llava-hf/llava-1.5"):
        assert (again.width, again.height) == (336, 336)
    elif not model.startswith("HuggingFaceTB"):
        assert (again.width, again.height) == size


def test_per_part_limits_win_and_an_unknown_model_changes_nothing() -> None:
    from mmkit import Image

    capped = Image(PHOTO, model="google/gemma-3-4b-it", max_side=512).encoded()
    assert decoded_size(capped.data) == (512, 384)
    few = Image(PHOTO, model="Qwen/Qwen2.5-VL-7B-Instruct", max_pixels=500_000).encoded()
    assert decoded_size(few.data) == (816, 612)
    plain = Image(PHOTO).encoded()
    unknown = Image(PHOTO, model="my-alias").encoded()
    assert unknown.data == plain.data == PHOTO  # passed through untouched, as today


def test_the_receivers_model_applies_and_the_parts_own_model_wins() -> None:
    from mmkit import Image
    from mmkit.media.image import ImageLimits

    receiver = ImageLimits(model="google/gemma-3-4b-it")
    assert decoded_size(Image(PHOTO).encoded(receiver).data) == (896, 896)
    own = Image(PHOTO, model="gpt-4o").encoded(receiver)
    assert decoded_size(own.data) == (1024, 768)


def test_media_tokens_counts_what_is_sent_to_the_model() -> None:
    import mmkit
    from mmkit import Audio, Image, Message, Video

    assert mmkit.media_tokens(Image(PHOTO), model="bytez/google/gemma-3-4b-it") == 256
    # 1024x768 after gpt-4o's resize: 2x2 tiles
    two = [Message.user("compare", images=[Image(PHOTO), Image(PHOTO)]), Message.user("ok")]
    assert mmkit.media_tokens(two, model="gpt-4o") == 2 * (85 + 4 * 170)
    # Qwen2.5-VL at 1204x896: 43 x 32 merged patches
    assert mmkit.media_tokens(Image(PHOTO), model="Qwen/Qwen2.5-VL-7B-Instruct") == 43 * 32
    # the part's own max_side wins: 512x384 -> 18 x 14 (round(512/28), round(384/28))
    small = Image(PHOTO, max_side=512)
    assert mmkit.media_tokens(small, model="Qwen/Qwen2.5-VL-7B-Instruct") == 18 * 14
    # a 1-s 96x64 clip at 10 fps: 4 frames (the minimum) of 392x280 (the per-frame minimum)
    clip = Video(str(Path(__file__).parent.parent / "fixtures" / "clip.mp4"))
    assert mmkit.media_tokens(clip, model="Qwen/Qwen2-VL-7B-Instruct") == 4 // 2 * 14 * 10
    tone = Audio(str(Path(__file__).parent.parent / "fixtures" / "tone.wav"))
    assert tone.duration == 1.0
    assert mmkit.media_tokens(tone, model="Qwen/Qwen2-Audio-7B-Instruct") == 25
    assert mmkit.media_tokens(Message.user("just text"), model="gpt-4o") == 0
    with pytest.raises(mmkit.UnknownModelError, match="'my-alias'"):
        mmkit.media_tokens(Image(PHOTO), model="my-alias")
    with pytest.raises(mmkit.UnknownModelError):
        mmkit.media_tokens(Message.user("just text"), model="my-alias")


def test_a_video_for_qwen_samples_its_frame_count_within_its_frame_pixels() -> None:
    from mmkit import Video

    clip = str(Path(__file__).parent.parent / "fixtures" / "clip.mp4")
    frames = Video(clip, model="Qwen/Qwen2.5-VL-7B-Instruct").sampled()
    assert len(frames) == 4
    assert {f.max_pixels for f in frames} == {392 * 280}
    assert len(Video(clip).sampled()) == 8  # no model: today's default
    assert len(Video(clip, model="Qwen/Qwen2.5-VL-7B-Instruct", frames=2).sampled()) == 2


def test_a_client_encodes_for_the_model_it_names_or_the_media_model_of_an_alias(
    server: Any,
) -> None:
    import mmkit
    from mmkit import Image, Message

    ask = [Message.user("hi", image=Image(PHOTO))]
    base = server.base_url + "/v1"
    with mmkit.Client("google/gemma-3-4b-it", base_url=base, api_key="k") as gemma:
        assert gemma.chat(ask).text == 'text "hi"; image 896×896 JPEG'
    with mmkit.Client("my-alias", base_url=base, api_key="k") as alias:
        assert alias.chat(ask).text == 'text "hi"; image 1200×900 JPEG'
    with mmkit.Client(
        "my-alias", base_url=base, api_key="k", media_model="Qwen/Qwen2.5-VL-7B-Instruct"
    ) as qwen:
        assert qwen.chat(ask).text == 'text "hi"; image 1204×896 JPEG'
        prepared = qwen.builder().build(ask)
        assert qwen.chat(prepared).text == 'text "hi"; image 1204×896 JPEG'
    assert mmkit.Client("bytez/google/gemma-3-4b-it", api_key="k").media_model == (
        "google/gemma-3-4b-it"
    )


def test_inspect_shows_the_size_sent_and_the_models_tokens(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "photo.jpg"
    path.write_bytes(PHOTO)
    run = [sys.executable, "-m", "mmkit.cli", "inspect", str(path), "--model"]
    qwen = subprocess.run(
        [*run, "Qwen/Qwen2.5-VL-7B-Instruct"], capture_output=True, text=True, timeout=60
    )
    assert qwen.returncode == 0, qwen.stderr
    assert "sent to openai: image/jpeg 1204×896" in qwen.stdout
    assert "for Qwen/Qwen2.5-VL-7B-Instruct: sent 1204×896, 1376 tokens" in qwen.stdout
    alias = subprocess.run([*run, "my-alias", "--json"], capture_output=True, text=True, timeout=60)
    record = json.loads(alias.stdout)
    assert record["sent"]["width"] == 1200 and record["sent"]["model_tokens"] is None


def test_a_known_models_rule_replaces_the_wire_formats_pixel_limits() -> None:
    """OpenAI's 2048-px box is a rule of OpenAI's models, not of the OpenAI wire format that
    vLLM also speaks: Qwen behind it gets Qwen's size; the part's own max_side still wins."""
    from mmkit import Image
    from mmkit.formats.openai import TARGET

    assert TARGET.images.max_side == 2048
    big = photo(2400, 1800)
    assert decoded_size(Image(big).encoded(TARGET.images).data) == (2048, 1536)
    qwen = Image(big, model="Qwen/Qwen2.5-VL-7B-Instruct").encoded(TARGET.images)
    assert decoded_size(qwen.data) == (2408, 1792)
    gpt = Image(big, model="gpt-4o").encoded(TARGET.images)
    assert decoded_size(gpt.data) == (1024, 768)
    capped = Image(big, model="Qwen/Qwen2.5-VL-7B-Instruct", max_side=2000)
    assert decoded_size(capped.encoded(TARGET.images).data) == (2000, 1500)


def test_inspect_counts_a_videos_tokens_as_video_or_as_the_frames_sent() -> None:
    import subprocess
    import sys

    clip = str(Path(__file__).parent.parent / "fixtures" / "clip.mp4")
    run = [sys.executable, "-m", "mmkit.cli", "inspect", clip, "--model"]
    qwen = subprocess.run(
        [*run, "Qwen/Qwen2.5-VL-7B-Instruct", "--video", "native"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "for Qwen/Qwen2.5-VL-7B-Instruct (read as video): 280 tokens" in qwen.stdout
    gemma = subprocess.run(
        [*run, "google/gemma-3-4b-it", "--json"], capture_output=True, text=True, timeout=60
    )
    record = json.loads(gemma.stdout)
    assert (record["sent"]["frames"], record["sent"]["model_tokens"]) == (8, 8 * 256)


SMALL = photo(64, 48)


@settings(max_examples=100, deadline=None)
@given(model=st.text(st.characters(codec="ascii"), max_size=40))
def test_an_id_mmkit_does_not_know_changes_nothing_sent(model: str) -> None:
    from mmkit import Image

    if lookup(model) is not None:
        return  # a real family's id (drawn rarely): covered above
    assert Image(SMALL, model=model).encoded().data == SMALL
    with pytest.raises(UnknownModelError):
        plan_image(model, 64, 48)


def test_a_qwen_video_past_200_to_1_is_refused_as_its_processor_refuses_it() -> None:
    # qwen-vl-utils' smart_resize raises past MAX_RATIO 200; 4000x20 is exactly 200:1 (a row)
    with pytest.raises(MediaTooLargeError, match=r"a 4020x20 video has an aspect ratio over 200:1"):
        plan_video("Qwen/Qwen2.5-VL-7B-Instruct", 10.0, 30.0, 4020, 20)
    with pytest.raises(MediaTooLargeError, match=r"a 20x4020 video"):
        plan_video("Qwen/Qwen2-VL-7B-Instruct", 10.0, 30.0, 20, 4020)
    assert plan_video("Qwen/Qwen2.5-VL-7B-Instruct", 10.0, 30.0, 4000, 20).frames == 20
