"""Hypothesis strategies for property tests of code that builds, encodes or parses mmkit messages.

Needs Hypothesis (``pip install hypothesis``); mmkit itself never imports this subpackage.

    from hypothesis import given
    from mmkit.testing import strategies as mst

    @given(mst.images())
    def test_every_image_encodes(image):
        assert mmkit.to_openai([mmkit.Message.user("Describe", image=image)])
"""

from mmkit.testing.strategies import (
    ALL_MODES,
    AUDIO_FORMATS,
    IMAGE_FORMATS,
    PORTABLE_MODES,
    SAMPLE_DTYPES,
    VIDEO_CODECS,
    audio_bytes,
    audios,
    conversations,
    corrupt_bytes,
    data_uris,
    https_image_urls,
    image_bytes,
    image_options,
    images,
    messages,
    openai_messages,
    pil_images,
    samples,
    texts,
    video_bytes,
    videos,
)

__all__ = [
    "ALL_MODES",
    "AUDIO_FORMATS",
    "IMAGE_FORMATS",
    "PORTABLE_MODES",
    "SAMPLE_DTYPES",
    "VIDEO_CODECS",
    "audio_bytes",
    "audios",
    "conversations",
    "corrupt_bytes",
    "data_uris",
    "https_image_urls",
    "image_bytes",
    "image_options",
    "images",
    "messages",
    "openai_messages",
    "pil_images",
    "samples",
    "texts",
    "video_bytes",
    "videos",
]
