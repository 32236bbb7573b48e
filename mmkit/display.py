"""Notebook rendering: a message shows its role, its text and a thumbnail of each image."""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING

import pybase64

from mmkit.errors import MmkitError

if TYPE_CHECKING:
    from mmkit.message import Message
    from mmkit.parts import Image

THUMBNAIL_SIDE = 256


def image_html(image: Image) -> str:
    """A small inline thumbnail (never the full image: notebooks keep outputs) and a caption."""
    caption = html.escape(image.describe())
    changes = image.conversions
    if changes:
        caption += "<br><small>" + html.escape("; ".join(changes)) + "</small>"
    if image.data is None:
        return f'<figure style="margin:4px"><figcaption>{caption}</figcaption></figure>'
    try:
        thumb = image.to_pil()
        thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
        if thumb.mode not in ("RGB", "RGBA", "L"):
            thumb = thumb.convert("RGBA")
        buf = io.BytesIO()
        thumb.save(buf, format="PNG")
    except MmkitError as exc:
        return f"<div>{caption}<br><b>cannot be shown:</b> {html.escape(str(exc))}</div>"
    src = "data:image/png;base64," + pybase64.b64encode(buf.getvalue()).decode("ascii")
    return (
        f'<figure style="display:inline-block;margin:4px"><img src="{src}" '
        f'style="max-width:{THUMBNAIL_SIDE}px"><figcaption>{caption}</figcaption></figure>'
    )


def message_html(message: Message) -> str:
    from mmkit.parts import Image, Text

    pieces = []
    for part in message.content:
        if isinstance(part, Text):
            pieces.append(f'<div style="white-space:pre-wrap">{html.escape(part.text)}</div>')
        elif isinstance(part, Image):
            pieces.append(image_html(part))
    return (
        f'<div style="border-left:3px solid #888;padding-left:8px;margin:4px 0">'
        f"<b>{html.escape(message.role)}</b>{''.join(pieces)}</div>"
    )
