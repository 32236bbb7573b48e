"""media_tokens: what the media of a part or of messages cost a model, counted on what mmkit
sends it (the model's own size when known), before anything is sent. The parts' side of
mmkit.models, which knows no parts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mmkit.errors import InvalidMediaError, UnsupportedFormatError
from mmkit.media.image import ImageLimits
from mmkit.message import Message
from mmkit.models.plan import family_of, plan_audio, plan_image, plan_video
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
    if isinstance(items, Image):
        return _image(items, model, fetch)
    if isinstance(items, Video):
        return _video(items, model)
    if isinstance(items, Audio):
        if items.duration is None:
            items.fetch(fetch)
        if items.duration is None:
            raise InvalidMediaError(f"{items.origin}: its duration is not known, so not its cost")
        return plan_audio(model, items.duration).tokens
    if isinstance(items, Iterable) and not isinstance(items, (str, bytes)):
        return sum(media_tokens(item, model, fetch) for item in items)
    return 0  # text and other parts cost no media tokens


def _image(part: Image, model: str, fetch: FetchPolicy | None) -> int:
    # The size the encoder picks for this model (the part's own limits win), as it is sent.
    sent = part.encoded(ImageLimits(model=part.model or model, max_bytes=None), fetch)
    return plan_image(model, sent.width, sent.height, part.detail).tokens


def _video(part: Video, model: str) -> int:
    if part.duration is None or part.frame_rate is None or part.width is None:
        raise InvalidMediaError(
            f"{part.origin}: its duration, frame rate or size is not known (a URL not fetched, "
            "or a list of frames), so not its cost; count its frames as images instead"
        )
    assert part.height is not None
    start = part.start or 0.0
    end = min(part.end, part.duration) if part.end is not None else part.duration
    if end <= start:
        raise UnsupportedFormatError(f"{part.origin}: start={start} is past its end={end}")
    return plan_video(model, end - start, part.frame_rate, part.width, part.height).tokens
