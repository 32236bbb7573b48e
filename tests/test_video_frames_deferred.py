"""Frames from `Video.frames()` hold their decoded pixels; the JPEG each is sent as is made only
when it is first needed (sending, `data`, `nbytes`, a dump, a pickle), never for a caller who
only reads pixels."""

from __future__ import annotations

import base64
import copy
import io
import json
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image as PILImage

import mmkit
from mmkit import Image, Message, Video


@pytest.fixture
def jpeg_encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts JPEG encodes (Pillow's own JPEG writer still does the work)."""
    seen: list[int] = []
    PILImage.init()  # every plugin registered, as on a first save
    save: Callable[..., Any] = PILImage.SAVE["JPEG"]

    def counted(image: PILImage.Image, fp: Any, filename: Any) -> Any:
        seen.append(1)
        return save(image, fp, filename)

    monkeypatch.setitem(PILImage.SAVE, "JPEG", counted)
    return seen


def decoded(path: Path) -> list[np.ndarray[Any, Any]]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_frames_read_as_pixels_make_no_jpeg_and_sending_makes_each_once(
    fixtures_dir: Path, jpeg_encodes: list[int]
) -> None:
    path = fixtures_dir / "clip.mp4"
    frames = Video(path).frames(4)  # the frames at 0.0, 0.2, 0.5, 0.7 s
    for frame in frames:
        frame.to_pil()
        frame.to_numpy()
        repr(frame)
        assert "<img" in frame._repr_html_()  # the notebook view: a PNG thumbnail of the pixels
    assert jpeg_encodes == []
    wire = mmkit.to_openai([Message.user("what happens?", images=frames)])
    assert len(jpeg_encodes) == 4
    mmkit.to_openai([Message.user("and now?", images=frames)])  # made once, sent twice
    assert len(jpeg_encodes) == 4
    plain = decoded(path)
    urls = [p["image_url"]["url"] for p in wire[0]["content"] if p["type"] == "image_url"]
    assert len(urls) == 4
    for url, index in zip(urls, [0, 2, 5, 7], strict=True):
        head, b64 = url.split(",", 1)
        assert head == "data:image/jpeg;base64"
        sent = PILImage.open(io.BytesIO(base64.b64decode(b64)))
        assert (sent.format, sent.size) == ("JPEG", (96, 64))
        error = np.asarray(sent.convert("RGB"), dtype=np.float64) - plain[index]
        psnr = 10 * np.log10(255**2 / np.mean(error**2))
        assert psnr > 30  # the frame itself, JPEG-compressed


def test_a_frame_reads_and_dumps_as_one_built_from_its_jpeg(fixtures_dir: Path) -> None:
    (frame,) = Video(fixtures_dir / "clip.mp4").frames(1)
    assert repr(frame) == "Image(fixtures/clip.mp4 frame at 0:00.0 JPEG 96×64)".replace(
        "fixtures/", f"{fixtures_dir}/"
    )  # no byte count until the bytes are made: a repr never encodes
    message = Message.user("what is this?", images=[frame])
    dumped = json.loads(message.model_dump_json())["content"][1]
    data = base64.urlsafe_b64decode(dumped["data"])  # pydantic writes bytes URL-safe
    assert data[:3] == b"\xff\xd8\xff" and data == frame.data
    assert frame.nbytes == len(data)
    assert repr(frame).endswith(f"JPEG 96×64, {len(data):,} bytes)")
    built = Image(data)
    built.timestamp = 0.0
    rebuilt = json.loads(Message.user("what is this?", images=[built]).model_dump_json())
    # the same fields in the same order: only where the bytes came from differs
    assert list(dumped) == list(rebuilt["content"][1])
    assert {k: v for k, v in dumped.items() if k != "origin"} == {
        k: v for k, v in rebuilt["content"][1].items() if k != "origin"
    }
    again = Message.model_validate_json(message.model_dump_json())
    assert again == message and again.images[0].data == data


def test_a_frame_pickles_with_its_jpeg_and_leaves_its_pixels_behind(fixtures_dir: Path) -> None:
    path = fixtures_dir / "clip.mp4"
    frame = Video(path).frames(2)[1]  # the frame at 0.5 s
    pickled = pickle.dumps(frame)
    assert len(pickled) < 96 * 64 * 3  # not the pixels: the JPEG (1.6 KB) and the fields
    there = pickle.loads(pickled)
    assert there.data == frame.data and there.timestamp == 0.5
    assert there.to_pil().size == (96, 64)  # decoded from the JPEG there
    # the original still hands out its exact pixels
    assert np.array_equal(frame.to_numpy(), decoded(path)[5])


def test_copies_of_a_frame_make_their_own_jpeg_from_the_same_pixels(fixtures_dir: Path) -> None:
    (frame,) = Video(fixtures_dir / "clip.mp4").frames(1)
    deep, shallow = copy.deepcopy(frame), copy.copy(frame)
    assert deep.data == shallow.data == frame.data
    assert np.array_equal(deep.to_numpy(), frame.to_numpy())


def read_at_once(part: Image, threads: int) -> list[bytes | None]:
    """`part.data` read by `threads` threads released together."""
    start = threading.Barrier(threads)
    got: list[bytes | None] = []

    def read() -> None:
        start.wait(timeout=10)
        got.append(part.data)

    running = [threading.Thread(target=read) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join(timeout=10)
    return got


def test_threads_reading_one_frame_at_once_all_get_its_jpeg(fixtures_dir: Path) -> None:
    for _ in range(20):
        (frame,) = Video(fixtures_dir / "clip.mp4").frames(1)
        got = read_at_once(frame, 8)
        assert len(got) == 8 and got[0] is not None and got[0][:3] == b"\xff\xd8\xff"
        assert all(data == got[0] for data in got)
        dumped = json.loads(frame.model_dump_json())["data"]
        assert dumped == base64.urlsafe_b64encode(got[0]).decode()
