"""mmkit caption: inputs, records, resume, faults and rate limits, against real local servers."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import make_images, serve_folder, wait_until

import mmkit.caption as caption
from mmkit.caption.store import JsonlStore
from mmkit.errors import ConfigError
from mmkit.server import RunningServer, ServerOptions, serve_in_thread

PROMPT = "Describe this image in one sentence."


def read_records(path: Path) -> list[dict[str, object]]:
    """Every line of a JSONL output, parsed; fails on any line that is not a whole record."""
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def by_id(records: list[dict[str, object]]) -> dict[str, dict[str, object]]:
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "an id has two records"
    return {str(r["id"]): r for r in records}


@pytest.fixture
def mixed(tmp_path: Path, fixtures_dir: Path) -> Path:
    """A folder with good media, a corrupt file, non-media files and a nested folder."""
    folder = tmp_path / "data"
    make_images(folder, 3)
    make_images(folder / "nested", 2, start=3)
    shutil.copy(fixtures_dir / "truncated.jpg", folder / "broken.jpg")
    (folder / "notes.txt").write_text("not an image")
    (folder / "random.jpg").write_bytes(b"\x00\x01 random bytes with an image name")
    (folder / "nested" / "data.csv").write_text("a,b\n1,2\n")
    return folder


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Images served over HTTP on 127.0.0.1, and the folder they come from."""
    folder = tmp_path / "web"
    make_images(folder, 2, start=10)
    (folder / "page.html").write_text("<html>not media</html>")
    with serve_folder(folder) as base:
        yield base, folder


def write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run(inputs: list[str], out: Path, server: RunningServer, **options: object) -> caption.Summary:
    settings: dict[str, object] = {
        "model": "gemma-3",
        "base_url": f"{server.base_url}/v1",
        "out": out,
        "workers": 1,
        "concurrency": 4,
    }
    settings.update(options)
    return caption.run(inputs, **settings)


# --- inputs and records ---------------------------------------------------------------------------


def test_a_mixed_folder_and_a_url_manifest_give_one_record_per_media_item(
    mixed: Path, web: tuple[str, Path], tmp_path: Path, server: RunningServer
) -> None:
    base, _ = web
    manifest = write_manifest(
        tmp_path / "lists" / "urls.jsonl",
        [
            {"url": f"{base}/img0010.jpg", "id": "web-a", "prompt": "What colour is it?"},
            {"url": f"{base}/img0011.png"},
            {"url": f"{base}/missing.png", "id": "web-missing"},
            {"url": f"{base}/page.html", "id": "web-page"},
        ],
    )
    out = tmp_path / "captions.jsonl"
    summary = run([str(mixed), str(manifest)], out, server, allow_private_urls=True)

    records = by_id(read_records(out))
    d = mixed.as_posix()
    captioned = {
        f"{d}/img0000.jpg": "image 64×48 JPEG",
        f"{d}/img0001.png": "image 64×48 PNG",
        f"{d}/img0002.jpg": "image 64×48 JPEG",
        f"{d}/nested/img0003.png": "image 64×48 PNG",
        f"{d}/nested/img0004.jpg": "image 64×48 JPEG",
        "web-a": "image 64×48 JPEG",
        f"{base}/img0011.png": "image 64×48 PNG",
    }
    failed = {
        f"{d}/broken.jpg": "InvalidMediaError",
        "web-missing": "FetchError",
        "web-page": "InvalidMediaError",
    }
    assert set(records) == set(captioned) | set(failed)  # nothing for the non-media files
    for item_id, seen in captioned.items():
        record = records[item_id]
        prompt = "What colour is it?" if item_id == "web-a" else PROMPT
        assert record["caption"] == f'text "{prompt}"; {seen}'
        assert record["prompt"] == prompt and record["model"] == "gemma-3"
        assert str(record["hash"]).startswith("sha256:") and record["attempts"] == 1
        assert isinstance(record["latency"], float)
        usage = record["usage"]
        assert isinstance(usage, dict) and usage["completion_tokens"] > 0
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
        assert "error" not in record
    for item_id, kind in failed.items():
        error = records[item_id]["error"]
        assert isinstance(error, dict) and error["type"] == kind and error["message"]
        assert "caption" not in records[item_id]
    assert summary.done == 7 and summary.failed == {"InvalidMediaError": 2, "FetchError": 1}
    assert summary.not_media == 3  # notes.txt, random.jpg, data.csv
    assert summary.items == 10


