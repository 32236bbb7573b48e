"""A part's token cost, asked of the part (`tokens()`), of messages (`mmkit.media_tokens`), and
shown in the notebook view of a part built with model=: an estimate, which sends nothing and so
records no conversion. Expected counts are worked by hand from each model's published rule."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import mmkit
from mmkit import Audio, Image, Message, Video
from mmkit.errors import InvalidOptionError, UnknownModelError

QWEN = "Qwen/Qwen2.5-VL-7B-Instruct"
GEMMA = "google/gemma-3-4b-it"


def captions(html: str) -> list[str]:
    return re.findall(r"<figcaption>(.*?)<", html)


def test_an_image_costs_what_the_models_rule_says(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "photo.jpg")  # 320×240
    # Qwen2.5-VL: smart_resize rounds each side to a multiple of 28: 240 → 252, 320 → 308;
    # (252/28)·(308/28) = 9·11 patches of 28 px
    assert image.tokens(QWEN) == 99
    assert image.tokens(GEMMA) == 256  # Gemma 3: every image is 896×896, 256 tokens
    assert mmkit.media_tokens([Message.user("Compare", images=[image, image])], GEMMA) == 512


def test_counting_tokens_sends_nothing_so_records_no_conversion() -> None:
    # 290×200: Qwen's smart_resize takes both sides down to multiples of 28: 280×196, 10·7
    image = Image(np.full((200, 290, 3), 120, np.uint8))
    assert mmkit.media_tokens(image, QWEN) == 70  # encoded at 280×196 to count it
    assert image.conversions == []  # ... but nothing was sent: no "resized 290×200 → 280×196"
    assert image.encodings == {}


def test_the_notebook_view_of_a_part_built_for_a_model_shows_its_cost(fixtures_dir: Path) -> None:
    html = Image(fixtures_dir / "photo.jpg", model=GEMMA)._repr_html_()
    assert captions(html) == [
        f"{fixtures_dir / 'photo.jpg'} JPEG 320×240, 10,633 bytes, 256 tokens for {GEMMA}"
    ]
    plain = Image(fixtures_dir / "photo.jpg")._repr_html_()
    assert "tokens" not in plain  # no model, no count: nothing is guessed


def test_a_url_part_is_never_fetched_to_show_its_cost() -> None:
    html = Image("https://example.com/cat.png", model=GEMMA)._repr_html_()
    assert "tokens" not in html


def test_audio_and_video_cost_what_the_models_sampling_says(fixtures_dir: Path) -> None:
    # Qwen2-Audio (Whisper's encoder): 100 mel frames a second, halved by the stride-2
    # convolution and again by pooling: 25 tokens a second; tone.wav holds 1.0 s
    assert Audio(fixtures_dir / "tone.wav").tokens("Qwen/Qwen2-Audio-7B-Instruct") == 25
    # clip.mp4: 1.0 s, 96×64 at 10 fps. qwen-vl-utils samples 2 fps but at least 4 frames;
    # each frame grows to the video pixel floor (128·28·28): 64×96 ·4.04 → 280×392;
    # 4 frames = 2 temporal pairs of (280/28)·(392/28) = 10·14 → 2·140
    video = Video(fixtures_dir / "clip.mp4", model=QWEN)
    assert video.tokens() == 280
    assert captions(video._repr_html_())[0].endswith(f", 280 tokens for {QWEN}")


def test_tokens_need_a_model_and_one_mmkit_knows(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "photo.jpg")
    with pytest.raises(InvalidOptionError, match=r"pass tokens\(model=\.\.\.\)"):
        image.tokens()
    with pytest.raises(UnknownModelError):
        image.tokens("acme/unknown-vlm")
