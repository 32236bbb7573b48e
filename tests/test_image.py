"""How each fixture image is encoded for a target: passed through, converted (and said so), or
refused with an error that names the file, the limit and the fix."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import decode, sent_to_openai
from PIL import Image as PILImage

import mmkit
from mmkit import Image, Message
from mmkit.formats.openai import TARGET as OPENAI
from mmkit.media.image import ImageLimits
from mmkit.media.sniff import sniff


def source_pixels(path: Path, mode: str | None = None) -> np.ndarray[Any, Any]:
    with PILImage.open(path) as im:
        return np.asarray(im.convert(mode) if mode else im)


def png_of_size(width: int, height: int) -> bytes:
    """A real 1-bit PNG, all black, of any size: huge images compress to almost nothing."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


# --- what passes through untouched -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["rgb.png", "photo.jpg", "photo.webp", "still.gif", "palette.png", "gray.png", "rgba.png"],
)
def test_accepted_image_is_sent_byte_identical(name: str, fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / name)

    assert sent_to_openai(image) == (fixtures_dir / name).read_bytes()
    assert image.conversions == []


# --- what is converted, and says so ------------------------------------------------------------


@pytest.mark.parametrize("name,kind", [("image.bmp", "BMP"), ("image.tiff", "TIFF")])
def test_format_openai_refuses_is_converted_and_recorded(
    name: str, kind: str, fixtures_dir: Path
) -> None:
    image = Image(fixtures_dir / name)

    sent = sent_to_openai(image)

    out = {"image/jpeg": "JPEG", "image/png": "PNG"}[str(sniff(sent))]
    assert image.conversions == [f"converted {kind} → {out} (the target does not accept it)"]
    assert decode(sent).size == (100, 80)


@pytest.mark.parametrize("name", ["image.bmp", "image.tiff"])
def test_converted_format_keeps_the_picture(name: str, fixtures_dir: Path) -> None:
    sent = decode(sent_to_openai(Image(fixtures_dir / name)))

    difference = np.abs(
        np.asarray(sent.convert("RGB"), dtype=np.int16)
        - source_pixels(fixtures_dir / name, "RGB").astype(np.int16)
    )
    assert difference.mean() < 4  # JPEG noise, not a different picture


def test_16_bit_gray_becomes_8_bit_keeping_its_tonal_range(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "gray16.png")
    source = source_pixels(fixtures_dir / "gray16.png").astype(np.float64)

    sent = decode(sent_to_openai(image))

    assert sent.mode == "L"
    pixels = np.asarray(sent).astype(np.float64)
    assert abs(pixels.max() - source.max() / 257) <= 1
    assert abs(pixels.min() - source.min() / 257) <= 1
    assert np.abs(pixels - source / 257).max() <= 1  # every pixel, not just the extremes
    assert image.conversions == ["converted 16-bit grayscale to 8-bit"]


def test_cmyk_jpeg_becomes_rgb(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "cmyk.jpg")

    sent = decode(sent_to_openai(image))

    assert sent.mode == "RGB"
    assert image.conversions == ["converted CMYK to RGB"]
    difference = np.abs(
        np.asarray(sent, dtype=np.int16)
        - source_pixels(fixtures_dir / "cmyk.jpg", "RGB").astype(np.int16)
    )
    assert difference.mean() < 4


def test_exif_orientation_is_applied(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "exif_rotated.jpg")  # stored 240×160, Orientation=6
    assert (image.width, image.height) == (160, 240)  # known from the header probe

    sent = decode(sent_to_openai(image))

    assert sent.size == (160, 240)
    pixels = np.asarray(sent.convert("RGB"), dtype=np.float64)
    top_right, bottom_left = (
        pixels[5:55, 125:155].mean(axis=(0, 1)),
        pixels[205:235, 5:25].mean(axis=(0, 1)),
    )
    assert top_right[0] > 200 and top_right[1:].max() < 50  # the red block
    assert bottom_left[2] > 200 and bottom_left[:2].max() < 50  # the blue block
    assert image.conversions == ["applied EXIF orientation 6"]


def test_exif_orientation_is_not_sent_again(fixtures_dir: Path) -> None:
    sent = decode(sent_to_openai(Image(fixtures_dir / "exif_rotated.jpg")))

    assert sent.getexif().get(0x0112, 1) == 1  # a receiver must not rotate it a second time