def test_a_rerun_sends_nothing_and_writes_nothing(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "captions.jsonl"
    with serve_in_thread() as server:
        first = run([str(mixed)], out, server)
        before, requests = out.read_bytes(), server.stats.total
        again = run([str(mixed)], out, server)
        assert server.stats.total == requests
    assert out.read_bytes() == before
    assert (first.done, first.failures) == (5, 1)
    assert (again.done, again.failures, again.skipped) == (0, 0, 6)


def test_the_summary_gives_the_exit_status_a_script_should_return(
    mixed: Path, tmp_path: Path, server: RunningServer
) -> None:
    out = tmp_path / "captions.jsonl"
    first = run([str(mixed)], out, server)  # broken.jpg fails
    again = run([str(mixed)], out, server)  # everything is skipped
    assert (first.failures, first.exit_code) == (1, 1)
    assert (again.skipped, again.exit_code) == (6, 0)


def test_a_missing_input_stops_the_run_before_anything_is_written(
    mixed: Path, tmp_path: Path, server: RunningServer
) -> None:
    out = tmp_path / "captions.jsonl"
    with pytest.raises(ConfigError, match=f"no such file, folder or glob match: {tmp_path}/nope"):
        run([str(mixed), str(tmp_path / "nope")], out, server)
    assert not out.exists()


def test_failed_items_are_retried_only_when_asked(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "captions.jsonl"
    with serve_in_thread(ServerOptions(fail_first=5, fail_status=400)) as refusing:
        first = run([str(mixed)], out, refusing)  # the five images are refused, once each
        plain = run([str(mixed)], out, refusing)
        retried = run([str(mixed)], out, refusing, retry_failed=True)
    assert first.failed == {"BadRequestError": 5, "InvalidMediaError": 1}
    assert (plain.done, plain.skipped, plain.requests) == (0, 6, 0)
    assert (retried.done, retried.failures, retried.skipped) == (5, 1, 0)
    records = by_id(read_records(out))
    assert len(records) == 6
    assert records[f"{mixed.as_posix()}/img0000.jpg"]["caption"] == (
        f'text "{PROMPT}"; image 64×48 JPEG'
    )
    assert records[f"{mixed.as_posix()}/broken.jpg"]["error"]["type"] == "InvalidMediaError"  # type: ignore[index]


def free_port() -> int:
    """A loopback port with nothing listening on it (until something binds it again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_items_that_failed_while_the_server_was_down_are_captioned_by_a_plain_rerun(
    mixed: Path, tmp_path: Path
) -> None:
    out = tmp_path / "captions.jsonl"
    port = free_port()
    settings: dict[str, object] = {
        "model": "gemma-3",
        "base_url": f"http://127.0.0.1:{port}/v1",
        "out": out,
        "workers": 1,
        "retries": 1,
    }
    down = caption.run([str(mixed)], **settings)  # connection refused, retried, given up
    assert (down.done, down.failures, down.transient, down.exit_code) == (0, 6, 5, 1)
    assert "failed: 6 (5 not the item's fault: a plain rerun tries them again)" in str(down)
    records = by_id(read_records(out))
    images = [i for i in records if not i.endswith("broken.jpg")]
    assert len(images) == 5
    assert all(records[i]["error"]["transient"] is True for i in images)  # type: ignore[index]
    broken = records[f"{mixed.as_posix()}/broken.jpg"]["error"]
    assert isinstance(broken, dict)
    assert (broken["type"], broken["transient"]) == ("InvalidMediaError", False)  # the item's

    with serve_in_thread(port=port) as up:  # the server is back, on the same address
        rerun = caption.run([str(mixed)], **settings)
        assert up.stats.total == 5
    assert (rerun.done, rerun.skipped, rerun.failures, rerun.exit_code) == (5, 1, 0, 0)
    records = by_id(read_records(out))  # one record per id: the new ones
    assert len(records) == 6
    assert records[f"{mixed.as_posix()}/img0000.jpg"]["caption"] == (
        f'text "{PROMPT}"; image 64×48 JPEG'
    )
    assert all("caption" in records[i] for i in images)


def test_a_5xx_after_the_retries_is_tried_again_and_a_400_is_the_items(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 2)
    out = tmp_path / "captions.jsonl"
    with serve_in_thread(ServerOptions(fail_first=2, fail_status=503)) as failing:
        first = run([str(folder)], out, failing, retries=0)
        assert (first.failed, first.transient) == ({"ServerError": 2}, 2)
        second = run([str(folder)], out, failing, retries=0)
    assert (second.done, second.skipped) == (2, 0)
    refused = tmp_path / "refused.jsonl"
    with serve_in_thread(ServerOptions(fail_first=2, fail_status=400)) as refusing:
        first = run([str(folder)], refused, refusing)
        assert (first.failed, first.transient) == ({"BadRequestError": 2}, 0)
        second = run([str(folder)], refused, refusing)
    assert (second.done, second.skipped, second.requests) == (0, 2, 0)
    assert all(r["error"]["transient"] is False for r in read_records(refused))  # type: ignore[index]


def test_changed_content_is_captioned_again_and_replaces_its_record(
    mixed: Path, tmp_path: Path, server: RunningServer
) -> None:
    out = tmp_path / "captions.jsonl"
    run([str(mixed)], out, server)
    make_images(mixed, 1, size=(32, 32))  # img0000.jpg, new content
    summary = run([str(mixed)], out, server)
    assert (summary.done, summary.skipped) == (1, 5)
    records = by_id(read_records(out))
    assert (
        records[f"{mixed.as_posix()}/img0000.jpg"]["caption"]
        == f'text "{PROMPT}"; image 32×32 JPEG'
    )


def test_a_rerun_that_asks_another_thing_captions_again(
    tmp_path: Path, server: RunningServer
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 2)
    out = tmp_path / "captions.jsonl"
    assert run([str(folder)], out, server).done == 2
    asks: list[dict[str, object]] = [
        {"prompt": "What colour is it?"},
        {"prompt": "What colour is it?", "system": "Answer in French."},
        {"prompt": "What colour is it?", "system": "Answer in French.", "temperature": 0.2},
        {"prompt": "What colour is it?", "system": "Answer in French.", "params": {"top_k": 3}},
        {"prompt": "What colour is it?", "model": "gemma-3-27b"},
    ]
    for ask in asks:
        summary = run([str(folder)], out, server, **ask)
        assert (summary.done, summary.skipped) == (2, 0), ask
        same = run([str(folder)], out, server, **ask)
        assert (same.done, same.skipped) == (0, 2), ask
    records = by_id(read_records(out))  # one record per id: the newest
    assert len(records) == 2
    newest = records[f"{folder.as_posix()}/img0000.jpg"]
    assert (newest["prompt"], newest["model"]) == ("What colour is it?", "gemma-3-27b")
    assert newest["caption"] == 'text "What colour is it?"; image 64×48 JPEG'


def test_a_dry_run_reports_every_item_and_what_a_run_would_skip(
    tmp_path: Path, server: RunningServer
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 3)
    out = tmp_path / "captions.jsonl"
    run([str(folder)], out, server)
    make_images(folder, 1, start=3)  # one new item
    before, requests = out.read_bytes(), server.stats.total
    dry = run([str(folder)], out, server, dry_run=True)
    assert (dry.items, dry.done, dry.skipped, dry.failures) == (4, 4, 3, 0)
    assert dry.estimated_tokens == 4 * (255 + 9)  # every item, done or not
    assert "dry run: encoded: 4 of 4 items" in str(dry)
    assert "a run would skip (already done): 3" in str(dry)
    assert out.read_bytes() == before and server.stats.total == requests
    asked_again = run([str(folder)], out, server, dry_run=True, prompt="Another question?")
    assert (asked_again.done, asked_again.skipped) == (4, 0)


def test_a_torn_last_line_is_repaired_and_its_item_redone(
    mixed: Path, tmp_path: Path, server: RunningServer
) -> None:
    out = tmp_path / "captions.jsonl"
    run([str(mixed)], out, server)
    lines = out.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # cut mid-line
    summary = run([str(mixed)], out, server)
    assert summary.done + summary.failures == 1 and summary.skipped == 5
    assert len(by_id(read_records(out))) == 6


def test_a_line_in_the_middle_that_is_not_a_record_stops_the_run(tmp_path: Path) -> None:
    out = tmp_path / "captions.jsonl"
    out.write_text('{"id": "a", "hash": null}\nhello\n{"id": "b", "hash": null}\n')
    with pytest.raises(ConfigError, match="line 2 is not an mmkit caption record"):
        JsonlStore(out)
    assert out.read_text().count("\n") == 3  # untouched


# --- manifests: the trust rule --------------------------------------------------------------------


def test_manifest_paths_stay_inside_the_manifest_folder(
    tmp_path: Path, server: RunningServer
) -> None:
    lists = tmp_path / "lists"
    make_images(lists / "imgs", 1)
    outside = make_images(tmp_path / "private", 1, start=5)[0]
    (lists / "link.jpg").symlink_to(outside)
    manifest = lists / "m.csv"
    manifest.write_text(
        "path,id\n"
        "imgs/img0000.jpg,inside\n"
        f"{outside},absolute\n"
        "../private/img0005.png,dotdot\n"
        "link.jpg,link\n"
        "file:///etc/passwd,scheme\n"
    )
    out = tmp_path / "captions.jsonl"
    run([str(manifest)], out, server)
    records = by_id(read_records(out))
    assert "caption" in records["inside"]
    for refused in ("absolute", "dotdot", "link"):
        error = records[refused]["error"]
        assert isinstance(error, dict) and error["type"] == "PermissionError"
        assert "the folder this manifest's paths must stay in" in error["message"]
    assert records["scheme"]["error"]["type"] == "UnsupportedFormatError"  # type: ignore[index]

    wider = run([str(manifest)], tmp_path / "wide.jsonl", server, manifest_root=str(tmp_path))
    records = by_id(read_records(tmp_path / "wide.jsonl"))
    assert all("caption" in records[i] for i in ("inside", "absolute", "dotdot", "link"))
    assert wider.done == 4


def test_manifest_urls_to_private_addresses_are_blocked_by_default(
    web: tuple[str, Path], tmp_path: Path, server: RunningServer
) -> None:
    base, _ = web
    manifest = write_manifest(tmp_path / "m.jsonl", [{"url": f"{base}/img0010.jpg", "id": "a"}])
    out = tmp_path / "captions.jsonl"
    run([str(manifest)], out, server)
    assert read_records(out)[0]["error"]["type"] == "BlockedURLError"  # type: ignore[index]


# --- faults and rate limits -----------------------------------------------------------------------


def test_429s_5xx_and_dropped_connections_still_caption_every_item(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 40)
    out = tmp_path / "captions.jsonl"
    faults = ServerOptions(rate_429=0.15, retry_after=0.05, rate_5xx=0.1, rate_drop=0.05, seed=7)
    with serve_in_thread(faults) as server:
        summary = run([str(folder)], out, server, concurrency=8)
        stats = server.stats
    records = by_id(read_records(out))
    assert len(records) == 40 and all("caption" in r for r in records.values())
    assert summary.done == 40 and summary.failures == 0
    assert stats.by_status.get(429, 0) > 0 and stats.by_status.get(503, 0) > 0 and stats.dropped > 0
    assert summary.rate_limited == stats.by_status[429]
    assert summary.requests == stats.total == 40 + summary.retries
    assert sum(int(r["attempts"]) for r in records.values()) == stats.total  # type: ignore[call-overload]


def test_the_request_rate_drops_while_the_server_answers_429_and_recovers(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 200, size=(16, 16))
    # 80 answered, then 16 refused with Retry-After 0.2 s, then service again.
    script = (200,) * 80 + (429,) * 16
    samples: list[tuple[float, int, int]] = []  # (time, requests, 429s) seen by the server
    with serve_in_thread(ServerOptions(script=script, retry_after=0.2, latency=0.01)) as server:
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                stats = server.stats
                samples.append((time.monotonic(), stats.total, stats.by_status.get(429, 0)))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            summary = run([str(folder)], tmp_path / "out.jsonl", server, concurrency=8)
        finally:
            done.set()
            sampler.join()
    assert summary.done == 200 and summary.rate_limited == 16

    def first(condition: object) -> tuple[float, int, int]:
        return next(s for s in samples if condition(s))  # type: ignore[operator]

    t0, _, _ = first(lambda s: s[1] > 0)
    t1, n1, _ = first(lambda s: s[2] > 0)  # the first 429 answered
    t2, n2, _ = first(lambda s: s[2] == 16)  # the last 429 answered
    t3, n3, _ = first(lambda s: s[1] >= n2 + 40)  # the window has grown back by now...
    t4, n4, _ = first(lambda s: s[1] >= n2 + 100)
    before = n1 / (t1 - t0)
    during = (n2 - n1) / (t2 - t1)
    after = (n4 - n3) / (t4 - t3)  # ...so the rate is back near where it was
    print(f"rates: before {before:.0f}/s, during 429s {during:.0f}/s, after {after:.0f}/s")
    assert during < before / 3, (before, during, after)
    assert after > before * 0.4, (before, during, after)  # 0.35 with no additive increase


def test_a_rate_ceiling_spaces_the_requests(tmp_path: Path, server: RunningServer) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 6, size=(8, 8))
    started = time.monotonic()
    summary = run([str(folder)], tmp_path / "out.jsonl", server, rate=600)  # one per 0.1 s
    assert summary.done == 6
    assert time.monotonic() - started >= 0.5  # five gaps of 0.1 s at least


@contextlib.contextmanager
def hostile_server() -> Iterator[int]:
    """tests/hostile_server.py in a child process (it stops when its stdin closes): its port."""
    here = Path(__file__).resolve().parent
    process = subprocess.Popen(
        [sys.executable, str(here / "hostile_server.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield int(process.stdout.readline())
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_timeout_bounds_a_request_whose_answer_drips_forever(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 1)
    out = tmp_path / "captions.jsonl"
    with hostile_server() as port:
        command = [
            sys.executable,
            "-m",
            "mmkit.cli",
            "caption",
            str(folder),
            "--model",
            "gemma-3",
            "--base-url",
            f"http://127.0.0.1:{port}/drip-body",  # 200, then one byte every 0.1 s, forever
            "--out",
            str(out),
            "--workers",
            "0",
            "--timeout",
            "1",
            "--retries",
            "1",
        ]
        done = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )  # cwd: the mmkit under test, not one in the folder the tests started from
    assert done.returncode == 1, done.stderr
    (record,) = read_records(out)
    assert record["id"] == f"{folder.as_posix()}/img0000.jpg"
    assert record["error"]["type"] == "TotalTimeoutError"  # type: ignore[index]
    assert "total timeout of 1 s is used up" in record["error"]["message"]  # type: ignore[index]
    assert record["attempts"] == 2  # each try has the whole --timeout
    assert record["error"]["transient"] is True  # type: ignore[index]  # a rerun tries it again


# --- stops: kill -9 and Ctrl-C --------------------------------------------------------------------


def caption_command(folder: Path, out: Path, server: RunningServer, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mmkit.cli",
        "caption",
        str(folder),
        "--model",
        "gemma-3",
        "--base-url",
        f"{server.base_url}/v1",
        "--out",
        str(out),
        "--concurrency",
        "4",
        "--workers",
        "1",
        *extra,
    ]


def _group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def test_runs_killed_at_random_points_end_with_one_record_per_item(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 60, size=(16, 16))
    out = tmp_path / "captions.jsonl"
    draw = random.Random(1234)
    cut_short = 0
    with serve_in_thread(ServerOptions(latency=0.05)) as server:
        command = caption_command(folder, out, server)
        for _ in range(4):
            have = len(out.read_bytes().splitlines()) if out.exists() else 0
            kill_after = have + draw.randint(1, (60 - have) // 3)  # records, then a random pause
            process = subprocess.Popen(  # its own process group: the run and all it started
                command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
            )
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and process.poll() is None:
                if out.exists() and out.read_bytes().count(b"\n") >= kill_after:
                    break
                time.sleep(0.002)
            time.sleep(draw.uniform(0, 0.06))
            process.send_signal(signal.SIGKILL)
            process.wait()
            try:  # its encoding processes notice the run is gone and end too
                assert wait_until(functools.partial(_group_gone, process.pid), timeout=15)
            finally:
                _kill_group(process.pid)
            lines = out.read_bytes().splitlines(keepends=True)
            whole = [json.loads(line) for line in lines if line.endswith(b"\n")]
            by_id(whole)  # never two records for one id, even right after a kill
            cut_short += 0 < len(whole) < 60
        finished = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    records = by_id(read_records(out))
    assert len(records) == 60 and all("caption" in r for r in records.values())
    assert cut_short == 4  # every kill landed in the middle of a run


def test_ctrl_c_stops_cleanly_with_a_valid_file(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 60, size=(16, 16))
    out = tmp_path / "captions.jsonl"
    with serve_in_thread(ServerOptions(latency=0.1)) as server:
        process = subprocess.Popen(
            caption_command(folder, out, server), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 20
        while not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate(timeout=20)
    assert process.returncode == 130
    assert b"interrupted" in stdout
    records = by_id(read_records(out))
    assert 0 < len(records) < 60


def test_videos_are_captioned_from_sampled_frames(
    fixtures_dir: Path, tmp_path: Path, server: RunningServer
) -> None:
    out = tmp_path / "captions.jsonl"
    summary = run([str(fixtures_dir / "clip.mp4")], out, server, frames=3, max_side=48)
    (record,) = read_records(out)
    assert summary.done == 1
    assert record["prompt"] == "Describe what happens in this video in one sentence."
    assert record["caption"] == (
        'text "Describe what happens in this video in o…"; '  # the server cuts texts at 40, marked
        'text "frame at 0:00.0"; image 48×32 JPEG; text "frame at 0:00.3"; image 48×32 JPEG; '
        'text "frame at 0:00.6"; image 48×32 JPEG'
    )


def test_audio_is_captioned(fixtures_dir: Path, tmp_path: Path, server: RunningServer) -> None:
    out = tmp_path / "captions.jsonl"
    run([str(fixtures_dir / "tone.wav")], out, server)
    (record,) = read_records(out)
    assert record["prompt"] == "Describe this recording in one sentence."
    assert (
        record["caption"]
        == 'text "Describe this recording in one sentence."; audio 1.0 s 16 kHz mono'
    )


# --- forms: dry run, iterator, Parquet, the command line ------------------------------------------


def test_a_dry_run_encodes_everything_and_sends_nothing(
    tmp_path: Path, server: RunningServer
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 2, size=(1024, 1024))
    before = server.stats.total
    summary = run([str(folder)], tmp_path / "out.jsonl", server, dry_run=True, max_side=512)
    assert server.stats.total == before and not (tmp_path / "out.jsonl").exists()
    assert summary.done == 2 and summary.sent_bytes > 0 and summary.source_bytes > 0
    # OpenAI's estimate for 512×512: 85 + 170 × 1 tile; the prompt's 36 characters: 9
    assert summary.estimated_tokens == 2 * (255 + 9)


def test_a_run_for_a_model_mmkit_knows_counts_its_media_by_that_models_rule(
    tmp_path: Path, server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from mmkit.cli import main

    folder = tmp_path / "imgs"
    make_images(folder, 2, size=(1024, 1024))
    gemma = "google/gemma-3-4b-it"  # Gemma 3: every image 896×896, 256 tokens (its processor)
    dry = run([str(folder)], tmp_path / "out.jsonl", server, dry_run=True, model=gemma)
    assert (dry.media_tokens, dry.token_model) == (2 * 256, gemma)
    assert dry.estimated_tokens == 2 * (256 + 9)  # and the prompt's 36 characters: 9 each
    assert "about 530 input tokens (512 media, by google/gemma-3-4b-it's rule)" in str(dry)

    done = run([str(folder)], tmp_path / "out.jsonl", server, model=gemma)
    assert (done.done, done.media_tokens) == (2, 512)
    assert done.prompt_tokens > 0  # what the server counted, shown beside the estimate
    assert "estimated before sending: 530 input tokens (512 media, by google/" in str(done)

    base = f"{server.base_url}/v1"
    command = ["caption", "--dry-run", "--model", gemma, "--base-url", base, str(folder)]
    assert main([*command, "--prompt", "Describe it."]) == 0
    lines = capsys.readouterr().out.splitlines()
    per_item = sorted(line for line in lines if "media tokens" in line)
    assert len(per_item) == 2
    assert all(f", 256 media tokens (by {gemma}'s rule)" in line for line in per_item)


class GatedServer:
    """An OpenAI-compatible chat server on 127.0.0.1 that answers the first request at once and
    holds every later one until `release` is set (or, so a broken test cannot hang, 30 s pass:
    then it answers 503 to every held request and says so in `gave_up`)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.gave_up = False
        self.answered = 0
        lock = threading.Lock()
        gated = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                with lock:
                    first = gated.answered == 0
                    gated.answered += 1
                if not first and not gated.release.wait(0 if gated.gave_up else 30):
                    gated.gave_up = True
                    self.send_error(503)
                    return
                body = json.dumps(
                    {
                        "id": "c",
                        "object": "chat.completion",
                        "model": "gemma-3",
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "a caption"},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"

    def __enter__(self) -> GatedServer:
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.http.shutdown()
        self.http.server_close()


def test_the_iterator_yields_records_as_they_complete(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 5)
    out = tmp_path / "out.jsonl"
    with GatedServer() as server:
        records = caption.captions(
            [folder],
            model="gemma-3",
            base_url=server.base_url,
            out=out,
            workers=0,
            concurrency=1,
            retries=0,
        )
        first = next(records)  # while the server still holds the second request
        assert (first.ok, first.caption) == (True, "a caption")
        assert not server.gave_up and not server.release.is_set()
        assert len(read_records(out)) == 1  # written as it completed, too
        server.release.set()
        rest = list(records)
    assert len(rest) == 4 and all(r.caption == "a caption" for r in rest)
    assert not server.gave_up
    assert {r.id for r in [first, *rest]} == {p.as_posix() for p in folder.iterdir()}


def test_stopping_the_iterator_stops_the_run_and_a_rerun_yields_the_rest(
    tmp_path: Path, server: RunningServer
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 5)
    out = tmp_path / "out.jsonl"
    settings: dict[str, object] = {
        "model": "gemma-3",
        "base_url": f"{server.base_url}/v1",
        "out": out,
        "workers": 0,
    }
    seen = []
    for record in caption.captions([folder], **settings):
        seen.append(record)
        if len(seen) == 2:
            break  # stopping early stops the run and leaves a valid file
    assert all(r.ok and r.caption for r in seen)
    written = len(by_id(read_records(out)))
    assert 2 <= written <= 5
    rest = list(caption.captions([folder], **settings))
    assert len(rest) == 5 - written  # the items not yet written, and only those
    assert len(by_id(read_records(out))) == 5


def test_parquet_output_resumes_like_jsonl(tmp_path: Path, server: RunningServer) -> None:
    import pyarrow.parquet as pq

    folder = tmp_path / "imgs"
    make_images(folder, 4)
    out = tmp_path / "captions.parquet"
    first = run([str(folder)], out, server)
    again = run([str(folder)], out, server)
    table = pq.read_table(out).to_pylist()
    assert (first.done, again.done, again.skipped) == (4, 0, 4)
    assert sorted(r["id"] for r in table) == sorted(p.as_posix() for p in folder.iterdir())
    assert table[0]["caption"].startswith(f'text "{PROMPT}"; image 64×48')
    assert not (tmp_path / "captions.parquet.journal.jsonl").exists()


def test_parquet_output_keeps_what_was_asked_and_which_failures_were_transient(
    tmp_path: Path, server: RunningServer
) -> None:
    import pyarrow.parquet as pq

    folder = tmp_path / "imgs"
    make_images(folder, 2)
    out = tmp_path / "captions.parquet"
    down = run([str(folder)], out, server, base_url=f"http://127.0.0.1:{free_port()}/v1", retries=0)
    assert (down.failures, down.transient) == (2, 2)
    errors = [r["error"] for r in pq.read_table(out).to_pylist()]
    assert [(e["transient"]) for e in errors] == [True, True]
    up = run([str(folder)], out, server)  # the merged Parquet file still says transient
    assert (up.done, up.skipped) == (2, 0)
    asked = run([str(folder)], out, server, prompt="What colour is it?")
    assert (asked.done, asked.skipped) == (2, 0)
    same = run([str(folder)], out, server, prompt="What colour is it?")
    assert (same.done, same.skipped) == (0, 2)
    rows = pq.read_table(out).to_pylist()
    assert len(rows) == 2 and all(r["prompt"] == "What colour is it?" for r in rows)


def test_the_command_line_captions_the_fixtures_with_echo(
    tmp_path: Path, fixtures_dir: Path
) -> None:
    out = tmp_path / "captions.jsonl"
    command = [
        sys.executable,
        "-m",
        "mmkit.cli",
        "caption",
        str(fixtures_dir),
        "--model",
        "echo",
        "--out",
        str(out),
        "--max-side",
        "64",
        "--param",
        "top_k=3",
        "--progress-every",
        "0.001",
        "--video",
        "native",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr  # truncated.jpg failed
    records = by_id(read_records(out))
    assert records[f"{fixtures_dir.as_posix()}/photo.jpg"]["caption"] == (
        f'text "{PROMPT}"; image 64×48 JPEG'
    )
    assert records[f"{fixtures_dir.as_posix()}/truncated.jpg"]["error"]["type"] == (  # type: ignore[index]
        "InvalidMediaError"
    )
    # --video native: the clip itself, re-encoded to fit --max-side 64 (64×42, even sides)
    assert str(records[f"{fixtures_dir.as_posix()}/clip.mp4"]["caption"]).endswith(
        "; video 1.0 s 64×42 h264"
    )
    d = fixtures_dir.as_posix()
    images = ["rgb.png", "rgba.png", "palette.png", "gray.png", "gray16.png", "photo.jpg"]
    images += ["exif_rotated.jpg", "cmyk.jpg", "photo.webp", "still.gif", "animated.gif"]
    images += ["image.bmp", "image.tiff", "wrong_extension.png", "clip.mp4", "tone.wav"]
    assert {f"{d}/{name}" for name in images} <= set(records)
    assert not {
        f"{d}/{name}" for name in ("README.md", "make_fixtures.py", "not_an_image.png")
    } & set(records)
    ok = sum(1 for r in records.values() if "caption" in r)
    assert f"captioned: {ok} of {len(records)} items" in done.stdout
    assert "caption: " in done.stderr  # the plain progress line (stderr is not a terminal)


def test_videos_go_as_videos_to_a_server_that_reads_them(
    fixtures_dir: Path, tmp_path: Path, server: RunningServer
) -> None:
    out = tmp_path / "captions.jsonl"
    run([str(fixtures_dir / "clip.mp4")], out, server, video="native")
    (record,) = read_records(out)
    assert record["caption"] == (
        'text "Describe what happens in this video in o…"; video 1.0 s 96×64 h264'
    )
