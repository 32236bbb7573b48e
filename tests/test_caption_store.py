"""The caption store's durability steps, and resume seeing a changed video (issue 14: tests that
go red when the behaviour they are for is removed)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import mmkit.caption as caption
from mmkit.caption import store as store_module
from mmkit.caption.records import Record
from mmkit.caption.store import JsonlStore


@pytest.fixture
def fsynced(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(device, inode) of every file fsynced through the store, in order. Durability cannot be
    seen from inside a running OS, so the calls are watched (and still made)."""
    calls: list[tuple[int, int]] = []
    real = os.fsync

    def watch(fd: int) -> None:
        info = os.fstat(fd)
        calls.append((info.st_dev, info.st_ino))
        real(fd)

    monkeypatch.setattr(os, "fsync", watch)  # the store calls os.fsync
    return calls


def identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def record(item_id: str) -> Record:
    return Record(item_id, f"{item_id}.jpg", "sha256:" + "0" * 64, "echo", "p", caption="c")


def test_closing_the_store_fsyncs_what_was_appended(
    tmp_path: Path, fsynced: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "FSYNC_EVERY", 3600.0)  # no timed fsync during the test
    out = tmp_path / "captions.jsonl"
    store = JsonlStore(out)
    store.append(record("a"))
    store.append(record("b"))
    assert fsynced == []  # appends reach the OS, not yet the disk

    store.close()

    assert fsynced == [identity(out)]
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "b"]


def test_repairing_a_torn_last_line_is_fsynced_before_anything_is_appended(
    tmp_path: Path, fsynced: list[tuple[int, int]]
) -> None:
    out = tmp_path / "captions.jsonl"
    whole = json.dumps(record("a").to_json()) + "\n"
    out.write_text(whole + '{"id": "b", "hash": "sha256:00')  # a write cut by a crash

    store = JsonlStore(out)

    assert store.repaired
    assert out.read_text() == whole
    assert fsynced == [identity(out)]  # the cut is on disk before new records follow it
    store.close()


def test_a_changed_video_is_captioned_again_on_resume(tmp_path: Path, fixtures_dir: Path) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    video = folder / "video.mp4"
    shutil.copy(fixtures_dir / "clip.mp4", video)  # 96×64, 1 s
    out = tmp_path / "captions.jsonl"
    options = {"model": "echo", "out": out, "frames": 2, "workers": 1}
    frames = 'text "Describe what happens in this video in o…"; text "frame at 0:00.0"; '

    first = caption.run([str(folder)], **options)
    again = caption.run([str(folder)], **options)
    shutil.copy(fixtures_dir / "rotated.mp4", video)  # a phone clip shown portrait: 64×96
    changed = caption.run([str(folder)], **options)

    assert (first.done, first.skipped) == (1, 0)
    assert (again.done, again.skipped) == (0, 1)
    assert (changed.done, changed.skipped) == (1, 0)
    (line,) = out.read_text().splitlines()
    assert json.loads(line)["caption"] == (
        frames + 'image 64×96 JPEG; text "frame at 0:00.5"; image 64×96 JPEG'
    )