def test_alpha_is_flattened_on_white_for_jpeg(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgba.png", format="jpeg")

    sent = sent_to_openai(image)

    assert sniff(sent) == "image/jpeg"
    pixels = np.asarray(decode(sent).convert("RGB"), dtype=np.int16)
    assert (np.abs(pixels[10:140, 5:40] - 255) <= 3).all()  # the fully transparent band
    assert "flattened transparency on white (JPEG has no alpha)" in image.conversions
    assert "converted PNG → JPEG" in image.conversions


def test_alpha_is_kept_when_resizing_png(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgba.png", max_side=100)

    sent = sent_to_openai(image)

    assert sniff(sent) == "image/png"
    decoded = decode(sent)
    assert (decoded.mode, decoded.size) == ("RGBA", (100, 75))
    alpha = np.asarray(decoded.getchannel("A"))
    assert alpha[:, :20].max() == 0 and alpha[:, -10:].min() == 255
    assert image.conversions == ["resized 200×150 → 100×75"]


def test_animated_gif_sends_its_first_frame_only(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "animated.gif")
    assert image.frames == 4

    sent = decode(sent_to_openai(image))

    assert not getattr(sent, "is_animated", False)
    with PILImage.open(fixtures_dir / "animated.gif") as source:
        first = np.asarray(source.convert("RGB"))
    np.testing.assert_array_equal(np.asarray(sent.convert("RGB")), first)
    assert image.conversions[0] == "took the first of 4 frames (the target takes stills)"


def test_animated_gif_passes_to_a_target_that_takes_animation(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "animated.gif")
    limits = ImageLimits(animation=True)

    sent = sent_to_openai(image, images=limits)

    assert sent == (fixtures_dir / "animated.gif").read_bytes()


@pytest.mark.parametrize("name", ["rgb.png", "photo.jpg", "photo.webp"])
def test_format_option_converts_and_records(name: str, fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / name, format="webp" if name != "photo.webp" else "png")

    sent = sent_to_openai(image)

    assert sniff(sent) == ("image/png" if name == "photo.webp" else "image/webp")
    assert len(image.conversions) == 1 and image.conversions[0].startswith("converted ")


def test_quality_option_reencodes_jpeg_and_says_so(fixtures_dir: Path) -> None:
    original = (fixtures_dir / "photo.jpg").read_bytes()
    image = Image(fixtures_dir / "photo.jpg", quality=30)

    sent = sent_to_openai(image)

    assert sniff(sent) == "image/jpeg"
    assert len(sent) < len(original)
    assert image.conversions == ["encoded JPEG at quality 30"]


def test_alpha_is_flattened_on_white_for_gif(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgba.png", format="gif")

    sent = sent_to_openai(image)

    assert sniff(sent) == "image/gif"
    pixels = np.asarray(decode(sent).convert("RGB"), dtype=np.int16)
    assert (np.abs(pixels[10:140, 5:40] - 255) <= 3).all()  # the fully transparent band
    assert "flattened transparency on white (GIF keeps no alpha channel)" in image.conversions


# --- sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options,size",
    [
        ({"max_side": 160}, (160, 120)),
        ({"max_side": 50}, (50, 38)),
        ({"max_pixels": 19_200}, (160, 120)),
        ({"max_pixels": 1000}, (36, 27)),
        ({"max_side": 100, "max_pixels": 5000}, (81, 61)),
        ({"max_side": 1000}, (320, 240)),  # never enlarged
    ],
)
@pytest.mark.parametrize("name", ["rgb.png", "photo.jpg", "photo.webp"])
def test_size_limits_are_respected(
    name: str, options: dict[str, Any], size: tuple[int, int], fixtures_dir: Path
) -> None:
    image = Image(fixtures_dir / name, **options)

    decoded = decode(sent_to_openai(image))

    assert decoded.size == size
    if size != (320, 240):
        assert image.conversions == [f"resized 320×240 → {size[0]}×{size[1]}"]


def test_max_side_applies_to_the_displayed_orientation(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "exif_rotated.jpg", max_side=120)

    assert decode(sent_to_openai(image)).size == (80, 120)


def test_target_size_limit_applies_without_options(fixtures_dir: Path) -> None:
    decoded = decode(
        sent_to_openai(Image(fixtures_dir / "rgb.png"), images=ImageLimits(max_side=64))
    )

    assert decoded.size == (64, 48)


# --- decompression bombs: refused before any pixel is decoded ----------------------------------


def test_huge_png_header_is_refused_before_decoding() -> None:
    real = png_of_size(8, 8)
    bomb = real[:16] + struct.pack(">II", 100_000, 100_000) + real[24:]  # IHDR says 10 Gpx
    bomb = bomb[:29] + struct.pack(">I", zlib.crc32(bomb[12:29])) + bomb[33:]  # fix its CRC

    started = time.perf_counter()
    with pytest.raises(mmkit.MediaTooLargeError, match="decompression bomb"):
        Image(bomb)
    assert time.perf_counter() - started < 0.5


def test_png_over_the_default_pixel_limit_is_refused_naming_the_fix() -> None:
    bomb = png_of_size(10_000, 10_000)  # 100 megapixels: over 89,478,485, under Pillow's error

    with pytest.raises(mmkit.MediaTooLargeError, match=r"100,000,000 pixels.*pixel_limit="):
        Image(bomb)


def test_pixel_limit_option_guards_a_normal_image(
    fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(self: PILImage.Image) -> None:
        raise AssertionError("decoded pixels before checking the size")

    monkeypatch.setattr(PILImage.Image, "load", no_decoding)

    with pytest.raises(mmkit.MediaTooLargeError, match=r"rgb\.png is 320×240.*1,000-pixel"):
        Image(fixtures_dir / "rgb.png", pixel_limit=1000)


def test_pixel_limit_can_allow_a_large_image() -> None:
    image = Image(png_of_size(10_000, 10_000), pixel_limit=100_000_000)

    assert (image.width, image.height) == (10_000, 10_000)


# --- broken files ------------------------------------------------------------------------------


def test_truncated_jpeg_is_refused_at_encode_time_naming_it(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "truncated.jpg")  # the header is fine: construction succeeds
    assert (image.mime, image.width, image.height) == ("image/jpeg", 320, 240)

    with pytest.raises(
        mmkit.InvalidMediaError,
        match=r"message 1, part 2: image .*truncated\.jpg is corrupt or truncated",
    ):
        mmkit.to_openai([Message.user("Describe", image=image)])


def test_not_an_image_is_refused_at_construction(fixtures_dir: Path) -> None:
    with pytest.raises(
        mmkit.InvalidMediaError, match=r"not_an_image\.png has no known image signature; pass a PNG"
    ):
        Image(fixtures_dir / "not_an_image.png")


def test_non_image_media_is_refused_as_an_image(fixtures_dir: Path) -> None:
    with pytest.raises(mmkit.InvalidMediaError, match=r"tone\.wav looks like audio/wav"):
        Image(fixtures_dir / "tone.wav")


# --- encoding happens once ---------------------------------------------------------------------


def test_encoding_is_computed_once_per_target(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "image.bmp")

    first = image.encoded(OPENAI.images)

    assert image.encoded(OPENAI.images) is first


def test_encoding_again_gives_the_same_message(fixtures_dir: Path) -> None:
    message = Message.user("Describe", image=Image(fixtures_dir / "image.tiff"))

    assert mmkit.to_openai([message]) == mmkit.to_openai([message])


# --- formats and byte limits -------------------------------------------------------------------


def test_format_the_target_refuses_names_the_accepted_types(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgb.png", format="bmp")

    with pytest.raises(mmkit.UnsupportedFormatError) as caught:
        mmkit.to_openai([Message.user([image])])

    message = str(caught.value)
    assert "format='bmp'" in message
    assert all(kind in message for kind in ("png", "jpeg", "webp", "gif"))


def test_format_a_custom_target_refuses_names_what_it_takes(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgb.png", format="webp")
    limits = ImageLimits(mimes=frozenset({"image/png", "image/jpeg"}))

    with pytest.raises(mmkit.UnsupportedFormatError, match=r"it takes jpeg, png"):
        mmkit.to_openai([Message.user([image])], images=limits)


def test_byte_limit_forces_reencoding(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgb.png")  # 29 KB

    sent = sent_to_openai(image, images=ImageLimits(max_bytes=5000))

    assert len(sent) <= 5000
    assert decode(sent).size == (320, 240)
    assert "re-encoded as JPEG to fit 5,000 bytes" in image.conversions


def test_impossible_byte_limit_names_the_limit_and_the_fix(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgb.png")

    with pytest.raises(
        mmkit.MediaTooLargeError,
        match=r"rgb\.png encodes to .* over the target's 50-byte limit.*max_side=",
    ):
        sent_to_openai(image, images=ImageLimits(max_bytes=50))
