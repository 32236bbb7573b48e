"""URL images: passed through by default, inlined through the guarded fetch when asked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pybase64
import pytest
from helpers import serve_folder

import mmkit
from mmkit import Image, Message
from mmkit.media.fetch import FetchPolicy
from mmkit.media.sniff import sniff


@pytest.fixture(scope="module")
def image_server(fixtures_dir: Path) -> Iterator[str]:
    """Serves fixtures/ on 127.0.0.1 with a lying Content-Type (the bytes must decide)."""
    with serve_folder(fixtures_dir) as base:
        yield base


LOCAL = FetchPolicy(allow_private=("127.0.0.1",))


def test_a_url_is_passed_through_without_fetching(image_server: str) -> None:
    url = f"{image_server}/photo.jpg?sig=abc"
    wire = mmkit.to_openai([Message.user("Describe", image=url)])
    assert wire[0]["content"][1] == {"type": "image_url", "image_url": {"url": url}}


def test_inline_true_fetches_and_sends_a_data_uri(image_server: str, fixtures_dir: Path) -> None:
    image = Image(f"{image_server}/photo.jpg", inline=True)
    wire = mmkit.to_bytez([Message.user("Describe", image=image)], fetch=LOCAL)
    uri = wire[0]["content"][1]["base64"]
    assert uri.startswith("data:image/jpeg;base64,")
    assert pybase64.b64decode(uri.split(",", 1)[1]) == (fixtures_dir / "photo.jpg").read_bytes()
    assert (image.mime, image.width, image.height) == ("image/jpeg", 320, 240)


def test_inline_converts_what_the_target_refuses(image_server: str) -> None:
    wire = mmkit.to_openai(
        [Message.user("x", image=f"{image_server}/image.bmp")], inline=True, fetch=LOCAL
    )
    uri = wire[0]["content"][1]["image_url"]["url"]
    data = pybase64.b64decode(uri.split(",", 1)[1])
    assert uri.split(";")[0] == f"data:{sniff(data)}"
    assert sniff(data) in ("image/jpeg", "image/png")


def test_loopback_urls_are_refused_by_default(image_server: str) -> None:
    with pytest.raises(mmkit.BlockedURLError) as err:
        mmkit.to_openai(
            [Message.user("x", image=f"{image_server}/photo.jpg?sig=SECRET")], inline=True
        )
    assert "message 1, part 2" in str(err.value)
    assert "SECRET" not in str(err.value)


def test_a_url_that_is_not_an_image_is_an_invalid_media_error(image_server: str) -> None:
    with pytest.raises(mmkit.InvalidMediaError):
        mmkit.to_openai(
            [Message.user("x", image=f"{image_server}/not_an_image.png")], inline=True, fetch=LOCAL
        )
