"""Properties of mmkit's encoders, checked with the Hypothesis strategies mmkit ships
(`mmkit.testing.strategies`): these tests are also their first users."""

from __future__ import annotations

import base64
import contextlib
import io
import os
from typing import Any
from urllib.parse import quote_from_bytes

import hostile_images as hostile
import numpy as np
import pybase64
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from PIL import ImageOps

import mmkit
from mmkit import Image, Message
from mmkit.formats import get as get_format
from mmkit.media.image import ImageLimits, fit_size
from mmkit.media.image_frames import gif_canvases
from mmkit.media.sniff import sniff
from mmkit.media.source import decode_base64, parse_data_uri
from mmkit.testing import strategies as mst

IMAGES = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MESSAGES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FAST = settings(max_examples=1000, deadline=None)

TARGETS = ("openai", "bytez", "hf")
ENCODERS = {"openai": mmkit.to_openai, "bytez": mmkit.to_bytez, "hf": mmkit.to_hf}


def sent_image(target: str, image: Image) -> bytes:
    """The bytes `target` receives for `image`, alone in a user message."""
    (message,) = ENCODERS[target]([Message.user([image])])
    (part,) = message["content"]
    uri = part["image_url"]["url"] if target == "openai" else part["base64"]
    header, _, payload = uri.partition(",")
    data = base64.b64decode(payload, validate=True)
    assert header == f"data:{sniff(data)};base64"  # the declared type never lies
    return data


# --- every image encodes -----------------------------------------------------------------------


@IMAGES
@given(image=mst.images(), target=st.sampled_from(TARGETS))
def test_any_image_encodes_to_the_expected_size_and_a_portable_mode(
    image: Image, target: str
) -> None:
    assert image.width is not None and image.height is not None
    expected = fit_size(image.width, image.height, image.max_side, image.max_pixels)

    data = sent_image(target, image)

    assert sniff(data) in get_format(target).target.images.mimes
    with PILImage.open(io.BytesIO(data)) as decoded:
        decoded.load()
        assert decoded.size == expected
        assert decoded.mode in mst.PORTABLE_MODES
        assert not getattr(decoded, "is_animated", False)


@IMAGES
@given(image=mst.images(options=st.just({})), target=st.sampled_from(TARGETS))
def test_image_is_converted_only_when_recorded(image: Image, target: str) -> None:
    data = sent_image(target, image)

    assert (data == image.data) == (image.conversions == [])


def pixels(data: bytes) -> np.ndarray[Any, Any]:
    """What a viewer shows: EXIF orientation applied, as RGBA."""
    with PILImage.open(io.BytesIO(data)) as im:
        im.load()
        return np.asarray(ImageOps.exif_transpose(im).convert("RGBA"))


def has_transparency(data: bytes) -> bool:
    with PILImage.open(io.BytesIO(data)) as im:
        if im.mode not in ("LA", "RGBA", "PA") and "transparency" not in im.info:
            return False
        return int(np.asarray(im.convert("RGBA").getchannel("A")).min()) < 255


@IMAGES
@given(data=mst.image_bytes(), options=mst.image_options(), target=st.sampled_from(TARGETS))
def test_pixels_change_only_when_recorded(
    data: bytes, options: dict[str, Any], target: str
) -> None:
    image = Image(data, **options)

    sent = sent_image(target, image)

    if not image.conversions:
        np.testing.assert_array_equal(pixels(sent), pixels(data))


@IMAGES
@given(
    data=mst.image_bytes(formats=("png", "webp", "gif", "tiff"), modes=("LA", "RGBA", "P")),
    format=st.none() | st.sampled_from(["png", "jpeg", "webp", "gif"]),
    target=st.sampled_from(TARGETS),
)
def test_transparency_is_kept_or_its_loss_recorded(
    data: bytes, format: str | None, target: str
) -> None:
    image = Image(data, format=format)

    sent = sent_image(target, image)

    if has_transparency(data) and not has_transparency(sent):
        assert any("flattened transparency" in note for note in image.conversions)


@IMAGES
@given(pil=mst.pil_images(), target=st.sampled_from(TARGETS))
def test_pil_image_is_sent_losslessly_or_its_conversion_recorded(
    pil: PILImage.Image, target: str
) -> None:
    image = Image(pil)

    sent = sent_image(target, image)

    if pil.mode not in mst.PORTABLE_MODES:
        changes = image.conversions_for(target)
        assert changes and changes[0].startswith("converted ")
    elif sniff(sent) == "image/jpeg":  # photographic pixels: lossy, and said so
        assert image.conversions_for(target) == [PIXELS_AS_JPEG]
        assert pixels(sent).shape == np.asarray(pil.convert("RGBA")).shape
    else:
        assert image.conversions_for(target) == []
        np.testing.assert_array_equal(pixels(sent), np.asarray(pil.convert("RGBA")))


