"""Every kind of image input a user holds becomes a valid part in each wire format.

The examples read as documentation: what you pass to `Image(...)` / `Message.user(image=...)`, and
what OpenAI, Bytez and Hugging Face receive.
"""

from __future__ import annotations

import base64
import io
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pybase64
import pytest
from helpers import decode
from PIL import Image as PILImage

import mmkit
from mmkit import Image, Message
from mmkit.media.sniff import sniff

# --- helpers -----------------------------------------------------------------------------------


def split_data_uri(uri: str) -> tuple[str, bytes]:
    """'data:image/png;base64,AAAA' -> ('image/png', b'...')."""
    assert uri.startswith("data:"), uri[:40]
    header, _, payload = uri.partition(",")
    assert header.endswith(";base64"), header
    return header[len("data:") : -len(";base64")], base64.b64decode(payload, validate=True)


def assert_honest_data_uri(uri: str) -> bytes:
    """The declared MIME type is what the decoded bytes really are; returns the bytes."""
    mime, data = split_data_uri(uri)
    assert sniff(data) == mime
    return data


def only_image_part(messages: list[dict[str, Any]]) -> dict[str, Any]:
    (message,) = messages
    images: list[dict[str, Any]] = [
        p for p in message["content"] if p["type"] in ("image_url", "image")
    ]
    assert len(images) == 1
    return images[0]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection or resolve a name fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the test tried to use the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --- the input kinds ---------------------------------------------------------------------------

RGB_PNG = "rgb.png"
Maker = Callable[[Path, list[Any]], Any]


def _open_rb(d: Path, opened: list[Any]) -> Any:
    handle = open(d / RGB_PNG, "rb")  # noqa: SIM115  # closed by the `opened` fixture
    opened.append(handle)
    return handle


def _pil(d: Path, opened: list[Any]) -> PILImage.Image:
    with PILImage.open(d / RGB_PNG) as im:
        rgb: PILImage.Image = im.convert("RGB")
    return rgb


def _b64(d: Path) -> str:
    return base64.b64encode((d / RGB_PNG).read_bytes()).decode("ascii")


RNG = np.random.default_rng(7)
ARRAYS = {
    "numpy H×W": RNG.integers(0, 256, (24, 32), dtype=np.uint8),
    "numpy H×W×3": RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8),
    "numpy H×W×4": RNG.integers(0, 256, (24, 32, 4), dtype=np.uint8),
}

# Inputs that carry rgb.png's bytes: what is sent must be those exact bytes.
BYTE_SOURCES: dict[str, Maker] = {
    "path str": lambda d, _: str(d / RGB_PNG),
    "pathlib.Path": lambda d, _: d / RGB_PNG,
    "bytes": lambda d, _: (d / RGB_PNG).read_bytes(),
    "bytearray": lambda d, _: bytearray((d / RGB_PNG).read_bytes()),
    "memoryview": lambda d, _: memoryview((d / RGB_PNG).read_bytes()),
    "open(..., 'rb')": _open_rb,
    "io.BytesIO": lambda d, _: io.BytesIO((d / RGB_PNG).read_bytes()),
    "data URI": lambda d, _: "data:image/png;base64," + _b64(d),
    "base64 with line breaks": lambda d, _: base64.encodebytes((d / RGB_PNG).read_bytes()).decode(),
    "base64 without padding": lambda d, _: _b64(d).rstrip("="),
    "base64 URL-safe": lambda d, _: base64.urlsafe_b64encode((d / RGB_PNG).read_bytes()).decode(),
}


def _array(name: str) -> Maker:
    return lambda d, opened: ARRAYS[name]


# Inputs that carry pixels: what is sent must decode to those pixels.
PIXEL_SOURCES: dict[str, Maker] = {"PIL.Image": _pil, **{name: _array(name) for name in ARRAYS}}
ALL_SOURCES = {**BYTE_SOURCES, **PIXEL_SOURCES}


@pytest.fixture
def opened() -> Iterator[list[Any]]:
    handles: list[Any] = []
    yield handles
    for handle in handles:
        handle.close()


def expected_pixels(name: str, fixtures_dir: Path) -> np.ndarray[Any, Any]:
    if name == "PIL.Image":
        return np.asarray(_pil(fixtures_dir, []))
    return ARRAYS[name]


