"""`mmkit inspect --target anthropic|gemini` and `mmkit caption` with anthropic/ and gemini/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mmkit.cli import main


def test_inspect_for_anthropic_converts_bmp_and_sends_video_as_frames(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(fixtures_dir / "image.bmp"), str(fixtures_dir / "clip.mkv")]
    assert main(["inspect", "--target", "anthropic", *files]) == 0

    out = capsys.readouterr().out
    assert "sent to anthropic: image/jpeg 100×80" in out
    assert "sent to anthropic: 8 96×64 frames" in out


def test_inspect_for_anthropic_refuses_audio_saying_why(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", "--target", "anthropic", str(fixtures_dir / "tone.wav")]) == 1

    err = capsys.readouterr().err
    assert "tone.wav: error: message 1, part 1: Anthropic's Messages API reads no audio" in err


def test_inspect_for_gemini_sends_audio_and_video_inline(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(fixtures_dir / "tone.flac"), str(fixtures_dir / "clip.mkv")]
    assert main(["inspect", "--target", "gemini", "--json", *files]) == 0

    audio, video = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert audio["sent"]["mime"] == "audio/flac" and audio["conversions"] == []
    assert video["sent"]["mime"] == "video/mp4"
    assert "converted MKV → MP4 (the target does not take it)" in video["conversions"]


def captions(path: Path) -> dict[str, Any]:
    records = (json.loads(line) for line in path.read_text().splitlines())
    return {Path(r["source"]).name: r.get("caption") or r["error"]["message"] for r in records}


def test_caption_with_gemini_echo(fixtures_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("rgb.png", "tone.wav", "clip.mp4"):
        shutil.copy(fixtures_dir / name, folder / name)
    out = tmp_path / "captions.jsonl"

    command = ["caption", "--model", "gemini/echo", "--prompt", "Describe it.", "--out", str(out)]
    assert main([*command, str(folder)]) == 0

    assert captions(out) == {
        "rgb.png": 'text "Describe it."; image 320×240 PNG',
        "tone.wav": 'text "Describe it."; audio 1.0 s 16 kHz mono',
        "clip.mp4": 'text "Describe it."; video 1.0 s 96×64 h264',
    }


def test_caption_with_anthropic_echo_records_the_audio_refusal(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("photo.jpg", "tone.wav"):
        shutil.copy(fixtures_dir / name, folder / name)
    out = tmp_path / "captions.jsonl"

    command = [
        "caption",
        "--model",
        "anthropic/echo",
        "--prompt",
        "Describe it.",
        "--out",
        str(out),
    ]
    status = main([*command, str(folder)])

    assert status == 1  # a failed item is recorded and the run says so (exit 1)
    assert "failed: 1\n  UnsupportedFormatError: 1" in capsys.readouterr().out
    found = captions(out)
    assert found["photo.jpg"] == 'text "Describe it."; image 320×240 JPEG'
    assert "Anthropic's Messages API reads no audio" in found["tone.wav"]
