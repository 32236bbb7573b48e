"""The parts of a message, as a user holds them: Text, Image, Audio and Video.

Parts are small typed values (pydantic models with a literal `type`): building one reads and
probes local input but never talks to the network; a URL stays a URL until a target needs bytes.
Equality is about content: two parts are equal when they carry the same text, the same bytes or
the same URL (and the same `detail`), whatever options they were built with.

One module a kind; Image, Audio and Video share `MediaPart` (base.py): the source, the probe,
the guarded fetch, and one encoding per target cached with every change it made recorded.
"""

from __future__ import annotations

from mmkit.parts.audio import Audio
from mmkit.parts.base import MediaPart, refuse_unknown
from mmkit.parts.image import Detail, Image
from mmkit.parts.text import Text
from mmkit.parts.video import Video, check_frame_count, clock_range

Part = Text | Image | Audio | Video

__all__ = [
    "Audio",
    "Detail",
    "Image",
    "MediaPart",
    "Part",
    "Text",
    "Video",
    "check_frame_count",
    "clock_range",
    "refuse_unknown",
]
