"""The `mmkit` command line as a user runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmkit.cli import main
from mmkit.formats.openai import image_tokens


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
