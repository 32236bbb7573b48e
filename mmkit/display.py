"""Notebook rendering: a message shows its role, its text, a thumbnail of each image and a
player for each audio part."""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING

import pybase64

from mmkit.errors import MmkitError

if TYPE_CHECKING:
    from mmkit.message import Message
    from mmkit.parts import Audio, Image, Video

THUMBNAIL_SIDE = 256
STRIP_FRAMES = 4  # a video shows this many sampled frames, small
STRIP_SIDE = 128
# The player plays a preview, never the whole file (notebooks keep outputs): the first seconds,
# mono MP3 at a low rate (30 s is about 90 KB).
PLAYER_SECONDS = 30.0
PLAYER_RATE = 16_000
PLAYER_BIT_RATE = 24_000


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


def video_html(video: Video) -> str:
    """A strip of a few sampled frames (small: notebooks keep outputs), a caption saying
    duration, size and codec, and what encoding does to it (to OpenAI: "video → 8 frames")."""
    from mmkit.media.video import DEFAULT_FRAMES

    caption = html.escape(video.describe())
    frames = video.num_frames or DEFAULT_FRAMES
    plan = [*video.conversions] or [
        f'to OpenAI: video → {frames} frames; to Bytez, HF, vLLM (video="native"): the video'
    ]
    caption += "<br><small>" + html.escape("; ".join(plan)) + "</small>"
    if video.data is None and video.path is None and video.frame_list is None:
        return f'<figure style="margin:4px"><figcaption>{caption}</figcaption></figure>'
    try:
        strip = video.frames(STRIP_FRAMES, max_side=STRIP_SIDE)
    except MmkitError as exc:
        return f"<div>{caption}<br><b>cannot be shown:</b> {html.escape(str(exc))}</div>"
    images = []
    for frame in strip:
        buf = io.BytesIO()
        frame.to_pil().save(buf, format="JPEG", quality=80)
        src = "data:image/jpeg;base64," + pybase64.b64encode(buf.getvalue()).decode("ascii")
        stamp = html.escape(f"{frame.timestamp or 0:.1f} s")
        images.append(f'<img src="{src}" title="{stamp}" style="margin-right:2px">')
    return (
        f'<figure style="display:inline-block;margin:4px"><div>{"".join(images)}</div>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def audio_html(audio: Audio) -> str:
    """An `<audio controls>` player of a capped preview, the facts, and every conversion."""
    from mmkit.media import audio as audio_codec

    caption = html.escape(audio.describe())
    changes = audio.conversions
    if changes:
        caption += "<br><small>" + html.escape("; ".join(changes)) + "</small>"
    if audio.data is None:
        return f'<figure style="margin:4px"><figcaption>{caption}</figcaption></figure>'
    try:
        data, info = audio._bytes_and_info(None)
        rate = min(PLAYER_RATE, info.sample_rate)
        preview = audio_codec.encode(
            data,
            info,
            audio.origin,
            audio_codec.AudioRequest(
                sample_rate=rate,
                mono=True,
                format="mp3",
                start=audio.start,
                end=(audio.start or 0.0)
                + min(PLAYER_SECONDS, audio.max_duration or PLAYER_SECONDS),
                mp3_bit_rate=PLAYER_BIT_RATE,
            ),
            audio_codec.AudioLimits(
                accepts=frozenset({"mp3/mp3"}), writes=("mp3",), max_bytes=None
            ),
        )
    except MmkitError as exc:
        return f"<div>{caption}<br><b>cannot be played:</b> {html.escape(str(exc))}</div>"
    longer = audio.duration is not None and audio.duration > PLAYER_SECONDS
    note = f"<br><small>preview: the first {PLAYER_SECONDS:g} s</small>" if longer else ""
    src = "data:audio/mpeg;base64," + pybase64.b64encode(preview.data).decode("ascii")
    return (
        f'<figure style="display:inline-block;margin:4px"><audio controls preload="none" '
        f'src="{src}"></audio><figcaption>{caption}{note}</figcaption></figure>'
    )


def message_html(message: Message) -> str:
    from mmkit.parts import Audio, Image, Text, Video

    pieces = []
    for part in message.content:
        if isinstance(part, Text):
            pieces.append(f'<div style="white-space:pre-wrap">{html.escape(part.text)}</div>')
        elif isinstance(part, Image):
            pieces.append(image_html(part))
        elif isinstance(part, Video):
            pieces.append(video_html(part))
        elif isinstance(part, Audio):
            pieces.append(audio_html(part))
    return (
        f'<div style="border-left:3px solid #888;padding-left:8px;margin:4px 0">'
        f"<b>{html.escape(message.role)}</b>{''.join(pieces)}</div>"
    )
