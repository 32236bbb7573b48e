"""media_tokens: what the media of a part or of messages cost a model, counted on what mmkit
sends it (the model's own size when known), before anything is sent. The parts' side of
mmkit.models, which knows no parts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mmkit.message import Message
from mmkit.models.plan import family_of
from mmkit.parts import Audio, Image, Video

if TYPE_CHECKING:
    from mmkit.media.fetch import FetchPolicy


def media_tokens(
    items: Image | Video | Audio | Message | Iterable[Any],
    model: str,
    fetch: FetchPolicy | None = None,
) -> int:
    """The tokens the images, videos and audio in `items` (a part, a message, or a list of
    either) cost `model`. An image is counted at the size mmkit sends it for that model; a URL
    part is fetched (through `fetch`) to learn its size. Text is not counted. Raises
    UnknownModelError for a model mmkit has no rule for: nothing is guessed."""
    family_of(model)  # an unknown model is said at once, even for messages without media
    if isinstance(items, Message):
        return sum(media_tokens(part, model, fetch) for part in items.content)
    if isinstance(items, (Image, Video, Audio)):
        return items.tokens(model, fetch)
    if isinstance(items, Iterable) and not isinstance(items, (str, bytes)):
        return sum(media_tokens(item, model, fetch) for item in items)
    return 0  # text and other parts cost no media tokens