PIXELS_AS_JPEG = (
    "encoded the pixels as JPEG (photographic: no alpha, many colours); "
    "pass format='png' to keep them lossless"
)


@IMAGES
@given(image=mst.images(mst.image_bytes(formats=("jpeg",), modes=("RGB",)), options=st.just({})))
def test_exif_orientation_is_applied_once(image: Image) -> None:
    data = sent_image("openai", image)

    with PILImage.open(io.BytesIO(data)) as decoded:
        assert decoded.size == (image.width, image.height)
        assert decoded.getexif().get(0x0112, 1) == 1


# --- sizes -------------------------------------------------------------------------------------

SIDES = st.integers(1, 10**9)
LIMITS = st.none() | st.integers(1, 10**9)
AREAS = st.none() | st.integers(1, 10**18)


@FAST
@given(width=SIDES, height=SIDES, max_side=LIMITS, max_pixels=AREAS)
@example(width=89_000_000, height=1, max_side=None, max_pixels=22_000_000)  # was a 6 s walk
@example(width=320, height=240, max_side=100, max_pixels=5000)
def test_fit_size_respects_limits_and_aspect_ratio(
    width: int, height: int, max_side: int | None, max_pixels: int | None
) -> None:
    new_width, new_height = fit_size(width, height, max_side, max_pixels)

    assert 1 <= new_width <= width and 1 <= new_height <= height
    if max_side is not None:
        assert max(new_width, new_height) <= max(max_side, 1)
    if max_pixels is not None:
        assert new_width * new_height <= max_pixels
    # The short side is within one pixel of the exact proportion to the long side.
    if width >= height:
        assert abs(new_height * width - height * new_width) <= width
    else:
        assert abs(new_width * height - width * new_height) <= height


@FAST
@given(width=SIDES, height=SIDES, max_side=LIMITS, max_pixels=AREAS)
def test_fit_size_leaves_fitting_sizes_alone(
    width: int, height: int, max_side: int | None, max_pixels: int | None
) -> None:
    fits = (max_side is None or max(width, height) <= max_side) and (
        max_pixels is None or width * height <= max_pixels
    )

    assert (fit_size(width, height, max_side, max_pixels) == (width, height)) == fits


@FAST
@given(width=SIDES, height=SIDES, max_side=st.integers(1, 10**9))
def test_fit_size_with_max_side_alone_uses_all_of_it(
    width: int, height: int, max_side: int
) -> None:
    assert max(fit_size(width, height, max_side, None)) == min(max_side, max(width, height))


@IMAGES
@given(
    image=mst.images(
        options=st.fixed_dictionaries(
            {}, optional={"max_side": st.integers(1, 48), "max_pixels": st.integers(1, 1500)}
        )
    )
)
def test_encoded_image_never_exceeds_its_limits(image: Image) -> None:
    data = sent_image("openai", image)

    with PILImage.open(io.BytesIO(data)) as decoded:
        width, height = decoded.size
    if image.max_side is not None:
        assert max(width, height) <= image.max_side
    if image.max_pixels is not None:
        assert width * height <= image.max_pixels


# --- base64 and data URIs ----------------------------------------------------------------------


