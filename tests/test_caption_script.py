"""`mmkit.caption` as people paste it: the README's snippet run as a plain script (no
`if __name__ == "__main__":` guard), in a child process with a time limit."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_caption_snippet() -> str:
    """The Python block of the README's "Captioning a dataset" section that calls run()."""
    section = (ROOT / "README.md").read_text().split("## Captioning a dataset", 1)[1]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return next(block for block in blocks if "mmkit.caption.run(" in block)


# How people run a pasted snippet: a script, a module of their own (`python -m`), the REPL.
WAYS = {
    "script": (["script.py"], None),
    "module": (["-m", "script"], None),
    "repl": (["-i", "-q"], "script.py"),  # the snippet typed into the interactive interpreter
}


@pytest.mark.parametrize("way", sorted(WAYS))
def test_the_readme_snippet_captions_every_fixture_without_a_main_guard(
    tmp_path: Path, fixtures_dir: Path, way: str
) -> None:
    snippet = readme_caption_snippet()
    assert "__main__" not in snippet  # pasted as it is: no guard
    shutil.copytree(fixtures_dir, tmp_path / "photos")
    (tmp_path / "script.py").write_text(snippet)
    arguments, typed = WAYS[way]
    process = subprocess.Popen(  # its own group: a hung run's workers are ended with it
        [sys.executable, *arguments],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(
            (tmp_path / typed).read_text() + "\n" if typed else "", timeout=90
        )
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    output = stdout + stderr
    assert "bootstrapping phase" not in output
    assert "BrokenProcessPool" not in output
    assert process.returncode == 0, output
    assert "captioned: " in stdout
    records = {
        r["id"]: r for r in map(json.loads, (tmp_path / "captions.jsonl").read_text().splitlines())
    }
    media = ["rgb.png", "rgba.png", "palette.png", "gray.png", "gray16.png", "photo.jpg"]
    media += ["exif_rotated.jpg", "cmyk.jpg", "photo.webp", "still.gif", "animated.gif"]
    media += ["image.bmp", "image.tiff", "wrong_extension.png", "clip.mp4", "tone.wav"]
    media += ["tone.flac", "tone_opus.ogg", "clip.webm", "clip.mkv"]
    for name in media:
        assert "caption" in records[f"photos/{name}"], records[f"photos/{name}"]
    assert records["photos/truncated.jpg"]["error"]["type"] == "InvalidMediaError"
    assert not [r for r in records.values() if "error" in r and "Pool" in r["error"]["type"]]
