"""Helpers shared by test modules (import them: `from helpers import decode`)."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image as PILImage

import mmkit
from mmkit import Image, Message
from mmkit.media.sniff import sniff


def decode(data: bytes) -> PILImage.Image:
    """The image in `data`, fully decoded (a copy that outlives the file)."""
    with PILImage.open(io.BytesIO(data)) as im:
        im.load()
        copy: PILImage.Image = im.copy()
    return copy


def sent_to_openai(image: Image, **options: Any) -> bytes:
    """The bytes OpenAI receives for `image` (alone in a user message)."""
    (message,) = mmkit.to_openai([Message.user([image])], **options)
    url = message["content"][0]["image_url"]["url"]
    header, _, payload = url.partition(",")
    data = base64.b64decode(payload, validate=True)
    assert header == f"data:{sniff(data)};base64"
    return data
