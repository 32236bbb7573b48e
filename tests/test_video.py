"""Video parts: probe, frame sampling, target-aware encoding, limits; on the real fixture clips."""

from __future__ import annotations

import base64
import io
import json
import struct
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image as PILImage

import mmkit
from mmkit import Image, Message, Video
from mmkit.errors import (
    BlockedURLError,
    InvalidMediaError,
    InvalidOptionError,
    MediaTooLargeError,
    MmkitError,
    UnsupportedFormatError,
)
from mmkit.media import video as video_codec
from mmkit.media.sniff import sniff
from mmkit.server.inspect import describe_video

# name: (mime, codec, displayed width, height, has audio)
CLIPS: dict[str, tuple[str, str, int, int, bool]] = {
    "clip.mp4": ("video/mp4", "h264", 96, 64, False),
    "clip_audio.mp4": ("video/mp4", "h264", 96, 64, True),
    "clip.webm": ("video/webm", "vp9", 96, 64, False),
    "clip_av1.mp4": ("video/mp4", "av1", 96, 64, False),
    "clip.ts": ("video/mp2t", "h264", 96, 64, False),
    "clip.mkv": ("video/x-matroska", "h264", 96, 64, False),
    "clip.avi": ("video/x-msvideo", "mpeg4", 96, 64, False),
    "vfr.mp4": ("video/mp4", "h264", 96, 64, False),
    "rotated.mp4": ("video/mp4", "h264", 64, 96, False),
}
# The frame times written by fixtures/make_fixtures.py.
STEADY_TIMES = [i / 10 for i in range(10)]
VFR_TIMES = [0.0, 0.1, 0.15, 0.4, 0.45, 0.7, 0.75]  # (1.0 lies past the 0.95 s the mp4 claims)


def frame_times(name: str) -> list[float]:
    return VFR_TIMES if name == "vfr.mp4" else STEADY_TIMES


def shown_at(name: str, t: float, start: float = 0.0) -> float:
    """The frame sampled for `t` in a range from `start`: the last one starting at or before
    `t`, or, when none starts between `start` and `t`, the first one after `start`."""
    inside = [x for x in frame_times(name) if x >= start - 1e-9]
    before = [x for x in inside if x <= t + 1e-9]
    return max(before) if before else min(inside)


def payload(data_uri: str) -> bytes:
    header, _, body = data_uri.partition(",")
    assert header.endswith(";base64")
    return base64.b64decode(body, validate=True)


# --- probe -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_probe_reads_the_headers(fixtures_dir: Path, name: str) -> None:
    mime, codec, width, height, audio = CLIPS[name]
    video = Video(fixtures_dir / name)
    assert (video.mime, video.codec, video.width, video.height) == (mime, codec, width, height)
    assert video.has_audio is audio
    assert video.duration == pytest.approx(0.95 if name == "vfr.mp4" else 1.0, abs=0.01)
    assert video.nbytes == (fixtures_dir / name).stat().st_size
    assert sniff((fixtures_dir / name).read_bytes()) == mime


def test_steady_clip_rate_and_count(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "clip.mp4")
    assert video.fps == 10.0 and video.frame_count == 10
    assert repr(video) == f"Video({fixtures_dir / 'clip.mp4'} MP4 1.0 s 96×64 h264 10 fps, " + (
        f"{video.nbytes:,} bytes)"
    )


def test_a_local_file_stays_on_disk(fixtures_dir: Path) -> None:
    video = Video(str(fixtures_dir / "clip.mp4"))
    assert video.data is None and video.path == str(fixtures_dir / "clip.mp4")


def test_rotation_from_the_display_matrix(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "rotated.mp4")
    assert video.rotation == 90  # stored 96×64, shown 64×96


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a video at all, just text",
        b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200,
        b"\x1a\x45\xdf\xa3" + b"\xff" * 100,
    ],
)
def test_bytes_that_are_no_video_get_an_mmkit_error(data: bytes) -> None:
    with pytest.raises(InvalidMediaError):
        Video(data)


