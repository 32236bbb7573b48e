"""Notebook rendering: a message shows its role, its text, a thumbnail of each image, a strip of
frames for each video and a player for each audio part.

Display renders what it is given (captions, notes, and callables that decode only when shown);
each part and message calls it from its own `_repr_html_`, so this module knows no part."""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pybase64

from mmkit.errors import MmkitError

if TYPE_CHECKING:
    from PIL import Image as PILImage

THUMBNAIL_SIDE = 256
STRIP_FRAMES = 4  # a video shows this many sampled frames, small
STRIP_SIDE = 128
# The player plays a preview, never the whole file (notebooks keep outputs): the first seconds,
# mono MP3 at a low rate (30 s is about 90 KB).
PLAYER_SECONDS = 30.0
PLAYER_RATE = 16_000
PLAYER_BIT_RATE = 24_000


def _caption(describe: str, notes: Sequence[str]) -> str:
    caption = html.escape(describe)
    if notes:
        caption += "<br><small>" + html.escape("; ".join(notes)) + "</small>"
    return caption


def _bare(caption: str) -> str:
    return f'<figure style="margin:4px"><figcaption>{caption}</figcaption></figure>'


def image_html(
    describe: str, conversions: Sequence[str], pixels: Callable[[], PILImage.Image] | None
) -> str:
    """A small inline thumbnail (never the full image: notebooks keep outputs) and a caption;
    `pixels` decodes the image (None: a URL not fetched, shown by name only)."""
    caption = _caption(describe, conversions)
    if pixels is None:
        return _bare(caption)
    try:
        thumb = pixels()
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


def video_html(
    describe: str,
    plan: Sequence[str],
    strip: Callable[[], list[tuple[PILImage.Image, float]]] | None,
) -> str:
    """A strip of a few sampled frames (small: notebooks keep outputs), a caption saying
    duration, size and codec, and what encoding does to it (`plan`: "video → 8 frames")."""
    caption = _caption(describe, plan)
    if strip is None:
        return _bare(caption)
    try:
        frames = strip()
    except MmkitError as exc:
        return f"<div>{caption}<br><b>cannot be shown:</b> {html.escape(str(exc))}</div>"
    images = []
    for image, timestamp in frames:
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=80)
        src = "data:image/jpeg;base64," + pybase64.b64encode(buf.getvalue()).decode("ascii")
        stamp = html.escape(f"{timestamp:.1f} s")
        images.append(f'<img src="{src}" title="{stamp}" style="margin-right:2px">')
    return (
        f'<figure style="display:inline-block;margin:4px"><div>{"".join(images)}</div>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def audio_preview(
    data: bytes, info: Any, origin: str, start: float | None, max_duration: float | None
) -> bytes:
    """The player's preview: the first seconds from `start`, mono MP3 at a low rate."""
    from mmkit.media import audio as audio_codec

    preview = audio_codec.encode(
        data,
        info,
        origin,
        audio_codec.AudioRequest(
            sample_rate=min(PLAYER_RATE, info.sample_rate),
            mono=True,
            format="mp3",
            start=start,
            end=(start or 0.0) + min(PLAYER_SECONDS, max_duration or PLAYER_SECONDS),
            mp3_bit_rate=PLAYER_BIT_RATE,
        ),
        audio_codec.AudioLimits(accepts=frozenset({"mp3/mp3"}), writes=("mp3",), max_bytes=None),
    )
    return preview.data


def audio_html(
    describe: str,
    conversions: Sequence[str],
    preview: Callable[[], bytes] | None,
    duration: float | None,
) -> str:
    """An `<audio controls>` player of a capped preview (`preview` makes its MP3), the facts,
    and every conversion."""
    caption = _caption(describe, conversions)
    if preview is None:
        return _bare(caption)
    try:
        mp3 = preview()
    except MmkitError as exc:
        return f"<div>{caption}<br><b>cannot be played:</b> {html.escape(str(exc))}</div>"
    longer = duration is not None and duration > PLAYER_SECONDS
    note = f"<br><small>preview: the first {PLAYER_SECONDS:g} s</small>" if longer else ""
    src = "data:audio/mpeg;base64," + pybase64.b64encode(mp3).decode("ascii")
    return (
        f'<figure style="display:inline-block;margin:4px"><audio controls preload="none" '
        f'src="{src}"></audio><figcaption>{caption}{note}</figcaption></figure>'
    )


def message_html(role: str, pieces: Sequence[str]) -> str:
    """A message: its role, then each part's own rendering, in order."""
    return (
        f'<div style="border-left:3px solid #888;padding-left:8px;margin:4px 0">'
        f"<b>{html.escape(role)}</b>{''.join(pieces)}</div>"
    )
