"""How each fixture image is encoded for a target: passed through, converted (and said so), or
refused with an error that names the file, the limit and the fix."""

from __future__ import annotations

import base64
import io
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import hostile_images as hostile
import httpx
import numpy as np
import pytest
from helpers import decode, sent_to_openai
from PIL import Image as PILImage

import mmkit
from mmkit import Image, Message
from mmkit.formats.openai import TARGET as OPENAI
from mmkit.media.image import ImageLimits, probe, validate
from mmkit.media.sniff import sniff
from mmkit.server import RunningServer
from mmkit.server.inspect import describe_image


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
    assert image.conversions_for("openai") == [
        f"converted {kind} → {out} (the target does not accept it)"
    ]
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
    assert image.conversions_for("openai") == ["converted 16-bit grayscale to 8-bit"]


def test_cmyk_jpeg_becomes_rgb(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "cmyk.jpg")

    sent = decode(sent_to_openai(image))

    assert sent.mode == "RGB"
    assert image.conversions_for("openai") == ["converted CMYK to RGB"]
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
    assert image.conversions_for("openai") == ["applied EXIF orientation 6"]


def test_exif_orientation_is_not_sent_again(fixtures_dir: Path) -> None:
    sent = decode(sent_to_openai(Image(fixtures_dir / "exif_rotated.jpg")))

    assert sent.getexif().get(0x0112, 1) == 1  # a receiver must not rotate it a second time