def test_audio_only_file_says_use_audio(fixtures_dir: Path) -> None:
    with pytest.raises(InvalidMediaError, match=r"video signature|audio"):
        Video(fixtures_dir / "tone.wav")


@pytest.mark.parametrize("name", ["clip.mp4", "clip.webm", "clip.mkv", "clip.ts"])
def test_truncated_files_fail_with_mmkit_errors_when_used(fixtures_dir: Path, name: str) -> None:
    data = (fixtures_dir / name).read_bytes()
    for cut in (len(data) // 4, len(data) // 2, len(data) - 100):
        try:
            video = Video(data[:cut])
            video.frames(3)
            video.encoded(video_codec.VideoLimits(max_bytes=None), None)
        except MmkitError:
            pass


# --- frames ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_frames_are_the_ones_shown_at_evenly_spread_times(fixtures_dir: Path, name: str) -> None:
    video = Video(fixtures_dir / name)
    frames = video.frames(4)
    span = video.duration or 0
    wanted = [i * span / 4 for i in range(4)]
    assert [f.timestamp for f in frames] == pytest.approx([shown_at(name, t) for t in wanted])
    for frame, t in zip(frames, wanted, strict=True):
        assert frame.timestamp is not None and abs(frame.timestamp - t) < 0.1 + 1e-9  # one frame
        assert (frame.width, frame.height) == (CLIPS[name][2], CLIPS[name][3])
        assert isinstance(frame, Image) and frame.mime == "image/jpeg"


@pytest.mark.parametrize("name", ["clip.mp4", "clip.ts", "clip.webm", "vfr.mp4"])
def test_frames_at_a_rate_in_a_range(fixtures_dir: Path, name: str) -> None:
    frames = Video(fixtures_dir / name).frames(fps=4, start=0.2, end=0.9)
    wanted = [0.2, 0.45, 0.7]
    expected = [shown_at(name, t, start=0.2) for t in wanted]
    assert [f.timestamp for f in frames] == pytest.approx(expected)
    if name == "vfr.mp4":  # no frame starts in [0.2, 0.4): the first one in the range
        assert expected == [0.4, 0.45, 0.7]


def test_frames_in_the_parts_own_range(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "clip.mp4", start=0.5, end=1.0)
    assert [f.timestamp for f in video.frames(5)] == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])


def test_a_range_starting_between_frames_still_gives_n_distinct_frames(fixtures_dir: Path) -> None:
    # times 0.25, 0.375, 0.5, ...: the first two fall on the frame starting at 0.3 (the one at
    # 0.2 starts before the range); the second takes the next frame instead of repeating it
    frames = Video(fixtures_dir / "clip.mp4").frames(6, start=0.25, end=1.0)
    assert [f.timestamp for f in frames] == pytest.approx([0.3, 0.4, 0.5, 0.6, 0.7, 0.8])


def test_asking_for_more_frames_than_exist_gives_all_and_says_so(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "clip.mp4")
    frames = video.frames(50)
    assert [f.timestamp for f in frames] == pytest.approx(STEADY_TIMES)
    assert video.conversions == [
        "asked for 50 frames; 0:00.0–0:01.0 holds 10 distinct ones: took all of them"
    ]


