"""A part encoded for several targets says what each one received (issue 13, item 1)."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image as PILImage

import mmkit
from mmkit import Audio, Image, Message, Video
from mmkit.errors import InvalidOptionError


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    """A 4000×3000 JPEG: over OpenAI's 2048-pixel side, within Bytez's (unwritten) limits."""
    buf = io.BytesIO()
    PILImage.linear_gradient("L").resize((4000, 3000)).convert("RGB").save(buf, "JPEG")
    return buf.getvalue()


def sent_bytes(uri: str) -> bytes:
    return base64.b64decode(uri.split(",", 1)[1])


def test_bytez_after_openai_is_not_said_to_be_resized(big_jpeg: bytes) -> None:
    image = Image(big_jpeg)

    (openai,) = mmkit.to_openai([Message.user([image])])
    (bytez,) = mmkit.to_bytez([Message.user([image])])

    openai_got = PILImage.open(io.BytesIO(sent_bytes(openai["content"][0]["image_url"]["url"])))
    assert openai_got.size == (2048, 1536)
    assert sent_bytes(bytez["content"][0]["base64"]) == big_jpeg  # Bytez got the original
    assert image.conversions_for("openai") == ["resized 4000×3000 → 2048×1536"]
    assert image.conversions_for("bytez") == []
    assert image.encodings == {"openai": ["resized 4000×3000 → 2048×1536"], "bytez": []}
    assert image.conversions == []  # the latest encoding (Bytez's) changed nothing


def test_conversions_name_the_target_of_the_latest_encoding(big_jpeg: bytes) -> None:
    image = Image(big_jpeg)

    mmkit.to_bytez([Message.user([image])])
    mmkit.to_openai([Message.user([image])])

    assert image.conversions == ["to openai: resized 4000×3000 → 2048×1536"]


def caption(html: str) -> str:
    """The notebook view's list of changes (the small print under the thumbnail)."""
    return html.split("<small>", 1)[1].split("</small>", 1)[0] if "<small>" in html else ""


def test_the_notebook_view_shows_what_each_target_got(big_jpeg: bytes) -> None:
    image = Image(big_jpeg)

    mmkit.to_openai([Message.user([image])])
    assert caption(image._repr_html_()) == "to openai: resized 4000×3000 → 2048×1536"

    mmkit.to_bytez([Message.user([image])])
    assert caption(image._repr_html_()) == (
        "to openai: resized 4000×3000 → 2048×1536; to bytez: sent as it is"
    )


def test_the_notebook_view_of_a_part_not_yet_sent_lists_nothing(big_jpeg: bytes) -> None:
    assert caption(Image(big_jpeg)._repr_html_()) == ""


def test_construction_notes_stay_for_every_target() -> None:
    image = Image(PILImage.new("CMYK", (3000, 10)))  # PNG holds no CMYK: noted at construction

    mmkit.to_openai([Message.user([image])])
    mmkit.to_bytez([Message.user([image])])

    assert image.conversions_for("openai") == [
        "converted CMYK to RGB",
        "resized 3000×10 → 2048×7",
    ]
    assert image.conversions_for("bytez") == ["converted CMYK to RGB"]
    assert image.conversions == ["converted CMYK to RGB"]


def test_a_target_not_encoded_for_is_a_clear_error(big_jpeg: bytes) -> None:
    image = Image(big_jpeg)
    mmkit.to_openai([Message.user([image])])

    with pytest.raises(InvalidOptionError, match=r"not encoded for 'hf' \(encoded for: openai\)"):
        image.conversions_for("hf")


def test_audio_says_what_each_target_received(fixtures_dir: Path) -> None:
    audio = Audio(fixtures_dir / "tone.flac")

    mmkit.to_openai([Message.user(audio=audio)])
    (bytez,) = mmkit.to_bytez([Message.user(audio=audio)])

    assert sent_bytes(bytez["content"][0]["base64"]) == (fixtures_dir / "tone.flac").read_bytes()
    assert audio.conversions_for("openai") == [
        "converted FLAC → 16-bit PCM WAV (the target does not accept it)"
    ]
    assert audio.conversions_for("bytez") == []
    assert audio.conversions == []


def test_a_video_sent_as_frames_then_as_video_says_which_got_frames(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "clip.webm", max_frames=4)  # at most 4 of OpenAI's 32 frames

    mmkit.to_openai([Message.user(video=video)])
    (bytez,) = mmkit.to_bytez([Message.user(video=video)])

    assert sent_bytes(bytez["content"][0]["base64"]) == (fixtures_dir / "clip.webm").read_bytes()
    assert video.conversions_for("openai") == [
        "sampled 4 frames, not 8 (max_frames=4)",
        "video → 4 frames (the target reads no video)",
    ]
    assert video.conversions_for("bytez") == []
    assert video.conversions == []
