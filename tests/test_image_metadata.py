"""Private metadata (GPS position, camera, XMP, text) never reaches a receiver unless asked
(issue 13, item 3): cut out losslessly when the bytes pass through, not written when re-encoded."""

from __future__ import annotations

import base64
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from PIL import ImageOps

import mmkit
from mmkit import Image, Message
from mmkit.formats.bytez import TARGET as BYTEZ

TARGETS = ["openai", "bytez", "hf"]
GPS_IFD = 0x8825
JPEG_NOTE = "removed EXIF metadata (GPS position, camera) and XMP metadata"


def received(target: str, image: Image) -> bytes:
    """The image bytes `target` receives for `image` alone in a user message."""
    (message,) = getattr(mmkit, f"to_{target}")([Message.user([image])])
    part = message["content"][0]
    uri = part["image_url"]["url"] if target == "openai" else part["base64"]
    return base64.b64decode(uri.split(",", 1)[1], validate=True)


def opened(data: bytes) -> PILImage.Image:
    return PILImage.open(io.BytesIO(data))


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(opened(data).convert("RGBA"))


def scan(jpeg: bytes) -> bytes:
    """A baseline JPEG's entropy-coded scan, from its SOS marker to the end (EOI)."""
    return jpeg[jpeg.rindex(b"\xff\xda") :]


@pytest.mark.parametrize("target", TARGETS)
def test_a_jpeg_reaches_the_receiver_without_gps_camera_or_xmp(
    target: str, fixtures_dir: Path
) -> None:
    original = (fixtures_dir / "gps.jpg").read_bytes()
    image = Image(original)

    sent = received(target, image)

    exif = opened(sent).getexif()
    assert exif.get_ifd(GPS_IFD) == {}
    assert 0x010F not in exif and 0x0110 not in exif  # Make, Model
    assert b"SN-0042" not in sent and b"GPSLatitude" not in sent  # serial, XMP position
    assert "xmp" not in opened(sent).info
    np.testing.assert_array_equal(pixels(sent), pixels(original))  # lossless
    assert sent.endswith(scan(original))  # the compressed pixels are the same bytes
    assert image.conversions_for(target) == [JPEG_NOTE]
    assert image.conversions == [f"to {target}: {JPEG_NOTE}"]