def test_base64_inputs_really_exercise_the_forgiving_decoder(fixtures_dir: Path) -> None:
    """Guards the fixtures below: the variants differ from plain base64 the way users' text does."""
    lines = BYTE_SOURCES["base64 with line breaks"](fixtures_dir, [])
    assert {len(line) for line in lines.splitlines()[:-1]} == {76}
    assert _b64(fixtures_dir).endswith("=")
    urlsafe = BYTE_SOURCES["base64 URL-safe"](fixtures_dir, [])
    assert "-" in urlsafe or "_" in urlsafe


@pytest.mark.parametrize("kind", list(BYTE_SOURCES))
def test_byte_input_is_sent_to_openai_as_its_own_bytes(
    kind: str, fixtures_dir: Path, opened: list[Any]
) -> None:
    source = BYTE_SOURCES[kind](fixtures_dir, opened)

    part = only_image_part(mmkit.to_openai([Message.user("Describe", image=source)]))

    assert part["type"] == "image_url"
    assert set(part["image_url"]) == {"url"}
    sent = assert_honest_data_uri(part["image_url"]["url"])
    assert sent == (fixtures_dir / RGB_PNG).read_bytes()


@pytest.mark.parametrize("kind", list(PIXEL_SOURCES))
def test_pixel_input_asked_as_png_is_sent_losslessly(
    kind: str, fixtures_dir: Path, opened: list[Any]
) -> None:
    source = PIXEL_SOURCES[kind](fixtures_dir, opened)

    part = only_image_part(mmkit.to_openai([Message.user([Image(source, format="png")])]))

    sent = assert_honest_data_uri(part["image_url"]["url"])
    assert sniff(sent) == "image/png"
    np.testing.assert_array_equal(np.asarray(decode(sent)), expected_pixels(kind, fixtures_dir))


def test_photographic_pixels_are_sent_as_jpeg_and_it_is_recorded(fixtures_dir: Path) -> None:
    """Pixels have no format of their own: a photo goes out as JPEG, not a PNG four times its
    size (a 232 KB photo went out as a 921 KB PNG)."""
    photo = np.asarray(PILImage.open(fixtures_dir / "photo.jpg").convert("RGB"))
    image = Image(photo)

    sent = assert_honest_data_uri(
        only_image_part(mmkit.to_openai([Message.user([image])]))["image_url"]["url"]
    )

    assert sniff(sent) == "image/jpeg"
    assert len(sent) < len(image.data or b"") / 2  # the lossless PNG holder
    assert image.conversions_for("openai") == [
        "encoded the pixels as JPEG (photographic: no alpha, many colours); "
        "pass format='png' to keep them lossless"
    ]
    error = np.asarray(decode(sent), dtype=np.float64) - photo
    assert 10 * np.log10(255.0**2 / float(np.mean(error**2))) > 30  # PSNR in dB


@pytest.mark.parametrize(
    ("kind", "pixels"),
    [
        ("alpha", RNG.integers(0, 256, (24, 32, 4), dtype=np.uint8)),
        ("few colours", np.repeat(np.arange(0, 240, 10, dtype=np.uint8)[:, None], 32, axis=1)),
    ],
)
def test_pixels_with_alpha_or_few_colours_are_sent_as_lossless_png(
    kind: str, pixels: np.ndarray[Any, Any]
) -> None:
    image = Image(pixels)

    sent = assert_honest_data_uri(
        only_image_part(mmkit.to_openai([Message.user([image])]))["image_url"]["url"]
    )

    assert sniff(sent) == "image/png"
    np.testing.assert_array_equal(np.asarray(decode(sent)), pixels)
    assert image.conversions == []


@pytest.mark.parametrize("kind", list(ALL_SOURCES))
def test_local_input_becomes_bytez_base64_part(
    kind: str, fixtures_dir: Path, opened: list[Any]
) -> None:
    source = ALL_SOURCES[kind](fixtures_dir, opened)

    part = only_image_part(mmkit.to_bytez([Message.user("Describe", image=source)]))

    assert set(part) == {"type", "base64"}
    assert part["type"] == "image"
    assert_honest_data_uri(part["base64"])


@pytest.mark.parametrize("kind", list(ALL_SOURCES))
def test_local_input_becomes_hf_image_part(
    kind: str, fixtures_dir: Path, opened: list[Any]
) -> None:
    source = ALL_SOURCES[kind](fixtures_dir, opened)

    (message,) = mmkit.to_hf([Message.user("Describe", image=source)])

    assert message["content"][0] == {"type": "text", "text": "Describe"}
    part = message["content"][1]
    assert part["type"] == "image"
    assert_honest_data_uri(part["base64"])