def test_alpha_is_flattened_on_white_for_jpeg(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgba.png", format="jpeg")

    sent = sent_to_openai(image)

    assert sniff(sent) == "image/jpeg"
    pixels = np.asarray(decode(sent).convert("RGB"), dtype=np.int16)
    assert (np.abs(pixels[10:140, 5:40] - 255) <= 3).all()  # the fully transparent band
    assert "flattened transparency on white (JPEG has no alpha)" in image.conversions_for("openai")
    assert "converted PNG → JPEG" in image.conversions_for("openai")


def test_alpha_is_kept_when_resizing_png(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgba.png", max_side=100)

    sent = sent_to_openai(image)

    assert sniff(sent) == "image/png"
    decoded = decode(sent)
    assert (decoded.mode, decoded.size) == ("RGBA", (100, 75))
    alpha = np.asarray(decoded.getchannel("A"))
    assert alpha[:, :20].max() == 0 and alpha[:, -10:].min() == 255
    assert image.conversions_for("openai") == ["resized 200×150 → 100×75"]


def test_animated_gif_sends_its_first_frame_only(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "animated.gif")
    assert image.frames == 4

    sent = decode(sent_to_openai(image))

    assert not getattr(sent, "is_animated", False)
    with PILImage.open(fixtures_dir / "animated.gif") as source:
        first = np.asarray(source.convert("RGB"))
    np.testing.assert_array_equal(np.asarray(sent.convert("RGB")), first)
    assert (
        image.conversions_for("openai")[0] == "took the first of 4 frames (the target takes stills)"
    )


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
    assert len(image.conversions_for("openai")) == 1 and image.conversions_for("openai")[
        0
    ].startswith("converted ")


def test_quality_option_reencodes_jpeg_and_says_so(fixtures_dir: Path) -> None:
    original = (fixtures_dir / "photo.jpg").read_bytes()
    image = Image(fixtures_dir / "photo.jpg", quality=30)

    sent = sent_to_openai(image)

    assert sniff(sent) == "image/jpeg"
    assert len(sent) < len(original)
    assert image.conversions_for("openai") == ["encoded JPEG at quality 30"]


def test_alpha_is_flattened_on_white_for_gif(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgba.png", format="gif")

    sent = sent_to_openai(image)

    assert sniff(sent) == "image/gif"
    pixels = np.asarray(decode(sent).convert("RGB"), dtype=np.int16)
    assert (np.abs(pixels[10:140, 5:40] - 255) <= 3).all()  # the fully transparent band
    assert "flattened transparency on white (GIF keeps no alpha channel)" in image.conversions_for(
        "openai"
    )


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
        assert image.conversions_for("openai") == [f"resized 320×240 → {size[0]}×{size[1]}"]


def test_max_side_applies_to_the_displayed_orientation(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "exif_rotated.jpg", max_side=120)

    assert decode(sent_to_openai(image)).size == (80, 120)


def test_target_size_limit_applies_without_options(fixtures_dir: Path) -> None:
    decoded = decode(
        sent_to_openai(Image(fixtures_dir / "rgb.png"), images=ImageLimits(max_side=64))
    )

    assert decoded.size == (64, 48)


# --- decompression bombs: refused before any pixel is decoded ----------------------------------


def test_huge_png_header_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    real = png_of_size(8, 8)
    bomb = real[:16] + struct.pack(">II", 100_000, 100_000) + real[24:]  # IHDR says 10 Gpx
    bomb = bomb[:29] + struct.pack(">I", zlib.crc32(bomb[12:29])) + bomb[33:]  # fix its CRC
    monkeypatch.setattr(PILImage.Image, "load", _no_decoding)

    with pytest.raises(mmkit.MediaTooLargeError, match="decompression bomb"):
        Image(bomb)


def _no_decoding(self: PILImage.Image) -> None:
    raise AssertionError("decoded pixels before checking the size")


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
    assert "re-encoded as JPEG to fit 5,000 bytes" in image.conversions_for("openai")


def test_impossible_byte_limit_names_the_limit_and_the_fix(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgb.png")

    with pytest.raises(
        mmkit.MediaTooLargeError,
        match=r"rgb\.png encodes to .* over the target's 50-byte limit.*max_side=",
    ):
        sent_to_openai(image, images=ImageLimits(max_bytes=50))


# --- every frame and page is held to the limits, counted from the file (issue 6, item 5) ------


def test_a_gif_whose_second_frame_grows_the_canvas_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = hostile.canvas_growing_gif(12_000)  # 50 bytes; was answered "image 1×1 GIF"
    monkeypatch.setattr(PILImage.Image, "load", _no_decoding)

    with pytest.raises(
        mmkit.MediaTooLargeError, match=r"frame 2 is 12000×12000 = 144,000,000 pixels"
    ):
        Image(bomb)


def test_a_tiff_whose_second_page_is_huge_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = hostile.two_page_tiff((13_000, 13_000))  # page 1 is 2×2
    monkeypatch.setattr(PILImage.Image, "load", _no_decoding)

    with pytest.raises(mmkit.MediaTooLargeError, match=r"page 2 is 13000×13000"):
        Image(bomb)


def test_a_gif_with_too_many_frames_is_refused_before_decoding_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = hostile.many_frame_gif(300, 8000)  # 7 KB, 300 frames on an 8000² canvas
    image = Image(bomb)
    assert image.frames == 101  # counted from the blocks, one past the cap
    monkeypatch.setattr(PILImage.Image, "load", _no_decoding)

    with pytest.raises(mmkit.MediaTooLargeError, match=r"more than 100 frames.*max_frames="):
        image.encoded(ImageLimits(animation=True))


def test_a_higher_frame_cap_still_meets_the_decode_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = Image(hostile.many_frame_gif(300, 8000), max_frames=1000)
    assert image.frames == 300
    monkeypatch.setattr(PILImage.Image, "load", _no_decoding)

    with pytest.raises(mmkit.MediaTooLargeError, match=r"300 frames of 8000×8000.*budget"):
        image.encoded(ImageLimits(animation=True))


def test_the_frame_cap_is_settable() -> None:
    animation = hostile.many_frame_gif(150, 4)
    takes_animation = ImageLimits(animation=True)

    with pytest.raises(mmkit.MediaTooLargeError, match="more than 100 frames"):
        Image(animation).encoded(takes_animation)
    allowed = Image(animation, max_frames=200)
    assert allowed.encoded(takes_animation).data == animation


def test_a_still_target_takes_the_first_frame_of_an_over_cap_animation() -> None:
    image = Image(hostile.many_frame_gif(300, 4))

    assert decode(sent_to_openai(image)).size == (4, 4)
    assert image.conversions_for("openai") == [
        "took the first of over 100 frames (the target takes stills)",
        "converted GIF → PNG",
    ]


def test_an_icon_entry_hiding_a_huge_png_is_refused_before_pillow_opens_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bomb = hostile.ico_hiding_a_big_png(12_000)  # the directory says 16×16
    monkeypatch.setattr(PILImage.Image, "load", _no_decoding)  # Pillow's ICO open decodes

    with pytest.raises(mmkit.MediaTooLargeError, match=r"icon entry 1 is 12000×12000"):
        Image(bomb)


def test_an_apng_frame_count_is_counted_not_taken_from_its_header() -> None:
    image = Image(hostile.lying_apng(2**31 - 1))  # acTL claims 2,147,483,647 frames

    assert image.frames == 1
    assert describe_image(hostile.lying_apng(2**31 - 1), "m") == "image 1×1 PNG"


@pytest.mark.parametrize(
    ("bomb", "found"),
    [
        (hostile.canvas_growing_gif(12_000), "frame 2 is 12000×12000"),
        (hostile.many_frame_gif(300, 8000), "more than 100 frames"),
        (hostile.two_page_tiff((13_000, 13_000)), "page 2 is 13000×13000"),
    ],
    ids=["growing GIF", "300-frame GIF", "two-page TIFF"],
)
def test_the_local_server_refuses_each_bomb_with_a_400(
    bomb: bytes, found: str, server: RunningServer
) -> None:
    uri = f"data:{sniff(bomb)};base64," + base64.b64encode(bomb).decode()
    body = {"messages": [{"role": "user", "content": [{"type": "image", "base64": uri}]}]}
    root = server.base_url.removesuffix("/v1")

    response = httpx.post(f"{root}/models/v2/acme/echo", json=body, timeout=30)

    assert response.status_code == 400
    assert found in response.text


def test_decoding_the_bombs_stays_small_in_a_child_process() -> None:
    """Peak memory of the server's decode path on all three files, measured in a child process
    (a regression must not take the test runner down): on the old code it reached 1.5 GB."""
    script = (
        "import resource, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import hostile_images as h\n"
        "from mmkit.errors import MmkitError\n"
        "from mmkit.server.inspect import describe_image\n"
        "for bomb in (h.canvas_growing_gif(12_000), h.many_frame_gif(300, 8000),\n"
        "             h.two_page_tiff((13_000, 13_000))):\n"
        "    try:\n"
        "        describe_image(bomb, 'part')\n"
        "    except MmkitError:\n"
        "        pass\n"
        # VmHWM, not ru_maxrss: Linux hands the runner's own peak to a child across exec
        "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
    )
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
    done = subprocess.run(
        [sys.executable, "-c", limit + script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    peak_kib = int(done.stdout.split()[-1])
    assert peak_kib < 250 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"


# --- format limits and big conversions (issue 6, item 6) ---------------------------------------


def _noise_png(width: int, height: int, mode: str = "RGB") -> bytes:
    channels = {"RGB": 3, "L": 1}[mode]
    rng = np.random.default_rng(width)
    shape = (height, width, channels) if channels > 1 else (height, width)
    buf = io.BytesIO()
    PILImage.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_a_side_over_jpegs_limit_is_downscaled_when_jpeg_is_all_the_target_takes() -> None:
    image = Image(_noise_png(70_000, 4))
    jpeg_only = ImageLimits(mimes=frozenset({"image/jpeg"}), max_bytes=None)

    encoded = image.encoded(jpeg_only)

    assert (encoded.mime, encoded.width, encoded.height) == ("image/jpeg", 65_500, 4)
    assert decode(encoded.data).size == (65_500, 4)
    assert image.conversions == [
        "JPEG holds at most 65,500 px a side",
        "resized 70000×4 → 65500×4",
        "converted PNG → JPEG (the target does not accept it)",
    ]


def test_a_webp_asked_for_over_its_side_limit_is_downscaled_and_says_so() -> None:
    image = Image(_noise_png(20_000, 4), format="webp")

    encoded = image.encoded(ImageLimits(max_bytes=None))

    assert (encoded.mime, encoded.width, encoded.height) == ("image/webp", 16_383, 3)
    assert "WEBP holds at most 16,383 px a side" in image.conversions


def test_a_format_mmkit_chose_gives_way_to_one_that_fits() -> None:
    rng = np.random.default_rng(3)
    photo_strip = rng.integers(0, 256, (4, 70_000, 3), dtype=np.uint8)  # JPEG by content
    image = Image(photo_strip)

    encoded = image.encoded(ImageLimits(max_bytes=None))

    assert (encoded.mime, encoded.width) == ("image/png", 70_000)
    assert image.conversions == ["sent as PNG: JPEG cannot hold a side over 65,500 px"]


def test_16_bit_to_8_bit_works_in_strips_with_integer_rounding() -> None:
    values = (np.add.outer(np.arange(3000), np.arange(3000)) * 7).astype(np.uint16)
    buf = io.BytesIO()
    PILImage.fromarray(values).save(buf, "PNG")
    image = Image(buf.getvalue())

    tracemalloc.start()
    try:
        encoded = image.encoded(ImageLimits(max_bytes=None))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    # whole-image float64 took 8 bytes a pixel several times over (2.2 GiB at 9400²)
    assert peak < 40 * 1024 * 1024, f"{peak / 2**20:.0f} MiB"
    expected = ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(decode(encoded.data)), expected)


# --- new-user trips -----------------------------------------------------------------------------


def test_pixel_limit_alone_allows_an_image_over_pillows_own_limit() -> None:
    before = PILImage.MAX_IMAGE_PIXELS
    big = png_of_size(14_000, 14_000)  # 196 Mpx: over twice Pillow's limit, which it refuses

    image = Image(big, pixel_limit=200_000_000)

    assert (image.width, image.height) == (14_000, 14_000)
    assert before == PILImage.MAX_IMAGE_PIXELS  # no global was touched
    with pytest.raises(mmkit.MediaTooLargeError, match="pixel_limit="):
        Image(big)  # and every other image keeps the default


def test_corrupt_exif_becomes_a_note_not_a_warning() -> None:
    exif = (
        b"Exif\x00\x00II*\x00"
        + struct.pack("<IH", 8, 2)
        + struct.pack("<HHII", 0x010E, 2, 100, 20)  # a description said to run past the end
        + struct.pack("<HHII", 0x0112, 3, 1, 6)
        + struct.pack("<I", 0)
    )
    buf = io.BytesIO()
    PILImage.new("RGB", (8, 4), "red").save(buf, "JPEG", exif=exif)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that leaks fails the test
        image = Image(buf.getvalue())
        sent_to_openai(image)

    assert image.conversions_for("openai") == [
        "decoder warning: Tag data larger than file. Skipping tag 270 (read anyway)",
        "applied EXIF orientation 6",
        "removed EXIF metadata (partly unreadable)",  # the broken description is not sent
    ]


def test_openai_target_sends_nothing_larger_than_it_reads() -> None:
    """OpenAI fits every image in 2048×2048 first; detail="low" reads 512×512."""
    wide = _noise_png(9000, 100, "L")

    assert decode(sent_to_openai(Image(wide))).size == (2048, 23)
    assert decode(sent_to_openai(Image(wide, detail="low"))).size == (512, 6)
    assert decode(sent_to_openai(Image(wide, detail="high"))).size == (2048, 23)
    assert Image(wide).encoded().width == 9000  # no target: nothing is thrown away


@pytest.mark.parametrize(
    ("user", "target", "expected"),
    [
        ({"max_side": 100}, {"max_side": 64}, (64, 48)),  # the target's is smaller
        ({"max_side": 64}, {"max_side": 100}, (64, 48)),  # the user's is smaller
        ({"max_pixels": 5000}, {"max_pixels": 1000}, (36, 27)),
        ({"max_pixels": 1000}, {"max_pixels": 5000}, (36, 27)),
    ],
)
def test_the_smaller_of_the_users_and_the_targets_limits_wins(
    user: dict[str, Any], target: dict[str, Any], expected: tuple[int, int], fixtures_dir: Path
) -> None:
    image = Image(fixtures_dir / "rgb.png", **user)  # 320×240

    sent = decode(sent_to_openai(image, images=replace(OPENAI.images, **target)))

    assert sent.size == expected


# --- EXIF orientations 2–8, checked pixel by pixel ---------------------------------------------

# Six blocks stored as two rows of three; each orientation's display written out by hand from
# the EXIF definition (row 0 / column 0 as seen: e.g. 6 = "row 0 is the right side").
_BLOCK_COLOURS = {
    "a": (230, 30, 30),
    "b": (30, 200, 30),
    "c": (30, 30, 230),
    "d": (230, 230, 30),
    "e": (30, 220, 220),
    "f": (220, 30, 220),
}
_DISPLAYED = {
    1: ["abc", "def"],
    2: ["cba", "fed"],
    3: ["fed", "cba"],
    4: ["def", "abc"],
    5: ["ad", "be", "cf"],
    6: ["da", "eb", "fc"],
    7: ["fc", "eb", "da"],
    8: ["cf", "be", "ad"],
}
_BLOCK = 32


def _oriented_jpeg(orientation: int) -> bytes:
    stored = np.zeros((2 * _BLOCK, 3 * _BLOCK, 3), dtype=np.uint8)
    for row, letters in enumerate(_DISPLAYED[1]):
        for col, letter in enumerate(letters):
            stored[row * _BLOCK : (row + 1) * _BLOCK, col * _BLOCK : (col + 1) * _BLOCK] = (
                _BLOCK_COLOURS[letter]
            )
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    PILImage.fromarray(stored).save(buf, "JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def _blocks(im: PILImage.Image) -> list[str]:
    """The letters of the blocks as displayed, read from each block's centre."""
    pixels = np.asarray(im.convert("RGB"), dtype=np.int16)
    rows = []
    for top in range(0, im.height, _BLOCK):
        row = ""
        for left in range(0, im.width, _BLOCK):
            centre = pixels[top + _BLOCK // 2, left + _BLOCK // 2]
            row += min(_BLOCK_COLOURS, key=lambda k: int(np.abs(centre - _BLOCK_COLOURS[k]).sum()))
        rows.append(row)
    return rows


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied_at_the_pixel_level(orientation: int) -> None:
    image = Image(_oriented_jpeg(orientation))
    displayed = _DISPLAYED[orientation]
    size = (len(displayed[0]) * _BLOCK, len(displayed) * _BLOCK)

    assert (image.width, image.height) == size
    sent = decode(sent_to_openai(image))
    assert sent.size == size
    assert _blocks(sent) == displayed
    assert _blocks(image.to_pil()) == displayed


def test_validation_stops_at_its_time_budget() -> None:
    data = hostile.many_frame_gif(3, 4)
    info = probe(data, "anim.gif")

    with pytest.raises(mmkit.MediaTooLargeError, match=r"anim\.gif took over 0 s to decode"):
        validate(data, info, "anim.gif", max_seconds=0.0)
    validate(data, info, "anim.gif")  # the default budget passes it


def test_a_warning_from_elsewhere_while_an_image_opens_is_no_note_of_it(
    fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmkit.media import image as image_codec

    opened = image_codec._open_plugin

    def open_while_a_socket_is_collected(data: bytes, names: tuple[str, ...]) -> Any:
        # what the garbage collector says of a socket closed mid-open, from another thread
        warnings.warn("unclosed <socket.socket fd=13>", ResourceWarning, stacklevel=1)
        return opened(data, names)

    monkeypatch.setattr(image_codec, "_open_plugin", open_while_a_socket_is_collected)
    image = Image(fixtures_dir / "photo.jpg")
    assert image.notes == []