@st.composite
def sprinkled(draw: st.DrawFn, text: str) -> str:
    """`text` with line breaks and spaces inserted at drawn places."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8)))
    pieces, start = [], 0
    for cut in cuts:
        pieces += [text[start:cut], draw(st.sampled_from(["\n", "\r\n", " ", "\t", "\n\n"]))]
        start = cut
    return "".join([*pieces, text[start:]])


@FAST
@given(
    data=st.binary(min_size=1, max_size=300),
    mime=st.sampled_from(["image/png", "application/octet-stream", ""]),
)
def test_data_uri_round_trips_byte_for_byte(data: bytes, mime: str) -> None:
    uri = f"data:{mime};base64,{pybase64.b64encode(data).decode()}"

    assert parse_data_uri(uri).data == data


@FAST
@given(data=st.binary(min_size=1, max_size=300))
def test_percent_encoded_data_uri_round_trips(data: bytes) -> None:
    assert parse_data_uri("data:application/octet-stream," + quote_from_bytes(data)).data == data


@FAST
@given(data=st.binary(max_size=300), urlsafe=st.booleans(), strip=st.booleans(), st_data=st.data())
def test_base64_round_trips_through_the_forgiving_decoder(
    data: bytes, urlsafe: bool, strip: bool, st_data: st.DataObject
) -> None:
    text = (pybase64.urlsafe_b64encode if urlsafe else pybase64.b64encode)(data).decode()
    if strip:
        text = text.rstrip("=")
    text = st_data.draw(sprinkled(text))

    assert decode_base64(text, "test input") == data


# --- wire-format round trips -------------------------------------------------------------------

# Images every built-in target takes as they are: no options, no conversion needed.
PASSTHROUGH_BYTES = mst.image_bytes(
    formats=("png", "jpeg", "webp", "gif"),
    modes=mst.PORTABLE_MODES,
    animated=False,
    exif_orientation=False,
)
PASSTHROUGH = mst.images(PASSTHROUGH_BYTES, options=st.just({}))
WITH_DETAIL = mst.images(
    PASSTHROUGH_BYTES,
    options=st.fixed_dictionaries(
        {}, optional={"detail": st.sampled_from(["auto", "low", "high"])}
    ),
)


@MESSAGES
@given(mst.conversations(images=WITH_DETAIL))
def test_openai_round_trip_is_lossless(messages: list[Message]) -> None:
    assert mmkit.from_openai(mmkit.to_openai(messages)) == messages


@MESSAGES
@given(mst.conversations(images=PASSTHROUGH))  # Bytez parts have no `detail`
def test_bytez_round_trip_is_lossless(messages: list[Message]) -> None:
    assert mmkit.from_bytez(mmkit.to_bytez(messages)) == messages


@MESSAGES
@given(mst.conversations(images=PASSTHROUGH, names=False))  # HF templates carry no `name`
def test_hf_round_trip_is_lossless(messages: list[Message]) -> None:
    assert mmkit.from_hf(mmkit.to_hf(messages)) == messages


@MESSAGES
@given(mst.conversations())
def test_openai_encoding_is_stable_after_one_round_trip(messages: list[Message]) -> None:
    once = mmkit.to_openai(messages)

    assert mmkit.to_openai(mmkit.from_openai(once)) == once


@MESSAGES
@given(mst.conversations())
def test_bytez_encoding_is_stable_after_one_round_trip(messages: list[Message]) -> None:
    once = mmkit.to_bytez(messages)

    assert mmkit.to_bytez(mmkit.from_bytez(once)) == once


@MESSAGES
@given(mst.conversations())
def test_json_round_trip_is_lossless(messages: list[Message]) -> None:
    for message in messages:
        assert Message.model_validate_json(message.model_dump_json()) == message


@MESSAGES
@given(
    st.lists(
        mst.openai_messages(roles=("system", "developer", "user", "assistant", "tool")),
        min_size=1,
        max_size=4,
    )
)
def test_openai_dicts_keep_their_role_and_fields_through_mmkit(wire: list[dict[str, Any]]) -> None:
    again = mmkit.to_openai(wire)

    assert len(again) == len(wire)
    for before, after in zip(wire, again, strict=True):
        assert after["role"] == before["role"]
        assert {k: v for k, v in after.items() if k != "content"} == {
            k: v for k, v in before.items() if k != "content"
        }
        if isinstance(before["content"], str) or before["content"] is None:
            assert after["content"] == before["content"]


@MESSAGES
@given(st.lists(mst.openai_messages(), min_size=1, max_size=4))
def test_openai_dicts_become_bytez_parts(wire: list[dict[str, Any]]) -> None:
    for message in mmkit.to_bytez(wire):
        parts = message["content"] if isinstance(message["content"], list) else []
        for part in parts:
            assert part["type"] in ("text", "image")
            if part["type"] == "image":
                assert set(part) in ({"type", "url"}, {"type", "base64"})
                value = part.get("url") or part["base64"]
                assert value.startswith("https://" if "url" in part else "data:image/")


# --- bad input only ever raises mmkit's errors -------------------------------------------------


# Pillow warns about corrupt TIFF tags (and mmkit then raises): expected here.
@pytest.mark.filterwarnings(r"ignore::UserWarning:PIL\.TiffImagePlugin")
@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=mst.corrupt_bytes(), target=st.sampled_from(TARGETS))
def test_corrupt_bytes_raise_only_mmkit_errors(data: bytes, target: str) -> None:
    try:
        image = Image(data)
        ENCODERS[target]([Message.user([image])])
    except mmkit.MmkitError:
        return
    # A few corruptions leave a decodable image (a PNG cut after its last pixel): it is then
    # what mmkit said it is.
    assert sniff(sent_image(target, image)) is not None


ODD_STRINGS = st.one_of(
    st.text(max_size=100),
    st.text(max_size=60).map(lambda s: "data:" + s),
    st.text(max_size=60).map(lambda s: "data:image/png;base64," + s),
    st.text(max_size=60).map(lambda s: "http://" + s),
    st.text(max_size=60).map(lambda s: "https://" + s),
    st.text(max_size=60).map(lambda s: "~" + s),
    st.from_regex(r"[A-Za-z0-9+/_=\-\s]{0,120}", fullmatch=True),
    st.text(alphabet="/.~ ", max_size=12),
)


@settings(max_examples=1000, deadline=None)
@given(ODD_STRINGS)
@example("")
@example("~no_such_user_mmkit")
@example("https://[::1")
@example("/dev/zero")
def test_any_string_gives_an_image_or_an_mmkit_error(text: str) -> None:
    try:
        image = Image(text)
    except mmkit.MmkitError:
        return
    assert image.url is not None or image.mime is not None


GIF_FRAMES = st.lists(
    st.tuples(st.integers(0, 120), st.integers(0, 120), st.integers(1, 120), st.integers(1, 120)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(screen=st.tuples(st.integers(1, 60), st.integers(1, 60)), frames=GIF_FRAMES)
def test_every_gif_frame_is_held_to_the_pixel_limit_before_decoding(
    screen: tuple[int, int], frames: list[tuple[int, int, int, int]]
) -> None:
    """A frame may grow the canvas to its extent: the limit holds on every canvas, the first
    frame's included, whatever the logical screen says."""
    limit = 4000
    canvases, width, height = [], screen[0], screen[1]
    for left, top, w, h in frames:  # the GIF rule, written out: the canvas only grows
        width, height = max(width, left + w), max(height, top + h)
        canvases.append(width * height)
    data = hostile.gif(screen, frames)

    if max(canvases) > limit:
        with pytest.raises(mmkit.MediaTooLargeError, match="4,000-pixel limit"):
            Image(data, pixel_limit=limit)
    else:
        image = Image(data, pixel_limit=limit)
        assert image.frames == len(frames)


