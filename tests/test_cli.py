"""The `mmkit` command line as a user runs it."""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from helpers import make_images
from project import project

from mmkit.cli import main
from mmkit.formats.openai import image_tokens

# The console script pip installed next to this Python: the command a user types.
MMKIT = str(Path(sys.executable).with_name("mmkit"))


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MMKIT, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_inspect_shows_what_would_be_sent(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(fixtures_dir / "image.bmp"), "--max-side", "50"]) == 0
    out = capsys.readouterr().out
    assert "BMP 100×80, 24,054 bytes" in out
    assert "sent to openai: image/jpeg 50×40" in out
    assert "converted BMP → JPEG" in out


def test_inspect_reports_a_bad_file_and_goes_on(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        ["inspect", str(fixtures_dir / "not_an_image.png"), str(fixtures_dir / "photo.jpg")]
    )
    captured = capsys.readouterr()
    assert status == 1
    assert "not_an_image.png: error:" in captured.err
    assert "photo.jpg JPEG 320×240" in captured.out


def test_inspect_for_hf_keeps_bmp(fixtures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(fixtures_dir / "image.bmp"), "--target", "hf"]) == 0
    assert "sent to hf: image/bmp 100×80" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("size", "detail", "tokens"),
    [
        ((1024, 1024), None, 765),  # OpenAI's worked examples
        ((2048, 4096), "high", 1105),
        ((4096, 8192), "low", 85),
        ((64, 48), None, 255),
    ],
)
def test_openai_image_token_estimate(
    size: tuple[int, int], detail: str | None, tokens: int
) -> None:
    assert image_tokens(*size, detail) == tokens


def test_serve_help_exits_cleanly() -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0


def test_serve_refuses_a_public_host_without_allow_remote(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


def test_no_arguments_prints_usage_to_stderr() -> None:
    done = run()
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("usage: mmkit")
    assert "inspect" in done.stderr and "serve" in done.stderr


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout == f"mmkit {project()['version']}\n"  # the checkout's pyproject.toml


@pytest.mark.parametrize("port", ["99999", "65536", "-1"])
def test_serve_refuses_a_port_out_of_range(port: str) -> None:
    done = run("serve", "--port", port, timeout=20)  # a child: a regression would serve forever
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"error: argument --port: {port} is out of range; use 0…65535" in done.stderr
    assert "host" not in done.stderr.split("error:")[1]  # the port is blamed, not the host


@pytest.mark.parametrize("port", ["eighty", "80.5", ""])
def test_serve_refuses_a_port_that_is_not_a_number(
    port: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", "--port", port])
    assert done.value.code == 2
    assert f"argument --port: {port!r} is not a port number; use 0…65535" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "1", "65535"])
def test_serve_port_bounds_are_accepted(port: str) -> None:
    from mmkit.cli import _parser

    assert _parser().parse_args(["serve", "--port", port]).port == int(port)


