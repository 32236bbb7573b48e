"""How sampling uses the cores: a decoder per keyframe group, FFmpeg threads for the cores left
over; and frames that are the same whichever way the work is split."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mmkit import Video
from mmkit.media.video import sampling
from mmkit.media.video.sampling import decoders_and_threads


@pytest.mark.parametrize(
    ("cores", "groups", "workers", "most", "expected"),
    [
        (2, 8, None, 16, (2, 1)),  # this machine, 8 frames: two single-threaded decoders
        (2, 30, None, 16, (2, 1)),  # 32 frames over a 60-s clip with a keyframe every 2 s
        (2, 1, None, 16, (1, 2)),  # one group: one decoder on both cores
        (1, 8, None, 16, (1, 1)),
        (16, 8, None, 16, (8, 2)),  # 8 frames on 16 cores: a decoder a group, 2 threads each
        (16, 30, None, 16, (16, 1)),  # 32 frames: a decoder a core
        (16, 2, None, 16, (2, 8)),
        (16, 30, None, 2, (2, 8)),  # 4K: memory allows 2 decoders, they get 8 threads each
        (64, 30, None, 16, (16, 4)),  # never more than 16 decoders
        (6, 4, None, 16, (4, 1)),  # 6 // 4: the two spare cores are not split unevenly
        (16, 8, 1, 16, (1, 16)),  # workers=1 asked for: that one decoder gets every core
    ],
)
def test_decoders_and_threads_share_out_the_cores(
    cores: int, groups: int, workers: int | None, most: int, expected: tuple[int, int]
) -> None:
    assert decoders_and_threads(cores, groups, workers, most) == expected


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [(1280, 720, 16), (1920, 1080, 8), (3840, 2160, 2), (7680, 4320, 1), (96, 64, 16)],
)
def test_memory_sets_how_many_decoders_run_at_once(width: int, height: int, expected: int) -> None:
    # 512 MiB of decoded frames, 20 YUV 4:2:0 frames a decoder: 1080p 62 MB each, 4K 249 MB
    assert sampling.most_decoders(width, height) == expected


@pytest.mark.parametrize("name", ["clip.mp4", "clip.webm", "clip.ts", "vfr.mp4", "keyframes.mp4"])
def test_frames_are_the_same_on_one_core_and_on_sixteen(
    fixtures_dir: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = {}
    for cores in (1, 16):  # one plain decoder; or decoders with FFmpeg's frame threads
        monkeypatch.setattr(sampling, "_cores", lambda cores=cores: cores)
        frames = Video(fixtures_dir / name).frames(5)
        got[cores] = [(frame.timestamp, frame.to_pil().tobytes()) for frame in frames]
    assert [t for t, _ in got[16]] == [t for t, _ in got[1]]
    assert got[16] == got[1]


def test_cores_are_the_ones_this_process_may_run_on() -> None:
    code = (
        "import os; os.sched_setaffinity(0, {0}); "
        "from mmkit.media.video.sampling import _cores; print(_cores())"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert out.stdout.strip() == "1", out.stderr


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_a_lone_decoder_runs_ffmpeg_threads_on_the_spare_cores(
    fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmkit.media.video import decode

    running: list[int] = []
    upright = decode._upright

    def counting(*args: Any, **kwargs: Any) -> Any:  # called while the decoder is open
        running.append(len(os.listdir("/proc/self/task")))
        return upright(*args, **kwargs)

    monkeypatch.setattr(sampling, "_upright", counting)
    most = {}
    for cores in (1, 4):  # clip.mp4 has one keyframe: one group, one decoder
        monkeypatch.setattr(sampling, "_cores", lambda cores=cores: cores)
        running.clear()
        Video(fixtures_dir / "clip.mp4").frames(3)
        most[cores] = max(running)
    assert most[4] >= most[1] + 3, most  # its own 4 threads, where one core gave it none