@settings(max_examples=100, deadline=None)
@given(
    frames=st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 40), st.just(1), st.just(1)),
        min_size=1,
        max_size=8,
    ),
    junk=st.binary(max_size=3).filter(lambda b: not set(b) & set(b"!,;")),
)
def test_the_gif_walk_finds_the_canvas_pillow_builds(
    frames: list[tuple[int, int, int, int]], junk: bytes
) -> None:
    """Cross-checked against Pillow itself: the same frames and the same final canvas, even with
    stray bytes between blocks (which Pillow skips)."""
    data = hostile.gif((2, 2), frames)
    data = data[:19] + junk + data[19:]  # after the header and palette, before the first block
    with PILImage.open(io.BytesIO(data)) as im:
        for index in range(len(frames)):
            im.seek(index)
        pillow = im.size

    found = gif_canvases(data, 100)

    assert found.count == len(frames)
    assert found.sizes[-1] == pillow


@settings(max_examples=60, deadline=None)
@given(count=st.integers(1, 140), cap=st.integers(1, 120))
def test_frames_are_counted_from_the_file_up_to_one_past_the_cap(count: int, cap: int) -> None:
    image = Image(hostile.many_frame_gif(count, 2), max_frames=cap)

    assert image.frames == min(count, cap + 1)
    if count > cap:
        with pytest.raises(mmkit.MediaTooLargeError, match=f"more than {cap} frames"):
            image.encoded(ImageLimits(animation=True))


@settings(max_examples=300, deadline=None)
@given(
    text=ODD_STRINGS,
    shape=st.sampled_from(["openai", "bytez url", "bytez base64", "hf path", "hf image"]),
)
@example(text="/etc/passwd", shape="hf path")
@example(text="file:///etc/passwd", shape="openai")
@example(text="~/.ssh/id_rsa", shape="hf image")
def test_a_string_in_a_dict_never_touches_the_file_system(text: str, shape: str) -> None:
    if shape == "openai":
        wire: dict[str, Any] = {"type": "image_url", "image_url": {"url": text}}
    else:
        wire = {"type": "image", shape.split()[1]: text}
    reader = mmkit.from_openai if shape == "openai" else mmkit.from_hf
    with pytest.MonkeyPatch.context() as patch:
        for name in ("stat", "lstat", "open", "listdir", "scandir"):
            patch.setattr(os, name, _no_file_system)
        patch.setattr(io, "open", _no_file_system)
        with contextlib.suppress(mmkit.MmkitError):
            reader([{"role": "user", "content": [wire]}])


def _no_file_system(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"a dict touched the file system: {args!r}")


@pytest.mark.parametrize(
    "strategy",
    [mst.messages(), mst.openai_messages(), mst.images(), mst.corrupt_bytes(), mst.pil_images()],
)
def test_strategies_draw_cheaply(strategy: st.SearchStrategy[Any]) -> None:
    """The shipped strategies pass Hypothesis's cost checks (no filtering away most draws, no
    oversized data); wall-clock speed is not asserted here (it varies with the machine's load)."""
    seen = []

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(strategy)
    def draw(value: Any) -> None:
        seen.append(value)

    draw()
    assert len(seen) == 40
