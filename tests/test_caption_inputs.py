"""Inputs that must never hang or blow up `mmkit caption`: each runs the command in a child
process with a time limit; the good items of the same run are still captioned, and the run ends."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import make_images

from mmkit.server import ServerOptions, serve_in_thread

LIMIT = 120  # seconds a child may take: generous on a loaded machine, finite when it hangs
CAPTION = 'text "Describe this image in one sentence."; image 64×48 '


def caption(*args: str, timeout: float = LIMIT) -> subprocess.CompletedProcess[str]:
    """`mmkit caption ARGS --model echo --workers 1`, run to its end (TimeoutExpired: a hang)."""
    command = [sys.executable, "-m", "mmkit.cli", "caption", *args, "--model", "echo"]
    command += ["--workers", "1"]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def records(out: Path) -> dict[str, dict[str, object]]:
    found = [json.loads(line) for line in out.read_text().splitlines()]
    by_id = {str(r["id"]): r for r in found}
    assert len(by_id) == len(found), "an id has two records"
    return by_id


def error_of(record: dict[str, object]) -> tuple[str, str]:
    error = record["error"]
    assert isinstance(error, dict), record
    return error["type"], error["message"]


# --- 1. pipes, sockets and devices ----------------------------------------------------------------


def test_pipes_sockets_and_devices_in_a_folder_are_skipped_by_type_never_opened(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "d"
    make_images(folder, 2)
    os.mkfifo(folder / "a_pipe.jpg")  # opening it would wait for a writer forever
    os.symlink(folder / "a_pipe.jpg", folder / "b_link_to_pipe.jpg")
    os.symlink("/dev/zero", folder / "c_zeros.jpg")  # a device: reading it never ends
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "d_socket"))
    out = tmp_path / "out.jsonl"
    try:
        done = caption(str(folder), "--out", str(out))
    finally:
        listener.close()

    assert done.returncode == 0, done.stderr
    got = records(out)
    assert sorted(got) == [f"{folder.as_posix()}/img0000.jpg", f"{folder.as_posix()}/img0001.png"]
    assert got[f"{folder.as_posix()}/img0000.jpg"]["caption"] == CAPTION + "JPEG"
    assert got[f"{folder.as_posix()}/img0001.png"]["caption"] == CAPTION + "PNG"
    assert "captioned: 2 of 2 items" in done.stdout
    assert "not media: 4" in done.stdout  # the pipe, the link to it, /dev/zero, the socket


def test_a_pipe_named_in_a_manifest_or_on_the_command_line_gets_an_error_record(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "d"
    make_images(folder, 1)
    os.mkfifo(folder / "pipe.jpg")
    manifest = folder / "list.jsonl"
    rows = [{"path": "pipe.jpg", "id": "from-manifest"}, {"path": "img0000.jpg", "id": "good"}]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out.jsonl"

    done = caption(str(manifest), str(folder / "pipe.jpg"), "--out", str(out))

    assert done.returncode in (0, 1), done.stderr  # 1: some item failed (issue 13's exit codes)
    got = records(out)
    assert got["good"]["caption"] == CAPTION + "JPEG"
    kind, message = error_of(got["from-manifest"])
    assert kind == "InvalidMediaError"
    assert message == (
        f"{manifest} row 1: pipe.jpg is a named pipe (FIFO), not a regular file: it is never "
        "read (remove it from the inputs, or copy what it holds to a file first)"
    )
    assert error_of(got[f"{folder.as_posix()}/pipe.jpg"]) == (
        "InvalidMediaError",
        f"{folder}/pipe.jpg is a named pipe (FIFO), not a regular file: it is never read (remove "
        "it from the inputs, or copy what it holds to a file first)",
    )
    assert len(got) == 3


SWAPPED = """
import sys
from pathlib import Path
from mmkit.caption.encode import hash_file, read_source
from mmkit.errors import InvalidMediaError
for read in (read_source, hash_file):
    try:
        read(Path(sys.argv[1]))
    except InvalidMediaError as exc:
        print(exc)
"""


def test_a_file_swapped_for_a_pipe_or_a_device_after_listing_is_refused_by_the_worker(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / "pipe.jpg")  # listed as a file, a pipe by the time a worker reads it
    for path, kind in (
        (tmp_path / "pipe.jpg", "a named pipe (FIFO)"),
        ("/dev/zero", "a character device"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", SWAPPED, str(path)],
            capture_output=True,
            text=True,
            timeout=LIMIT,
        )
        said = f"{path} is {kind}, not a regular file: it is never read (remove it from the "
        said += "inputs, or copy what it holds to a file first)"
        assert done.stdout == f"{said}\n{said}\n", done.stderr


# --- 2. a row the OS refuses, and a crash inside the run ------------------------------------------


def test_a_manifest_row_whose_name_is_too_long_is_that_rows_error(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    make_images(folder, 2)
    long_name = "x" * 296 + ".jpg"  # 300 characters: over the 255 a file name may have
    manifest = folder / "list.jsonl"
    rows = [{"path": "img0000.jpg"}, {"path": long_name, "id": "long"}, {"path": "img0001.png"}]
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out.jsonl"

    done = caption(str(manifest), long_name, "--out", str(out))

    assert done.returncode in (0, 1), done.stderr
    got = records(out)
    assert got["img0000.jpg"]["caption"] == CAPTION + "JPEG"
    assert got["img0001.png"]["caption"] == CAPTION + "PNG"
    assert error_of(got["long"]) == (
        "OSError",
        f"{manifest} row 2: cannot be read (File name too long)",
    )
    assert error_of(got[long_name]) == (
        "OSError",
        f"{long_name}: cannot be read (File name too long)",
    )
    assert len(got) == 4


CRASHING = """
import sys
import mmkit.caption.runner as runner
from mmkit.caption.items import Item
from mmkit.cli import main

