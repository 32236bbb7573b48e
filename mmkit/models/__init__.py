"""Model-aware media: what each model's processor does to an image, a video or audio, and what
it costs in tokens. Knows no parts, messages or HTTP; the registry is data (registry.py)."""

from mmkit.models.plan import lookup, plan_audio, plan_image, plan_video
from mmkit.models.registry import FAMILIES, Family
from mmkit.models.rules import ImagePlan
from mmkit.models.timed import AudioPlan, VideoPlan

__all__ = [
    "FAMILIES",
    "AudioPlan",
    "Family",
    "ImagePlan",
    "VideoPlan",
    "lookup",
    "plan_audio",
    "plan_image",
    "plan_video",
]