def decoded_by_pyav(path: Path) -> list[np.ndarray[Any, Any]]:
    """Every frame of a clip as plain PyAV decodes it to RGB, in order."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_frames_hand_out_the_decoded_pixels_not_a_jpeg_round_trip(fixtures_dir: Path) -> None:
    path = fixtures_dir / "clip.mp4"
    plain = decoded_by_pyav(path)
    sampled = Video(path).frames(4)  # times 0, 0.25, 0.5, 0.75: the frames at 0.0, 0.2, 0.5, 0.7
    for frame, index in zip(sampled, [0, 2, 5, 7], strict=True):
        assert np.array_equal(np.asarray(frame.to_pil()), plain[index])
        assert np.array_equal(frame.to_numpy(), plain[index])
    every = Video(path).frames(50)  # all 10 frames, in one pass
    assert len(every) == 10
    for frame, pixels in zip(every, plain, strict=True):
        assert np.array_equal(np.asarray(frame.to_pil()), pixels)
    # what is sent is still the JPEG, which is not pixel-exact
    sent = np.asarray(PILImage.open(io.BytesIO(sampled[1].data or b"")).convert("RGB"))
    assert sent.shape == plain[2].shape and not np.array_equal(sent, plain[2])


def test_to_pil_returns_a_copy_of_the_kept_pixels(fixtures_dir: Path) -> None:
    (frame,) = Video(fixtures_dir / "clip.mp4").frames(1)
    drawn = frame.to_pil()
    drawn.paste((0, 0, 0), (0, 0, 96, 64))
    assert frame.to_pil().getpixel((48, 32)) != (0, 0, 0)


def test_past_the_pixel_budget_frames_keep_only_their_jpeg(
    fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmkit.parts import video as video_part

    monkeypatch.setattr(video_part, "_PIXELS_KEPT", 3 * 96 * 64 * 2)  # two 96×64 frames
    kept = Video(fixtures_dir / "clip.mp4").frames(2)
    plain = decoded_by_pyav(fixtures_dir / "clip.mp4")
    assert np.array_equal(np.asarray(kept[1].to_pil()), plain[5])
    assert_decoded_from_jpeg(Video(fixtures_dir / "clip.mp4").frames(3))  # over the budget


def test_frames_sampled_only_for_sending_keep_only_their_jpeg(fixtures_dir: Path) -> None:
    sent = Video(fixtures_dir / "clip.mp4").sampled()  # what a target without video gets
    assert len(sent) == 8
    assert_decoded_from_jpeg(sent)


def assert_decoded_from_jpeg(frames: list[Image]) -> None:
    for frame in frames:
        jpeg = PILImage.open(io.BytesIO(frame.data or b"")).convert("RGB")
        assert np.array_equal(np.asarray(frame.to_pil().convert("RGB")), np.asarray(jpeg))


def test_max_frames_caps_every_request(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "clip.mp4", max_frames=3)
    assert len(video.frames(8)) == 3
    assert len(video.frames(fps=30)) == 3
    assert "sampled 3 frames, not 8 (max_frames=3)" in video.conversions


def test_keyframes_only(fixtures_dir: Path) -> None:
    # the clip has one keyframe (at 0 s): every time maps to it, returned once
    frames = Video(fixtures_dir / "clip.mp4").frames(4, exact=False)
    assert [f.timestamp for f in frames] == [0.0]


def test_max_side_scales_frames_as_they_are_decoded(fixtures_dir: Path) -> None:
    frames = Video(fixtures_dir / "clip.mp4").frames(2, max_side=48)
    assert [(f.width, f.height) for f in frames] == [(48, 32), (48, 32)]


def test_rotated_clip_comes_out_upright(fixtures_dir: Path) -> None:
    # Stored 96×64 with a red marker in the stored top-left corner; the display matrix turns
    # the picture 90° counter-clockwise, so upright (64×96) the marker is bottom-left.
    (frame,) = Video(fixtures_dir / "rotated.mp4").frames(1)
    image = frame.to_pil().convert("RGB")
    assert image.size == (64, 96)
    red = (230, 20, 20)

    def near(pixel: Any, colour: tuple[int, int, int]) -> bool:
        return all(abs(int(a) - b) < 40 for a, b in zip(pixel, colour, strict=True))

    assert near(image.getpixel((4, 90)), red)  # bottom-left
    assert not near(image.getpixel((4, 4)), red)  # top-left
    assert not near(image.getpixel((59, 90)), red)


def test_a_list_of_frames_is_a_video() -> None:
    pictures = [PILImage.new("RGB", (40, 30), (i * 25, 0, 0)) for i in range(10)]
    video = Video(pictures, fps=5)
    assert (video.duration, video.fps, video.width, video.height) == (2.0, 5.0, 40, 30)
    frames = video.frames(3)
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.6, 1.2])
    assert [f.to_pil().getpixel((0, 0)) for f in frames] == [(0, 0, 0), (75, 0, 0), (150, 0, 0)]


def test_a_list_of_frames_is_capped_too() -> None:
    video = Video([PILImage.new("RGB", (8, 8)) for _ in range(50)], max_frames=4)
    assert len(video.frames(20)) == 4
    (message,) = mmkit.to_openai([Message.user(video=video)])
    assert sum(p["type"] == "image_url" for p in message["content"]) == 4


# --- encoding for targets ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_every_fixture_as_a_video_url_part(fixtures_dir: Path, name: str) -> None:
    (message,) = mmkit.to_openai(
        [Message.user("What happens?", video=fixtures_dir / name)], video="native"
    )
    text, part = message["content"]
    assert text == {"type": "text", "text": "What happens?"}
    assert part["type"] == "video_url"
    data = payload(part["video_url"]["url"])
    _, codec, width, height, _ = CLIPS[name]
    if name in ("clip.ts", "clip.mkv", "clip.avi", "rotated.mp4"):  # re-encoded
        codec = "h264"
    assert describe_video(data, "x").endswith(f"{width}×{height} {codec}")


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_every_fixture_as_a_bytez_video_part(fixtures_dir: Path, name: str) -> None:
    (message,) = mmkit.to_bytez([Message.user("What happens?", video=fixtures_dir / name)])
    part = message["content"][1]
    assert set(part) == {"type", "base64"} and part["type"] == "video"
    assert part["base64"].startswith(("data:video/mp4;base64,", "data:video/webm;base64,"))
    assert describe_video(payload(part["base64"]), "x").startswith("video ")


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_every_fixture_as_an_hf_video_part(fixtures_dir: Path, name: str) -> None:
    (message,) = mmkit.to_hf([Message.user("What happens?", video=fixtures_dir / name)])
    part = message["content"][1]
    assert part["type"] == "video"
    assert len(part["video"]) == (7 if name == "vfr.mp4" else 8)  # vfr.mp4 holds only 7
    first = PILImage.open(io.BytesIO(payload(part["video"][0])))
    assert first.size == (CLIPS[name][2], CLIPS[name][3])


@pytest.mark.parametrize("name", sorted(CLIPS))
def test_every_fixture_as_labelled_frames_for_openai(fixtures_dir: Path, name: str) -> None:
    video = Video(fixtures_dir / name, frames=4)
    (message,) = mmkit.to_openai([Message.user("What happens?", video=video)])
    content = message["content"]
    assert content[0] == {"type": "text", "text": "What happens?"}
    labels = [p["text"] for p in content[1::2]]
    span = video.duration or 0
    assert labels == [
        f"frame at {video_codec.clock(shown_at(name, i * span / 4))}" for i in range(4)
    ]
    for part in content[2::2]:
        assert part["type"] == "image_url"
        assert payload(part["image_url"]["url"])[:3] == b"\xff\xd8\xff"
    assert video.conversions_for("openai") == ["video → 4 frames (the target reads no video)"]


def test_frame_labels_read_as_clock_times() -> None:
    assert video_codec.clock(3.25) == "0:03.2"
    assert video_codec.clock(75) == "1:15.0"
    assert video_codec.clock(0) == "0:00.0"


def test_a_video_url_passes_through_to_targets_that_fetch() -> None:
    url = "https://example.com/clip.mp4?sig=abc"
    (openai,) = mmkit.to_openai([Message.user(video=url)], video="native")
    assert openai["content"] == [{"type": "video_url", "video_url": {"url": url}}]
    (bytez,) = mmkit.to_bytez([Message.user(video=url)])
    assert bytez["content"] == [{"type": "video", "url": url}]
    (hf,) = mmkit.to_hf([Message.user(video=url)])
    assert hf["content"] == [{"type": "video", "url": url}]


def test_an_accepted_file_is_sent_byte_for_byte(fixtures_dir: Path) -> None:
    data = (fixtures_dir / "clip.webm").read_bytes()
    (message,) = mmkit.to_bytez([Message.user(video=data)])
    assert payload(message["content"][0]["base64"]) == data


def test_trim_and_scale_re_encode_to_h264_mp4(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "clip_audio.mp4", start=0.2, end=0.7, max_side=48)
    (message,) = mmkit.to_bytez([Message.user(video=video)])
    data = payload(message["content"][0]["base64"])
    out = Video(data)
    assert (out.mime, out.codec, out.width, out.height) == ("video/mp4", "h264", 48, 32)
    assert out.duration == pytest.approx(0.5, abs=0.05)
    assert out.has_audio is True
    assert video.conversions_for("bytez") == [
        "trimmed to 0:00.2–0:00.7",
        "resized 96×64 → 48×32",
        "re-encoded as H.264 MP4",
    ]


def test_rotated_clip_is_re_encoded_upright(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "rotated.mp4")
    encoded = video.encoded(video_codec.VideoLimits())
    out = Video(encoded.data)
    assert (out.width, out.height, out.rotation) == (64, 96, 0)
    assert "turned upright (display matrix 90°)" in encoded.conversions


def test_over_the_byte_limit_shrinks_or_says_why(fixtures_dir: Path) -> None:
    video = Video(fixtures_dir / "clip.avi")  # 30 kB of MPEG-4
    encoded = video.encoded(video_codec.VideoLimits(max_bytes=3000))
    assert len(encoded.data) <= 3000 and encoded.mime == "video/mp4"
    with pytest.raises(MediaTooLargeError, match="100-byte limit"):
        video.encoded(video_codec.VideoLimits(max_bytes=100))


def test_over_the_targets_duration_limit(fixtures_dir: Path) -> None:
    with pytest.raises(MediaTooLargeError, match="start= and end="):
        Video(fixtures_dir / "clip.mp4").encoded(video_codec.VideoLimits(max_duration=0.5))
    ok = Video(fixtures_dir / "clip.mp4", end=0.5).encoded(
        video_codec.VideoLimits(max_duration=0.5)
    )
    assert Video(ok.data).duration == pytest.approx(0.5, abs=0.05)


def test_hf_inline_video_is_its_frames_list_and_a_list_round_trips() -> None:
    pictures = [PILImage.new("RGB", (16, 16), (0, i * 60, 0)) for i in range(4)]
    (message,) = mmkit.to_hf([Message.user(video=Video(pictures))])
    (part,) = message["content"]
    assert part["type"] == "video" and len(part["video"]) == 4
    (back,) = mmkit.from_hf([message])
    (video,) = back.videos
    assert video.frame_count == 4


def test_frame_list_sent_native_becomes_an_mp4(fixtures_dir: Path) -> None:
    video = Video([fixtures_dir / "rgb.png", fixtures_dir / "photo.jpg"], fps=2)
    (message,) = mmkit.to_bytez([Message.user(video=video)])
    out = Video(payload(message["content"][0]["base64"]))
    assert (out.codec, out.width, out.height) == ("h264", 320, 240)
    assert out.duration == pytest.approx(1.0, abs=0.01)


def test_parse_video_parts_from_each_format(fixtures_dir: Path) -> None:
    uri = (
        "data:video/mp4;base64,"
        + base64.b64encode((fixtures_dir / "clip.mp4").read_bytes()).decode()
    )
    openai = {"role": "user", "content": [{"type": "video_url", "video_url": {"url": uri}}]}
    bytez = {"role": "user", "content": [{"type": "video", "base64": uri}]}
    for parsed in (mmkit.from_openai([openai]), mmkit.from_bytez([bytez])):
        (video,) = parsed[0].videos
        assert (video.codec, video.duration) == ("h264", 1.0)


# --- limits ------------------------------------------------------------------------------------


def test_pixel_limit_per_frame(fixtures_dir: Path) -> None:
    with pytest.raises(MediaTooLargeError, match="pixel_limit="):
        Video(fixtures_dir / "clip.mp4", pixel_limit=96 * 64 - 1)


def _ts_clip(width: int, height: int, frames: int) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            pixels = np.full((height, width, 3), index * 20, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return buf.getvalue()


def test_pixel_limit_holds_on_every_decoded_frame() -> None:
    # MPEG-TS concatenates: the headers say 32×32, the second half decodes at 96×64
    video = Video(_ts_clip(32, 32, 5) + _ts_clip(96, 64, 5), pixel_limit=32 * 32)
    assert (video.width, video.height) == (32, 32)
    with pytest.raises(MediaTooLargeError, match="96×64 frame, over the 1,024-pixel limit"):
        video.frames(10)


def test_duration_guard_at_construction(fixtures_dir: Path) -> None:
    with pytest.raises(MediaTooLargeError, match="max_duration"):
        Video(fixtures_dir / "clip.mp4", max_duration=0.5)


def _claim_shorter(data: bytes) -> bytes:
    """The clip with its media header (mdhd) claiming half the duration its samples hold."""
    at = data.index(b"mdhd") + 4
    assert data[at] == 0  # version 0: 32-bit fields
    _, duration = struct.unpack(">II", data[at + 12 : at + 20])
    return data[: at + 16] + struct.pack(">I", duration // 2) + data[at + 20 :]


def test_a_video_that_decodes_to_more_than_it_claims_is_cut_off(fixtures_dir: Path) -> None:
    lying = Video(_claim_shorter((fixtures_dir / "clip.mp4").read_bytes()))
    assert lying.duration == pytest.approx(0.5)
    frames = lying.frames(100)
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    encoded = lying.encoded(video_codec.VideoLimits(mimes=frozenset({"video/webm"})))
    assert Video(encoded.data).frame_count == 5


def test_options_are_checked() -> None:
    with pytest.raises(InvalidOptionError):
        Video(b"x", frames=0)
    with pytest.raises(InvalidOptionError, match="not after"):
        Video("https://example.com/a.mp4", start=2, end=1)
    with pytest.raises(InvalidOptionError, match="frames= or fps="):
        Video("https://example.com/a.mp4", frames=4, fps=2)
    with pytest.raises(InvalidOptionError, match="unknown keyword colour='red'; options are"):
        Video("https://example.com/a.mp4", colour="red")
    with pytest.raises(InvalidOptionError, match=r"keyword max_frame=4; did you mean max_frames="):
        Video("https://example.com/a.mp4", max_frame=4)
    with pytest.raises(InvalidOptionError, match=r"keyword frame=4; did you mean frames=\?"):
        Video("https://example.com/a.mp4", frame=4)


def test_message_builders_take_video_and_videos(fixtures_dir: Path) -> None:
    one = Message.user("Compare", videos=[fixtures_dir / "clip.mp4", fixtures_dir / "clip.webm"])
    assert [v.codec for v in one.videos] == ["h264", "vp9"]
    with pytest.raises(InvalidMediaError, match=r"^video bytes \(4 bytes\) "):
        Message.user("x", video=b"nope")  # named once: "video: video bytes" doubled it


def test_server_echoes_what_it_saw(fixtures_dir: Path) -> None:
    client = mmkit.Client("echo")
    reply = client.chat([Message.user("What?", video=fixtures_dir / "clip.webm")])
    assert "image 96×64 JPEG" in reply.text  # OpenAI-shaped: frames


def test_dicts_never_read_local_video_files(fixtures_dir: Path) -> None:
    path = str(fixtures_dir / "clip.mp4")
    openai = {"role": "user", "content": [{"type": "video_url", "video_url": {"url": path}}]}
    with pytest.raises(BlockedURLError, match="local_files=True"):
        mmkit.from_openai([openai])
    hf = {"role": "user", "content": [{"type": "video", "video": [str(fixtures_dir / "rgb.png")]}]}
    with pytest.raises(BlockedURLError, match="frame 1"):
        mmkit.from_hf([hf])
    with pytest.raises(BlockedURLError):
        mmkit.from_hf([{"role": "user", "content": [{"type": "video", "path": path}]}])
    with pytest.raises(BlockedURLError, match="never reads local files"):
        Message.model_validate({"role": "user", "content": [{"type": "video", "path": path}]})
    (trusted,) = mmkit.from_openai([openai], local_files=True)
    assert trusted.videos[0].codec == "h264"


# --- everywhere: inspect, notebook view ------------------------------------------------------


def test_inspect_says_what_each_target_gets(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mmkit.cli import main

    assert main(["inspect", str(fixtures_dir / "clip.avi"), "--target", "bytez"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "  sent to bytez: video/mp4 96×64 1.0 s, "
        + f"{len(Video(fixtures_dir / 'clip.avi').encoded().data):,} bytes",
        "  - converted AVI → MP4 (the target does not take it)",
        "  - re-encoded as H.264 MP4",
    ]
    assert main(["inspect", str(fixtures_dir / "clip.mp4"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "video"
    assert record["source"]["codec"] == "h264" and record["source"]["duration"] == 1.0
    assert record["sent"]["as"] == "frames" and record["sent"]["frames"] == 8
    assert record["sent"]["timestamps"] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8])
    assert record["conversions"] == ["video → 8 frames (the target reads no video)"]
    assert main(["inspect", str(fixtures_dir / "clip.webm"), "--video", "native", "--json"]) == 0
    sent = json.loads(capsys.readouterr().out)["sent"]
    size = (fixtures_dir / "clip.webm").stat().st_size  # sent as it is
    assert (sent["as"], sent["mime"], sent["bytes"]) == ("video", "video/webm", size)


def test_notebook_view_shows_a_strip_and_what_encoding_does(fixtures_dir: Path) -> None:
    html = Video(fixtures_dir / "clip_audio.mp4")._repr_html_()
    assert html.count("<img ") == 4
    assert "MP4 1.0 s 96×64 h264 10 fps, audio" in html
    assert "to OpenAI: video → 8 frames" in html
    message_html = Message.user("What?", video=fixtures_dir / "clip.mp4")._repr_html_()
    assert message_html.count("<img ") == 4


def test_the_sound_track_as_an_audio_part(fixtures_dir: Path) -> None:
    sound = Video(fixtures_dir / "clip_audio.mp4", start=0.5).audio(sample_rate=8000)
    assert (sound.codec, sound.sample_rate, sound.channels) == ("aac", 8000, 1)
    assert sound.duration == pytest.approx(0.5, abs=0.05)
    (message,) = mmkit.to_openai([Message.user("Transcribe", audio=sound)])
    assert message["content"][1]["type"] == "input_audio"
    with pytest.raises(UnsupportedFormatError, match="no sound track"):
        Video(fixtures_dir / "clip.mp4").audio()


def test_a_frame_list_longer_than_the_guard_is_refused_before_decoding() -> None:
    too_many = video_codec.MAX_LIST_FRAMES + 1
    with pytest.raises(MediaTooLargeError, match="4,097 frames"):
        Video([b"not even an image"] * too_many)
    hf = {
        "role": "user",
        "content": [{"type": "video", "video": ["https://x.test/a.png"] * too_many}],
    }
    with pytest.raises(MediaTooLargeError, match="limit for a list"):
        mmkit.from_hf([hf])


def test_headers_claiming_frames_that_nothing_decodes_are_an_error_not_an_empty_list() -> None:
    # Hypothesis found it: one byte flipped in the only packet's chunk id ("00dc" after "movi")
    buf = io.BytesIO()
    with av.open(buf, "w", format="avi") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    broken = bytearray(buf.getvalue())
    broken[broken.index(b"movi") + 4] ^= 0xFF
    video = Video(bytes(broken))  # the headers still read: 1 frame over 0.2 s
    with pytest.raises(InvalidMediaError) as raised:
        video.frames(4)
    assert str(raised.value) == (
        f"video bytes ({len(broken):,} bytes) has no frame that decodes (its headers claim "
        "0:00.0–0:00.2); re-encode it"
    )
