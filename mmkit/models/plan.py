"""Find a model's family by its id and plan an image, a video or an audio clip for it."""

from __future__ import annotations

from mmkit.errors import UnknownModelError, UnsupportedFormatError
from mmkit.models.registry import FAMILIES, Family
from mmkit.models.rules import Detail, ImagePlan
from mmkit.models.timed import AudioPlan, VideoPlan


def _names(model_id: str) -> list[str]:
    """`bytez/google/gemma-3-4b-it` -> itself, `google/gemma-3-4b-it`, `gemma-3-4b-it`."""
    parts = model_id.strip().split("/")
    return ["/".join(parts[i:]) for i in range(len(parts))]


def lookup(model_id: str) -> Family | None:
    """The family a model id belongs to, provider and organisation prefixes allowed; None for
    a model mmkit has no rule for (nothing is guessed from a similar name)."""
    for name in _names(model_id):
        for family in FAMILIES:
            if family.matches(name):
                return family
    return None


def family_of(model_id: str) -> Family:
    family = lookup(model_id)
    if family is None:
        raise UnknownModelError(
            f"mmkit has no media rule for model {model_id!r}, so it cannot say what that model "
            "does to media or what it costs; leave model= unset to encode with the wire "
            "format's generic limits, or add the model's family to mmkit/models/registry.py"
        )
    return family


def _refuse(model_id: str, family: Family, kind: str) -> UnsupportedFormatError:
    return UnsupportedFormatError(
        f"model {model_id!r} ({family.name}) takes no {kind} that mmkit knows a rule for; "
        f"send the {kind} to a model that takes it, or leave model= unset"
    )


def plan_image(model: str, width: int, height: int, detail: Detail | None = None) -> ImagePlan:
    """The size `model`'s processor makes of a width x height image and its token cost.
    `detail` is OpenAI's image detail ("low" is a flat cost); other families ignore it.
    Raises UnknownModelError for a model mmkit has no rule for."""
    family = family_of(model)
    if family.image is None:
        raise _refuse(model, family, "image")
    return family.image.plan(width, height, detail)


def plan_video(model: str, duration: float, fps: float, width: int, height: int) -> VideoPlan:
    """The frames `model` samples from a video of `duration` seconds at `fps`, their size and
    their token cost."""
    family = family_of(model)
    if family.video is None:
        raise _refuse(model, family, "video")
    return family.video.plan(duration, fps, width, height)


def plan_audio(model: str, duration: float) -> AudioPlan:
    """The rate, channels and length `model` reads of `duration` seconds of audio, and its
    token cost."""
    family = family_of(model)
    if family.audio is None:
        raise _refuse(model, family, "audio")
    return family.audio.plan(duration)
