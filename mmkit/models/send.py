"""The size to send an image at for a model: its processor's own size, and for a cropping
processor the size it crops from, so the picture is not distorted and the server only crops.
Whether it is sent (the part's limits allow it, no pixels invented) is the encoder's call."""

from __future__ import annotations

from mmkit.models.plan import lookup
from mmkit.models.rules import Detail


def send_size(
    model: str | None, width: int, height: int, detail: Detail | None = None
) -> tuple[int, int] | None:
    """The size to encode a width x height image at for `model`; None when mmkit has no image
    rule for it (the image is encoded as it is today)."""
    family = lookup(model) if model else None
    if family is None or family.image is None:
        return None
    plan = family.image.plan(width, height, detail)
    w, h = plan.width, plan.height
    if plan.crop:
        # CLIP: the shortest edge to the crop size (int() as transformers'), then the crop
        short = min(w, h)
        long = int(short * max(width, height) / min(width, height))
        w, h = (short, long) if width <= height else (long, short)
    return (w, h)
