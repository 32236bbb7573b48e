"""Notebook rendering: what a user sees under a cell that ends with a message or an image."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

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
