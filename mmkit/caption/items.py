"""What a captioning run works on: an Item (id, source, kind, prompt) and the table of media kinds.

A kind is detected from the bytes (mmkit.media.sniff), never from a file name. Each kind says how
its bytes become message parts; audio and video join by adding one entry to `KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmkit.media.sniff import sniff

if TYPE_CHECKING:
    from mmkit.formats.base import Target
    from mmkit.media.source import Resolved


@dataclass(frozen=True, slots=True)
class Item:
    """One thing to caption. `id` keys it in the output (resume skips a done id with the same
    content); `source` is a path or an http(s) URL; `kind` is known once the bytes were seen
    (None before, for URLs); `prompt` overrides the run's prompt (a manifest row's own)."""

    id: str
    source: str
    kind: str | None = None
    prompt: str | None = None

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("http://", "https://"))


@dataclass(frozen=True)
class PartOptions:
    """How media become parts: the run's --max-side and --frames."""

    max_side: int | None = None
    frames: int = 8


@dataclass(frozen=True)
class Kind:
    """One media kind: how its bytes (or, with `from_path`, a local file left on disk) become
    parts, and an estimate of the tokens they cost."""

    name: str
    parts: Callable[[Resolved | Path, PartOptions], list[Any]]
    # the tokens the parts as sent cost the run's model (None: OpenAI's published estimate)
    tokens: Callable[[list[Any], Target, str | None], int]
    prompt: str  # when the run and the item give none
    from_path: bool = False  # long media are read by their decoder, never whole into memory


def _image_parts(source: Resolved | Path, options: PartOptions) -> list[Any]:
    from mmkit.parts import Image

    return [Image(source, max_side=options.max_side)]


def _image_tokens(parts: list[Any], target: Target, model: str | None) -> int:
    from mmkit.formats.openai import image_tokens
    from mmkit.models.plan import plan_image

    limits = target.images if model is None else replace(target.images, model=model)
    total = 0
    for part in parts:
        sent = part.encoded(limits, record=False)  # cached: the body was built from it
        if model is None:
            total += image_tokens(sent.width, sent.height, part.detail)
        else:
            total += plan_image(model, sent.width, sent.height, part.detail).tokens
    return total


def _video_parts(source: Resolved | Path, options: PartOptions) -> list[Any]:
    from mmkit.parts import Video

    return [Video(source, frames=options.frames, max_side=options.max_side)]


def _video_tokens(parts: list[Any], target: Target, model: str | None) -> int:
    if target.videos.native:  # the model samples the video itself
        if model is None:
            return 0  # no published estimate for a whole video
        return sum(int(part.tokens(model)) for part in parts)
    total = 0
    for part in parts:
        frames = part.sampled(target.videos)  # cached: the body was built from these
        total += _image_tokens(frames, target, model)
    return total


def _audio_parts(source: Resolved | Path, options: PartOptions) -> list[Any]:
    from mmkit.parts import Audio

    return [Audio(source)]


def _audio_tokens(parts: list[Any], target: Target, model: str | None) -> int:
    if model is None:
        return 0  # OpenAI publishes no token rate for audio input
    return sum(int(part.tokens(model)) for part in parts)


# The media kinds a run captions, by the first half of the sniffed MIME type.
KINDS: dict[str, Kind] = {
    "image": Kind("image", _image_parts, _image_tokens, "Describe this image in one sentence."),
    "audio": Kind("audio", _audio_parts, _audio_tokens, "Describe this recording in one sentence."),
    "video": Kind(
        "video",
        _video_parts,
        _video_tokens,
        "Describe what happens in this video in one sentence.",
        from_path=True,
    ),
}


def kind_of(head: bytes) -> str | None:
    """The kind of media these first bytes start, or None (not media mmkit can caption)."""
    mime = sniff(head)
    if mime is None:
        return None
    kind = mime.split("/", 1)[0]
    return kind if kind in KINDS else None


def media_type(head: bytes) -> str | None:
    """The sniffed MIME type, for messages about media of a kind no entry handles yet."""
    return sniff(head)