@pytest.mark.parametrize("target", TARGETS)
def test_keep_metadata_sends_the_bytes_as_they_are(target: str, fixtures_dir: Path) -> None:
    original = (fixtures_dir / "gps.jpg").read_bytes()
    image = Image(original, keep_metadata=True)

    sent = received(target, image)

    assert sent == original
    gps = opened(sent).getexif().get_ifd(GPS_IFD)
    assert (gps[1], gps[2], gps[3], gps[4]) == ("N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0))
    assert image.conversions_for(target) == []


@pytest.mark.parametrize("target", TARGETS)
def test_png_loses_its_exif_and_text_chunks_and_keeps_every_pixel(
    target: str, fixtures_dir: Path
) -> None:
    original = (fixtures_dir / "gps.png").read_bytes()
    image = Image(original)

    sent = received(target, image)

    for chunk in (b"eXIf", b"tEXt", b"zTXt", b"iTXt"):
        assert chunk not in sent
    assert opened(sent).getexif().get_ifd(GPS_IFD) == {}
    assert b"IDAT" in sent and b"IEND" in sent
    np.testing.assert_array_equal(pixels(sent), pixels(original))
    assert image.conversions_for(target) == [
        "removed EXIF metadata (GPS position, camera) and PNG text (Location, Author, Comment)"
    ]


@pytest.mark.parametrize("target", TARGETS)
def test_webp_loses_its_exif_and_xmp_chunks_and_keeps_every_pixel(
    target: str, fixtures_dir: Path
) -> None:
    original = (fixtures_dir / "gps.webp").read_bytes()
    image = Image(original)

    sent = received(target, image)

    assert b"EXIF" not in sent and b"XMP " not in sent
    assert sent[12:16] == b"VP8X" and sent[20] & 0x0C == 0  # no EXIF/XMP flags left set
    assert int.from_bytes(sent[4:8], "little") == len(sent) - 8  # the RIFF size is right
    assert opened(sent).getexif().get_ifd(GPS_IFD) == {}
    np.testing.assert_array_equal(pixels(sent), pixels(original))
    assert image.conversions_for(target) == [JPEG_NOTE]


@pytest.mark.parametrize("target", TARGETS)
def test_a_rotated_photo_arrives_upright_for_every_receiver(
    target: str, fixtures_dir: Path
) -> None:
    sent = received(target, Image(fixtures_dir / "exif_rotated.jpg"))  # stored 240×160, turn 6

    # upright whether or not the receiver applies EXIF orientation
    for decoded in (opened(sent), ImageOps.exif_transpose(opened(sent))):
        rgb = np.asarray(decoded.convert("RGB"), dtype=np.float64)
        assert decoded.size == (160, 240)
        top_right = rgb[5:35, 125:155].mean(axis=(0, 1))
        assert top_right[0] > 200 and top_right[1:].max() < 50  # the red block


def gps_exif(orientation: int = 1, lat: float = 48.0) -> bytes:
    exif = PILImage.Exif()
    exif[0x010F] = "mmkit-phone"
    if orientation != 1:
        exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (lat, 51.0, 29.0)
    return exif.tobytes()


def jpeg(orientation: int = 1, size: tuple[int, int] = (64, 48)) -> bytes:
    buf = io.BytesIO()
    PILImage.linear_gradient("L").resize(size).convert("RGB").save(
        buf, "JPEG", exif=gps_exif(orientation)
    )
    return buf.getvalue()


def test_a_rotated_photo_with_gps_is_sent_upright_without_gps(fixtures_dir: Path) -> None:
    image = Image(jpeg(orientation=6))  # stored 64×48, displayed 48×64

    sent = received("bytez", image)

    assert opened(sent).size == (48, 64)
    assert opened(sent).getexif() == {}
    assert image.conversions_for("bytez") == [
        "applied EXIF orientation 6",
        "removed EXIF metadata (GPS position, camera)",
    ]


def test_cutting_exif_out_of_a_rotated_jpeg_keeps_its_orientation_alone() -> None:
    from mmkit.media import image_metadata  # here: the other tests run on a tree without it

    original = jpeg(orientation=6)

    stripped = image_metadata.strip(original, "image/jpeg")

    assert stripped is not None
    assert stripped.note == "removed EXIF metadata (GPS position, camera)"
    assert dict(opened(stripped.data).getexif()) == {0x0112: 6}  # turned upright by receivers
    assert stripped.data.endswith(scan(original))


def test_a_resized_image_keeps_no_gps_unless_asked() -> None:
    plain, kept = Image(jpeg(), max_side=32), Image(jpeg(), max_side=32, keep_metadata=True)

    sent, sent_kept = received("openai", plain), received("openai", kept)

    assert opened(sent).size == opened(sent_kept).size == (32, 24)
    assert opened(sent).getexif().get_ifd(GPS_IFD) == {}
    assert opened(sent_kept).getexif().get_ifd(GPS_IFD)[2] == (48.0, 51.0, 29.0)
    assert plain.conversions_for("openai") == [
        "resized 64×48 → 32×24",
        "removed EXIF metadata (GPS position, camera)",
    ]
    assert kept.conversions_for("openai") == ["resized 64×48 → 32×24"]


def test_bytes_after_the_image_end_are_not_sent() -> None:
    original = jpeg() + b"MotionPhoto_Data" + b"\x00" * 100  # a phone's appended video, small
    image = Image(original)

    sent = received("bytez", image)

    assert sent.endswith(b"\xff\xd9") and b"MotionPhoto" not in sent
    assert image.conversions_for("bytez") == [
        "removed EXIF metadata (GPS position, camera) and 116 bytes after the image's end"
    ]


def test_an_exif_holding_only_orientation_passes_untouched(fixtures_dir: Path) -> None:
    exif = PILImage.Exif()
    exif[0x0112] = 1
    buf = io.BytesIO()
    PILImage.new("RGB", (8, 8), "blue").save(buf, "JPEG", exif=exif.tobytes())
    image = Image(buf.getvalue())

    assert received("bytez", image) == buf.getvalue()
    assert image.conversions_for("bytez") == []


def private_tiff() -> bytes:
    buf = io.BytesIO()
    picture = PILImage.linear_gradient("L").resize((40, 30)).convert("RGB")
    tags = {271: "mmkit-scanner", 272: "Model 7", 700: b"<x:xmpmeta>GPSLatitude</x:xmpmeta>"}
    picture.save(buf, "TIFF", compression="tiff_lzw", tiffinfo=tags)
    return buf.getvalue()


def test_a_tiff_reaches_hf_without_its_camera_or_xmp_and_with_every_pixel() -> None:
    original = private_tiff()
    image = Image(original)

    sent = received("hf", image)  # HF takes TIFF as it is

    tags = dict(opened(sent).tag_v2)  # type: ignore[attr-defined]
    assert not {271, 272, 700} & set(tags)
    assert b"mmkit-scanner" not in sent and b"GPSLatitude" not in sent
    assert opened(sent).info["compression"] == "tiff_lzw"  # lossless, as it came
    np.testing.assert_array_equal(pixels(sent), pixels(original))
    assert image.conversions_for("hf") == ["removed TIFF metadata (camera, XMP)"]


def test_a_tiff_converted_for_openai_records_the_metadata_it_lost() -> None:
    image = Image(private_tiff())

    sent = received("openai", image)

    assert b"mmkit-scanner" not in sent
    assert image.conversions_for("openai")[-1] == "removed TIFF metadata (camera, XMP)"


def commented_gif(path: Path) -> bytes:
    """A GIF with a comment and an XMP application extension before its first image."""
    data = path.read_bytes()
    xmp = b"<x:xmpmeta>GPSLatitude 48.85</x:xmpmeta>"
    extensions = (
        b"\x21\xfe" + bytes([14]) + b"taken at home!" + b"\x00"
        + b"\x21\xff\x0bXMP DataXMP" + bytes([len(xmp)]) + xmp + b"\x00"
    )  # fmt: skip
    first_image = data.index(b"\x2c\x00\x00\x00\x00")  # the first frame sits at 0, 0
    return data[:first_image] + extensions + data[first_image:]


def test_an_animated_gif_loses_its_comment_and_xmp_and_keeps_every_frame(
    fixtures_dir: Path,
) -> None:
    from mmkit.media.image import ImageLimits

    original = commented_gif(fixtures_dir / "animated.gif")
    assert opened(original).info["comment"] == b"taken at home!"  # the input holds them
    image = Image(original)

    sent = image.encoded(ImageLimits(animation=True), target="vllm")  # takes animations

    assert b"taken at home" not in sent.data and b"GPSLatitude" not in sent.data
    assert sent.data == (fixtures_dir / "animated.gif").read_bytes()  # the rest, as it was
    assert image.conversions_for("vllm") == ["removed comments and XMP metadata"]


def test_a_still_gif_reaches_bytez_without_its_comment(fixtures_dir: Path) -> None:
    image = Image(commented_gif(fixtures_dir / "still.gif"))

    sent = received("bytez", image)

    assert sent == (fixtures_dir / "still.gif").read_bytes()
    assert image.conversions_for("bytez") == ["removed comments and XMP metadata"]


# --- any JPEG or PNG with EXIF -----------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(["JPEG", "PNG"]),
    mode=st.sampled_from(["RGB", "L"]),
    size=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    seed=st.integers(0, 2**32 - 1),
    lat=st.floats(0, 89, allow_nan=False).map(lambda x: float(int(x))),
    orientation=st.integers(1, 8),
    make=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20),
)
def test_stripped_images_decode_to_the_same_pixels_without_gps(
    fmt: str, mode: str, size: tuple[int, int], seed: int, lat: float, orientation: int, make: str
) -> None:
    from mmkit.media import image_metadata

    rng = np.random.default_rng(seed)
    channels = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    picture = PILImage.fromarray(rng.integers(0, 256, channels, dtype=np.uint8), mode)
    exif = PILImage.Exif()
    exif[0x010F] = f"mmkit-camera {make}"
    exif[0x0112] = orientation
    exif.get_ifd(GPS_IFD)[2] = (lat, 0.0, 0.0)
    buf = io.BytesIO()
    picture.save(buf, fmt, exif=exif.tobytes())
    original = buf.getvalue()
    mime = f"image/{fmt.lower()}"

    stripped = image_metadata.strip(original, mime)

    assert stripped is not None and stripped.note is not None
    assert opened(stripped.data).getexif().get_ifd(GPS_IFD) == {}
    assert f"mmkit-camera {make}".encode() not in stripped.data
    np.testing.assert_array_equal(pixels(stripped.data), pixels(original))
    # a JPEG keeps its orientation (alone); a PNG's, which mmkit does not apply, goes too
    kept = {0x0112: orientation} if fmt == "JPEG" and orientation != 1 else {}
    assert dict(opened(stripped.data).getexif()) == kept
    if fmt == "JPEG":
        assert stripped.data.endswith(scan(original))
    if orientation == 1:  # what passes through a receiver unchanged: the same, through a part
        sent = Image(original).encoded(BYTEZ.images, target="bytez").data
        assert sent == stripped.data


def test_a_warning_from_elsewhere_while_exif_is_read_leaves_it_readable(
    fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = PILImage.Exif.load

    def load_while_a_socket_is_collected(self: PILImage.Exif, data: bytes) -> None:
        # what the garbage collector says of a socket closed mid-read, from another thread
        warnings.warn("unclosed <socket.socket fd=13>", ResourceWarning, stacklevel=1)
        load(self, data)

    monkeypatch.setattr(PILImage.Exif, "load", load_while_a_socket_is_collected)
    image = Image((fixtures_dir / "gps.png").read_bytes())
    received("bytez", image)
    assert image.conversions_for("bytez") == [
        "removed EXIF metadata (GPS position, camera) and PNG text (Location, Author, Comment)"
    ]
