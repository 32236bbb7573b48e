"""Notebook rendering: what a user sees under a cell that ends with a message or an image."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image as PILImage

import mmkit
from mmkit import Image, Message


def thumbnails(html: str) -> list[PILImage.Image]:
    found = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [PILImage.open(io.BytesIO(base64.b64decode(b))) for b in found]


def test_message_shows_role_text_and_a_thumbnail(fixtures_dir: Path) -> None:
    html = Message.user("Is this <b>bold</b>?", image=fixtures_dir / "photo.jpg")._repr_html_()
    assert "<b>user</b>" in html
    assert "Is this &lt;b&gt;bold&lt;/b&gt;?" in html  # the user's text is escaped, not markup
    (thumb,) = thumbnails(html)
    assert thumb.size == (256, 192)
    assert "JPEG 320×240" in html


def test_thumbnail_is_shown_upright(fixtures_dir: Path) -> None:
    (thumb,) = thumbnails(Image(fixtures_dir / "exif_rotated.jpg")._repr_html_())
    assert thumb.size == (160, 240)  # EXIF orientation applied, as the model will see it


def test_conversions_are_shown_once_made(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "image.bmp")
    mmkit.to_openai([Message.user([image])])
    assert "converted BMP → JPEG" in image._repr_html_()


def test_url_image_is_named_not_fetched() -> None:
    html = Image("https://example.com/cat.png?sig=SECRET")._repr_html_()
    assert "https://example.com/cat.png" in html
    assert "SECRET" not in html
    assert "<img" not in html


def test_a_corrupt_image_says_why_it_cannot_be_shown(fixtures_dir: Path) -> None:
    html = Image(fixtures_dir / "truncated.jpg")._repr_html_()
    assert "cannot be shown" in html
    assert "truncated" in html


def players(html: str) -> list[bytes]:
    found = re.findall(r'<audio controls preload="none" src="data:audio/mpeg;base64,([^"]+)"', html)
    return [base64.b64decode(b) for b in found]


def test_audio_shows_a_player_its_facts_and_conversions(fixtures_dir: Path) -> None:
    audio = mmkit.Audio(fixtures_dir / "tone_aac.m4a")
    mmkit.to_openai([Message.user([audio])])

    html = Message.user("Transcribe", audio=audio)._repr_html_()

    (preview,) = players(html)
    samples, rate = soundfile.read(io.BytesIO(preview), always_2d=True)
    assert (rate, samples.shape[1]) == (16_000, 1)  # small: mono, 16 kHz, MP3
    assert "AAC 1.0 s 44.1 kHz stereo" in html
    assert "converted AAC in M4A → 16-bit PCM WAV" in html


def test_audio_player_plays_a_capped_preview_of_long_audio() -> None:
    long = (np.zeros((90 * 8_000, 1), np.int16), 8_000)  # 90 s

    html = mmkit.Audio(long)._repr_html_()

    (preview,) = players(html)
    assert len(preview) < 200_000
    assert abs(soundfile.info(io.BytesIO(preview)).duration - 30.0) < 0.1
    assert "preview: the first 30 s" in html