def broken_listing(inputs, tally, *args):
    yield Item("first", sys.argv[1], "image")
    raise RuntimeError("boom")

async def broken_send(self, item, encoded):
    raise RuntimeError("boom")

if sys.argv[2] == "listing":
    runner.expand = broken_listing
else:
    runner._Run._send = broken_send
sys.exit(main(["caption", sys.argv[1], "--model", "echo", "--workers", "1", "--out", sys.argv[3]]))
"""


@pytest.mark.parametrize(
    ("stage", "where"), [("listing", "listing the inputs"), ("sending", "a captioning task")]
)
def test_a_crash_inside_the_run_ends_it_with_a_message_and_a_failing_status(
    tmp_path: Path, stage: str, where: str
) -> None:
    # A bug cannot be provoked by any input once the inputs are handled: it is put in by hand.
    (image,) = make_images(tmp_path / "d", 1)
    out = tmp_path / "out.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", CRASHING, str(image), stage, str(out)],
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"mmkit caption: error: internal error while {where}: RuntimeError('boom'); the run "
        "stopped (the records written so far are kept). This is a bug in mmkit: please report it"
    )


# --- 3. manifests read in bounded memory ----------------------------------------------------------

PEAK = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
assert done.returncode in (0, 1), done.returncode  # 1: a row failed (mmkit caption's exit status)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # KiB, the largest child
"""


def peak_kib(*args: str) -> int:
    """The peak memory (VmHWM) of the largest process of `mmkit caption ARGS`."""
    command = [sys.executable, "-m", "mmkit.cli", "caption", *args, "--model", "echo"]
    done = subprocess.run(
        [sys.executable, "-c", PEAK, *command, "--workers", "1"],
        capture_output=True,
        text=True,
        timeout=LIMIT,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_100_mb_manifest_line_is_that_rows_error_in_bounded_memory(
    tmp_path: Path, suffix: str
) -> None:
    folder = tmp_path / "d"
    make_images(folder, 2)
    manifest = folder / f"list{suffix}"
    huge = "y" * 100_000_000
    with manifest.open("w") as f:
        if suffix == ".jsonl":
            f.write('{"path": "img0000.jpg"}\n{"path": "img0001.png", "prompt": "' + huge)
            f.write('"}\n{"path": "img0001.png", "id": "after"}\n')
        else:
            f.write(f"path,prompt,id\nimg0000.jpg,,\nimg0001.png,{huge},\nimg0001.png,,after\n")
    del huge
    out = tmp_path / "out.jsonl"
    small = tmp_path / "small.jsonl"
    (folder / "small.jsonl").write_text('{"path": "img0000.jpg"}\n')

    baseline = peak_kib(str(folder / "small.jsonl"), "--out", str(small))
    peak = peak_kib(str(manifest), "--out", str(out))

    # Reading the line would take 100 MB at least (it takes ~400 MB); the cap reads 1 MiB of it.
    assert peak - baseline < 30_000, (peak, baseline)
    got = records(out)
    assert got["img0000.jpg"]["caption"] == CAPTION + "JPEG"
    assert got["after"]["caption"] == CAPTION + "PNG"
    (row_2,) = [r for r in got if r not in ("img0000.jpg", "after")]
    unit = "bytes" if suffix == ".jsonl" else "characters"
    assert error_of(got[row_2]) == (
        "ConfigError",
        f"{manifest} row {3 if suffix == '.csv' else 2}: the line is over 1,048,576 {unit}, the "
        "manifest line limit, and was not read (raise it with --max-manifest-line, or "
        "max_manifest_line= in Python, if the row is meant to be that long)",
    )


# --- 4. pool processes end with a killed run its parent has not reaped ----------------------------

KILLER = """
import os, signal, subprocess, sys, time
out = sys.argv[1]
run = subprocess.Popen(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       start_new_session=True)
print(run.pid, flush=True)
while not (os.path.exists(out) and os.path.getsize(out)):
    time.sleep(0.01)
os.kill(run.pid, signal.SIGKILL)  # and no wait(): the run stays a zombie
run.stdout.read()  # returns at EOF: once no process holds the pipe the run wrote to
print("eof", flush=True)
"""


def test_pool_processes_end_when_the_run_is_killed_and_left_unreaped(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    make_images(folder, 40, size=(16, 16))
    out = tmp_path / "out.jsonl"
    with serve_in_thread(ServerOptions(latency=0.2)) as server:
        command = [sys.executable, "-m", "mmkit.cli", "caption", str(folder), "--out", str(out)]
        command += ["--model", "gemma-3", "--base-url", f"{server.base_url}/v1"]
        command += ["--workers", "2", "--concurrency", "2"]
        killer = subprocess.Popen(
            [sys.executable, "-c", KILLER, str(out), *command], stdout=subprocess.PIPE, text=True
        )
        assert killer.stdout is not None
        run_group = 0
        try:
            run_group = int(killer.stdout.readline())  # the run leads a process group of its own
            rest, _ = killer.communicate(timeout=LIMIT)  # TimeoutExpired: the pipe stayed open
        finally:
            killer.kill()
            killer.wait()
            if run_group:
                with contextlib.suppress(ProcessLookupError):  # what a failing run left behind
                    os.killpg(run_group, signal.SIGKILL)
    assert (killer.returncode, rest) == (0, "eof\n")