def test_serve_port_0_serves_on_a_free_port_with_its_limits() -> None:
    command = [MMKIT, "serve", "--port", "0", "--header-timeout", "0.5"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()  # printed once the port is bound
            assert banner.startswith("mmkit conformance server on http://127.0.0.1:")
            base_url = banner.split()[4]
            port = int(base_url.rsplit(":", 1)[1])
            assert 0 < port <= 65535
            reply = httpx.get(f"{base_url}/v1/models", timeout=10)
            assert reply.json()["data"][0]["id"] == "echo"
            with socket.create_connection(("127.0.0.1", port), timeout=5) as silent:
                assert silent.recv(1) == b""  # closed by --header-timeout, not the default 10 s
        finally:
            process.terminate()
            process.wait(10)


def test_inspect_json_one_object_per_input(fixtures_dir: Path) -> None:
    done = run(
        "inspect",
        "--json",
        "--max-side",
        "50",
        str(fixtures_dir / "image.bmp"),
        str(fixtures_dir / "not_an_image.png"),
        "https://example.com/cat.png",
    )
    assert done.returncode == 1  # one input failed
    assert done.stderr == ""
    bmp, bad, url = (json.loads(line) for line in done.stdout.splitlines())
    assert bmp["input"] == str(fixtures_dir / "image.bmp")
    assert bmp["kind"] == "image"
    assert bmp["source"] == {
        "mime": "image/bmp",
        "width": 100,
        "height": 80,
        "frames": 1,
        "bytes": 24054,
        "url": None,
    }
    sent = bmp["sent"]
    assert (sent["target"], sent["mime"], sent["width"], sent["height"]) == (
        "openai",
        "image/jpeg",
        50,
        40,
    )
    assert sent["base64_chars"] == -(-sent["bytes"] // 3) * 4
    assert sent["openai_tokens"] == 255
    assert bmp["conversions"] == [
        "resized 100×80 → 50×40",
        "converted BMP → JPEG (the target does not accept it)",
    ]
    assert bad["input"] == str(fixtures_dir / "not_an_image.png")
    assert bad["error"]["type"] == "InvalidMediaError"
    assert "no known image signature" in bad["error"]["message"]
    assert url["source"]["url"] == "https://example.com/cat.png"
    assert url["sent"] is None


def test_inspect_unknown_target_is_one_clear_error(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(fixtures_dir / "photo.jpg"), "--target", "nope"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("mmkit inspect: error:")
    assert "nope" in captured.err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--max-connections", "0"), ("--header-timeout", "-1"), ("--keep-alive-timeout", "0.5")],
)
def test_serve_refuses_bad_limits(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as done:
        main(["serve", option, value])
    assert done.value.code == 2
    assert f"argument {option}:" in capsys.readouterr().err


def test_inspect_shows_audio_and_what_would_be_sent(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m4a = fixtures_dir / "tone_aac.m4a"
    assert main(["inspect", str(m4a)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{m4a} AAC 1.0 s 44.1 kHz stereo, 9,106 bytes",
        "  sent to openai: WAV 1.0 s 44.1 kHz stereo, 180,268 bytes (240,360 base64 chars)",
        "  - converted AAC in M4A → 16-bit PCM WAV (the target does not accept it)",
    ]


def test_inspect_json_for_audio_says_what_hf_gets(
    fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", "--json", "--target", "hf", str(fixtures_dir / "tone_opus.webm")]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["kind"] == "audio"
    assert record["source"]["codec"] == "opus" and record["source"]["channels"] == 2
    assert record["sent"]["format"] == "wav" and record["sent"]["sample_rate"] == 16_000
    assert record["sent"]["channels"] == 1
    assert "downmixed 2 channels to mono" in record["conversions"]


# --- mmkit caption: exit status ----------------------------------------------------------------


def caption(tmp_path: Path, *args: str) -> int:
    """`mmkit caption ... --model echo` in this process, encoding in a thread (quick)."""
    out = ["--out", str(tmp_path / "captions.jsonl"), "--workers", "0"]
    return main(["caption", *args, "--model", "echo", *out])


def test_caption_exits_0_when_every_item_is_captioned_or_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 2)
    assert caption(tmp_path, str(folder)) == 0
    assert "captioned: 2 of 2 items" in capsys.readouterr().out
    assert caption(tmp_path, str(folder)) == 0
    assert "skipped (already done): 2" in capsys.readouterr().out


def test_caption_exits_1_when_an_item_failed(
    tmp_path: Path, fixtures_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 1)
    shutil.copy(fixtures_dir / "truncated.jpg", folder)
    assert caption(tmp_path, str(folder)) == 1
    out = capsys.readouterr().out
    assert "captioned: 1 of 2 items" in out and "InvalidMediaError: 1" in out
    assert caption(tmp_path, str(folder)) == 0  # the rerun skips both: nothing failed in it


def test_caption_exits_2_for_a_missing_input_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 1)
    typo = tmp_path / "imsg"
    assert caption(tmp_path, str(folder), str(typo), str(tmp_path / "*.webp")) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"mmkit caption: error: no such file, folder or glob match: {typo}, {tmp_path}/*.webp"
    )
    assert not (tmp_path / "captions.jsonl").exists()


def test_caption_exits_2_for_an_unreadable_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_images(tmp_path, 1)
    manifest = tmp_path / "list.csv"
    manifest.write_text("file,caption\nimg0000.jpg,x\n")  # no path, url or source column
    assert caption(tmp_path, str(manifest)) == 2
    err = capsys.readouterr().err
    assert f"mmkit caption: error: manifest {manifest} has no column named source, path, url" in err
    assert caption(tmp_path, str(manifest)) == 2  # said again, never skipped as done


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--concurrency", "0"], "argument --concurrency: 0 must be 1 or more"),
        (["--retries", "-1"], "argument --retries: -1 must be 0 or more"),
        (["--timeout", "nan"], "argument --timeout: 'nan' is not a finite number"),
        (["--param", "top_k"], "--param 'top_k': write KEY=VALUE"),
        (["--api-key-env", "MMKIT_TEST_UNSET_KEY"], "MMKIT_TEST_UNSET_KEY is not set"),
    ],
)
def test_caption_exits_2_for_bad_flags(
    tmp_path: Path, flags: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_images(tmp_path, 1)
    try:
        status = caption(tmp_path, str(tmp_path), *flags)
    except SystemExit as exc:  # argparse's own refusal
        status = int(exc.code or 0)
    assert status == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "captions.jsonl").exists()


def test_caption_max_manifest_line_makes_a_longer_line_its_rows_error_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_images(tmp_path, 3)
    manifest = tmp_path / "list.jsonl"
    lines = [
        '{"id": "a", "path": "img0000.jpg"}',
        '{"id": "b", "path": "img0001.png", "prompt": "' + "describe " * 20 + '"}',  # 216 bytes
        '{"id": "c", "path": "img0002.jpg"}',
    ]
    manifest.write_text("\n".join(lines) + "\n")
    assert caption(tmp_path, str(manifest), "--max-manifest-line", "100") == 1  # a row failed
    assert "captioned: 2 of 3 items" in capsys.readouterr().out
    records = [json.loads(line) for line in (tmp_path / "captions.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records if r.get("caption")) == ["a", "c"]
    (failed,) = [r for r in records if r.get("error")]
    assert failed["error"]["type"] == "ConfigError"
    assert f"{manifest} row 2: the line is over 100 bytes" in failed["error"]["message"]
    # the default (1 MiB) reads that line: the rerun captions it
    assert caption(tmp_path, str(manifest), "--retry-failed") == 0
    assert "captioned: 1 of 3 items" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("0", "argument --max-manifest-line: 0 must be 1 or more"),
        ("-5", "argument --max-manifest-line: -5 must be 1 or more"),
        ("1.5", "argument --max-manifest-line: '1.5' is not a whole number"),
        ("1MiB", "argument --max-manifest-line: '1MiB' is not a whole number"),
    ],
)
def test_caption_exits_2_for_a_bad_max_manifest_line(
    tmp_path: Path, value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_images(tmp_path, 1)
    with pytest.raises(SystemExit) as refused:  # argparse's own refusal
        caption(tmp_path, str(tmp_path), "--max-manifest-line", value)
    assert refused.value.code == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "captions.jsonl").exists()


# --- mmkit caption: help and errors for a shell user ---------------------------------------------


def test_caption_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["caption", "--help"])
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps at the terminal's width
    for flag, said in {
        "--concurrency N": "requests in flight at most (default 16)",
        "--max-side N": "downscale images and video frames so no side is longer than N pixels",
        "--max-tokens N": "the most tokens the model may write per caption",
        "--limit N": "caption only the first N media items of the inputs",
        "--retries N": "further tries of an item after a 5xx, a dropped connection or a timeout",
        "--timeout S": "seconds each request may take whole",
    }.items():
        assert f"{flag} {said}" in shown
    from mmkit.cli import _parser

    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    silent = [a.option_strings for a in commands.choices["caption"]._actions if not a.help]
    assert silent == []


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (
            ["--model", "openai/gpt-4o"],
            "no API key for openai: set the OPENAI_API_KEY environment variable or pass "
            "--api-key-env NAME (an environment variable that holds the key)",
        ),
        (
            ["--model", "gemma-3", "--base-url", "http://me:s3cret@127.0.0.1:9/v1"],
            "--base-url must not carry credentials; pass the key as --api-key-env NAME",
        ),
        (["--model", "nope"], "or pass --base-url for an OpenAI-compatible server"),
    ],
)
def test_caption_errors_name_flags_and_environment_variables(
    tmp_path: Path, flags: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_images(tmp_path, 1)
    out = ["--out", str(tmp_path / "captions.jsonl"), "--workers", "0"]
    assert main(["caption", str(tmp_path), *flags, *out]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmkit caption: error: ") and said in err
    assert "api_key" not in err and "base_url" not in err  # Python keywords a shell cannot pass
    assert "s3cret" not in err