@pytest.mark.parametrize("kind", list(ALL_SOURCES))
def test_local_input_is_probed_at_construction(
    kind: str, fixtures_dir: Path, opened: list[Any]
) -> None:
    image = Image(ALL_SOURCES[kind](fixtures_dir, opened))

    assert image.mime == "image/png"
    expected = (320, 240) if kind in BYTE_SOURCES or kind == "PIL.Image" else (32, 24)
    assert (image.width, image.height) == expected
    assert image.nbytes is not None and image.nbytes > 0


# --- URLs: passed through, never fetched -------------------------------------------------------

URL = "https://images.example.com/cats/tabby.jpg?sig=s3cr3t"


@pytest.mark.usefixtures("no_network")
def test_url_is_not_fetched_at_construction() -> None:
    image = Image(URL)

    assert image.url == URL
    assert image.data is None
    assert image.mime is None  # unknown until someone fetches it
    assert "s3cr3t" not in repr(image)


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("url", [URL, "http://example.org/a.png"])
def test_url_passes_through_to_openai(url: str) -> None:
    part = only_image_part(mmkit.to_openai([Message.user("Describe", image=url)]))

    assert part == {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.usefixtures("no_network")
def test_url_passes_through_to_bytez_as_url_field() -> None:
    part = only_image_part(mmkit.to_bytez([Message.user("Describe", image=URL)]))

    assert part == {"type": "image", "url": URL}


@pytest.mark.usefixtures("no_network")
def test_url_passes_through_to_hf_as_url_field() -> None:
    part = only_image_part(mmkit.to_hf([Message.user("Describe", image=URL)]))

    assert part == {"type": "image", "url": URL}


@pytest.mark.usefixtures("no_network")
def test_url_detail_is_kept_for_openai() -> None:
    part = only_image_part(mmkit.to_openai([Message.user([Image(URL, detail="low")])]))

    assert part["image_url"] == {"url": URL, "detail": "low"}


@pytest.mark.parametrize("url", ["http://", "https://", "https://[::1/a.png", "http://x:99999/a"])
def test_malformed_url_is_refused_naming_it(url: str) -> None:
    with pytest.raises(mmkit.InvalidMediaError, match="not a valid http"):
        Image(url)


def test_other_url_scheme_is_refused_with_the_fix() -> None:
    with pytest.raises(mmkit.UnsupportedFormatError, match=r"ftp://example\.com/a\.png.*http"):
        Image("ftp://example.com/a.png")


# --- MIME types come from the bytes ------------------------------------------------------------


def test_lying_data_uri_type_is_corrected(fixtures_dir: Path) -> None:
    jpeg = (fixtures_dir / "photo.jpg").read_bytes()
    image = Image("data:image/png;base64," + pybase64.b64encode(jpeg).decode())

    part = only_image_part(mmkit.to_openai([Message.user([image])]))

    assert image.mime == "image/jpeg"
    assert part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert split_data_uri(part["image_url"]["url"])[1] == jpeg


def test_lying_data_uri_correction_is_recorded(fixtures_dir: Path) -> None:
    jpeg = (fixtures_dir / "photo.jpg").read_bytes()

    image = Image("data:image/png;base64," + pybase64.b64encode(jpeg).decode())

    assert image.conversions == ["declared type image/png corrected to image/jpeg (from the bytes)"]


def test_data_uri_without_declared_type_gets_the_real_one(fixtures_dir: Path) -> None:
    webp = (fixtures_dir / "photo.webp").read_bytes()

    image = Image("data:;base64," + pybase64.b64encode(webp).decode())

    assert image.mime == "image/webp"
    assert image.conversions == []


def test_wrong_extension_is_ignored(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "wrong_extension.png")  # a JPEG named .png

    part = only_image_part(mmkit.to_openai([Message.user([image])]))

    assert image.mime == "image/jpeg"
    assert part["image_url"]["url"].startswith("data:image/jpeg;base64,")


# --- bad input: the right error, naming the input ----------------------------------------------


def test_text_mode_file_is_refused_with_the_fix(fixtures_dir: Path) -> None:
    with (
        open(fixtures_dir / RGB_PNG, encoding="latin-1") as handle,
        pytest.raises(mmkit.InvalidMediaError, match=r"rgb\.png.*text mode.*'rb'"),
    ):
        Image(handle)


def test_empty_file_is_refused_naming_it(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")

    with pytest.raises(mmkit.InvalidMediaError, match=r"empty\.png is empty"):
        Image(empty)


def test_empty_bytes_are_refused() -> None:
    with pytest.raises(mmkit.InvalidMediaError, match=r"bytes \(0 bytes\) is empty"):
        Image(b"")


def test_empty_binary_file_object_is_refused() -> None:
    with pytest.raises(mmkit.InvalidMediaError, match="BytesIO is empty"):
        Image(io.BytesIO())


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_blank_string_is_refused_as_blank(text: str) -> None:
    with pytest.raises(mmkit.InvalidMediaError, match="empty or blank string"):
        Image(text)


def test_missing_path_string_is_refused_naming_it(tmp_path: Path) -> None:
    missing = str(tmp_path / "no_such_cat.png")

    with pytest.raises(mmkit.InvalidMediaError, match=r"no_such_cat\.png.*not an existing file"):
        Image(missing)


def test_missing_pathlib_path_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(mmkit.InvalidMediaError, match=r"no_such_cat\.png does not exist"):
        Image(tmp_path / "no_such_cat.png")


def test_path_of_an_unknown_user_is_refused_naming_it() -> None:
    with pytest.raises(mmkit.InvalidMediaError, match=r"~no_such_user_mmkit/cat\.png"):
        Image("~no_such_user_mmkit/cat.png")


@pytest.mark.parametrize("as_str", [True, False], ids=["str", "Path"])
def test_directory_is_refused_naming_it(tmp_path: Path, as_str: bool) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()

    with pytest.raises(mmkit.InvalidMediaError, match=r"photos is a folder, not a file"):
        Image(str(folder) if as_str else folder)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_file_is_refused_instead_of_read_forever() -> None:
    with pytest.raises(mmkit.InvalidMediaError, match="/dev/zero is a device, pipe or socket"):
        Image("/dev/zero")


@pytest.mark.parametrize("value", [42, 3.5, object(), ["a.png"]], ids=repr)
def test_unsupported_object_is_refused_naming_its_type(value: object) -> None:
    with pytest.raises(mmkit.UnsupportedFormatError, match=type(value).__name__):
        Image(value)


@pytest.mark.parametrize(
    "mode,note",
    [("CMYK", "converted CMYK to RGB"), ("F", "converted 32-bit float grayscale to 8-bit")],
)
def test_pil_mode_png_cannot_hold_is_converted_and_recorded(mode: str, note: str) -> None:
    image = Image(PILImage.new(mode, (8, 6)))

    assert image.mime == "image/png"
    assert image.conversions == [note]


def test_pil_image_in_a_portable_mode_is_not_converted() -> None:
    pil = PILImage.new("LA", (8, 6), (120, 30))

    image = Image(pil)

    assert image.conversions == []
    assert decode(image.encoded().data).getpixel((0, 0)) == (120, 30)


def test_numpy_array_of_wrong_dtype_is_refused_with_the_fix() -> None:
    with pytest.raises(mmkit.UnsupportedFormatError, match=r"float64.*uint8"):
        Image(np.zeros((4, 4, 3)))


def test_numpy_array_of_wrong_shape_is_refused_naming_it() -> None:
    with pytest.raises(mmkit.UnsupportedFormatError, match="4×4×5"):
        Image(np.zeros((4, 4, 5), dtype=np.uint8))


def test_not_an_image_is_refused_at_construction(fixtures_dir: Path) -> None:
    with pytest.raises(mmkit.InvalidMediaError, match=r"not_an_image\.png.*no known image"):
        Image(fixtures_dir / "not_an_image.png")


def test_invalid_base64_text_is_refused() -> None:
    with pytest.raises(mmkit.InvalidMediaError, match="not valid base64"):
        Image("data:image/png;base64,!!!!not*base64!!!!")


def test_base64_of_a_non_image_is_refused_naming_it_as_base64() -> None:
    text = base64.b64encode(b"just some text, not a picture at all").decode()

    with pytest.raises(mmkit.InvalidMediaError, match=r"base64 text \(\d+ chars\)"):
        Image(text)
