"""Building messages the way users write them, comparing and saving them, and reading and writing
them in each wire format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pybase64
import pytest

import mmkit
from mmkit import Image, Message, Text

TOOL_CALLS = [
    {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    },
]


# --- builders ----------------------------------------------------------------------------------


def test_user_with_one_image(fixtures_dir: Path) -> None:
    message = Message.user("Describe", image=fixtures_dir / "photo.jpg")

    assert message.role == "user"
    assert message.content == [Text("Describe"), Image(fixtures_dir / "photo.jpg")]
    assert message.text == "Describe"
    assert [image.mime for image in message.images] == ["image/jpeg"]


def test_user_with_several_images_keeps_their_order(fixtures_dir: Path) -> None:
    message = Message.user(
        "Compare", images=[fixtures_dir / "rgb.png", fixtures_dir / "photo.webp"]
    )

    assert [type(p).__name__ for p in message.content] == ["Text", "Image", "Image"]
    assert [image.mime for image in message.images] == ["image/png", "image/webp"]


def test_user_with_interleaved_text_and_images(fixtures_dir: Path) -> None:
    a, b = fixtures_dir / "rgb.png", fixtures_dir / "photo.jpg"

    message = Message.user(["Compare", Image(a), "with", Image(b, max_side=512)])

    assert message.content == [Text("Compare"), Image(a), Text("with"), Image(b)]
    assert message.images[1].max_side == 512
    assert message.text == "Compare\nwith"


def test_interleaved_message_in_openai_keeps_the_order(fixtures_dir: Path) -> None:
    message = Message.user(
        [
            "Compare",
            Image(fixtures_dir / "rgb.png"),
            "with",
            Image(fixtures_dir / "photo.jpg", detail="high"),
        ]
    )

    (sent,) = mmkit.to_openai([message])

    assert [p["type"] for p in sent["content"]] == ["text", "image_url", "text", "image_url"]
    assert sent["content"][0] == {"type": "text", "text": "Compare"}
    assert sent["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert sent["content"][3]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert sent["content"][3]["image_url"]["detail"] == "high"


def test_image_keyword_accepts_an_image_part(fixtures_dir: Path) -> None:
    image = Image(fixtures_dir / "rgb.png", max_side=64)

    message = Message.user("Describe", image=image)

    assert message.images[0] is image


def test_system_message() -> None:
    assert mmkit.to_openai([Message.system("Be a good human!")]) == [
        {"role": "system", "content": "Be a good human!"}
    ]


def test_assistant_message() -> None:
    assert mmkit.to_openai([Message.assistant("Earth is round.")]) == [
        {"role": "assistant", "content": "Earth is round."}
    ]


def test_name_is_sent() -> None:
    assert mmkit.to_openai([Message.user("Hi", name="alice")]) == [
        {"role": "user", "content": "Hi", "name": "alice"}
    ]


def test_assistant_tool_calls_are_kept_in_extra() -> None:
    message = Message.assistant(tool_calls=TOOL_CALLS)

    assert message.extra == {"tool_calls": TOOL_CALLS}
    assert message.content == []


def test_assistant_tool_calls_are_sent_with_null_content() -> None:
    sent = mmkit.to_openai([Message.assistant(tool_calls=TOOL_CALLS)])

    assert sent == [{"role": "assistant", "content": None, "tool_calls": TOOL_CALLS}]


def test_tool_message_passes_through_to_openai_untouched() -> None:
    wire = {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'}

    assert mmkit.to_openai(mmkit.from_openai([wire])) == [wire]


def test_tool_message_builder() -> None:
    message = Message.tool('{"temp_c": 21}', tool_call_id="call_1")

    assert mmkit.to_openai([message]) == [
        {"role": "tool", "content": '{"temp_c": 21}', "tool_call_id": "call_1"}
    ]


def test_tool_call_conversation_round_trips_through_openai() -> None:
    wire: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": TOOL_CALLS},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
        {"role": "assistant", "content": "It is 21 °C."},
    ]

    assert mmkit.to_openai(mmkit.from_openai(wire)) == wire


# --- values: equality and JSON -----------------------------------------------------------------


def test_messages_with_the_same_content_are_equal(fixtures_dir: Path) -> None:
    from_path = Message.user("Describe", image=fixtures_dir / "photo.jpg")
    from_bytes = Message.user("Describe", image=(fixtures_dir / "photo.jpg").read_bytes())

    assert from_path == from_bytes  # equal content, whatever the source was


def test_messages_with_different_images_differ(fixtures_dir: Path) -> None:
    assert Message.user("Describe", image=fixtures_dir / "photo.jpg") != Message.user(
        "Describe", image=fixtures_dir / "rgb.png"
    )


def test_image_detail_is_part_of_equality(fixtures_dir: Path) -> None:
    assert Image(fixtures_dir / "rgb.png", detail="low") != Image(fixtures_dir / "rgb.png")


def test_messages_with_different_roles_differ() -> None:
    assert Message.user("Hi") != Message.assistant("Hi")


def test_json_round_trip(fixtures_dir: Path) -> None:
    message = Message.user(
        [
            "Compare",
            Image(fixtures_dir / "rgb.png"),
            "with",
            Image(fixtures_dir / "photo.jpg", max_side=512, detail="low"),
            Image("https://example.com/cat.png"),
        ],
        name="alice",
    )

    again = Message.model_validate_json(message.model_dump_json())

    assert again == message
    assert again.images[1].max_side == 512
    assert (again.images[0].mime, again.images[0].width) == ("image/png", 320)


def test_json_round_trip_keeps_tool_calls() -> None:
    message = Message.assistant(tool_calls=TOOL_CALLS)

    assert Message.model_validate_json(message.model_dump_json()) == message


def test_json_round_trip_encodes_the_same(fixtures_dir: Path) -> None:
    message = Message.user("Describe", image=Image(fixtures_dir / "image.bmp", max_side=50))

    again = Message.model_validate_json(message.model_dump_json())

    assert mmkit.to_openai([again]) == mmkit.to_openai([message])


# --- bad arguments -----------------------------------------------------------------------------


def test_images_keyword_given_a_string_says_use_image(fixtures_dir: Path) -> None:
    with pytest.raises(
        mmkit.InvalidOptionError, match="images= takes a list; for one item use image="
    ):
        Message.user("Describe", images=str(fixtures_dir / "rgb.png"))


def test_bad_role_is_refused_naming_the_roles() -> None:
    with pytest.raises(mmkit.InvalidOptionError, match=r"role.*'system'.*'user'"):
        Message("wizard", "Hello")  # type: ignore[arg-type]


def test_unknown_content_item_is_refused_naming_its_position() -> None:
    with pytest.raises(mmkit.InvalidOptionError, match="content item 2 is a int"):
        Message.user(["Hello", 42])


def test_bad_image_option_is_refused() -> None:
    with pytest.raises(mmkit.InvalidOptionError, match="max_side"):
        Image("https://example.com/a.png", max_side=-1)


# --- OpenAI dicts in, other formats out --------------------------------------------------------


def test_openai_url_image_becomes_bytez_url_part() -> None:
    """LiteLLM's Bytez adapter reads a flat `url`, failing on OpenAI's nested one; mmkit maps it."""
    wire = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            ],
        }
    ]

    assert mmkit.to_bytez(wire) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image", "url": "https://example.com/cat.jpg"},
            ],
        }
    ]


def test_openai_data_uri_image_becomes_bytez_base64_part(fixtures_dir: Path) -> None:
    uri = (
        "data:image/jpeg;base64,"
        + pybase64.b64encode((fixtures_dir / "photo.jpg").read_bytes()).decode()
    )
    wire = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}}]}

    assert mmkit.to_bytez([wire]) == [
        {"role": "user", "content": [{"type": "image", "base64": uri}]}
    ]


def test_openai_dict_becomes_hf_parts() -> None:
    wire = {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "text", "text": "Describe"},
        ],
    }

    assert mmkit.to_hf([wire]) == [
        {
            "role": "user",
            "content": [
                {"type": "image", "url": "https://example.com/cat.jpg"},
                {"type": "text", "text": "Describe"},
            ],
        }
    ]


def test_openai_string_image_url_shorthand_is_read() -> None:
    wire = {
        "role": "user",
        "content": [{"type": "image_url", "image_url": "https://example.com/cat.jpg"}],
    }

    (message,) = mmkit.from_openai([wire])

    assert message.images == [Image("https://example.com/cat.jpg")]


def test_openai_detail_survives_a_round_trip() -> None:
    wire = [
        {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.png", "detail": "low"},
                },
            ],
        }
    ]

    assert mmkit.to_openai(mmkit.from_openai(wire)) == wire


def test_bytez_dict_round_trips(fixtures_dir: Path) -> None:
    messages = [
        Message.system("Be brief."),
        Message.user("Describe", image=fixtures_dir / "photo.webp"),
        Message.user("And this", image="https://example.com/cat.jpg"),
    ]

    assert mmkit.from_bytez(mmkit.to_bytez(messages)) == messages


def test_unknown_openai_part_type_is_refused_naming_where() -> None:
    wire: list[dict[str, Any]] = [
        {"role": "system", "content": "Hi"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look"},
                {"type": "hologram", "hologram": {"data": "AAAA"}},
            ],
        },
    ]

    with pytest.raises(
        mmkit.UnsupportedFormatError, match=r"message 2: part 2 has type 'hologram'.*'image_url'"
    ):
        mmkit.from_openai(wire)


def test_openai_image_part_without_url_is_refused() -> None:
    wire = {"role": "user", "content": [{"type": "image_url", "image_url": {}}]}

    with pytest.raises(mmkit.InvalidOptionError, match="message 1: part 1: image_url needs"):
        mmkit.from_openai([wire])


def test_openai_content_of_wrong_type_is_refused() -> None:
    with pytest.raises(mmkit.InvalidOptionError, match="content must be a string or a list"):
        mmkit.from_openai([{"role": "user", "content": 42}])


# --- errors while encoding say where -----------------------------------------------------------


def test_encoding_error_names_message_and_part(fixtures_dir: Path) -> None:
    messages = [
        Message.system("Be brief."),
        Message.user("Describe", image=fixtures_dir / "photo.jpg"),
        Message.user(
            ["Now these", Image(fixtures_dir / "rgb.png"), Image(fixtures_dir / "truncated.jpg")]
        ),
    ]

    with pytest.raises(
        mmkit.InvalidMediaError, match=r"^message 3, part 3: image .*truncated\.jpg is corrupt"
    ):
        mmkit.to_openai(messages)


@pytest.mark.parametrize("encode", [mmkit.to_openai, mmkit.to_bytez, mmkit.to_hf])
def test_every_format_names_where_an_error_happened(encode: Any, fixtures_dir: Path) -> None:
    message = Message.user("Describe", image=Image(fixtures_dir / "rgb.png", format="bmp"))

    with pytest.raises(mmkit.UnsupportedFormatError, match=r"^message 1, part 2: image "):
        encode([message])


def test_a_bad_image_argument_is_named_in_the_error(fixtures_dir: Path) -> None:
    with pytest.raises(mmkit.InvalidMediaError) as err:
        Message.user("x", images=[fixtures_dir / "photo.jpg", b"garbage bytes here"])
    assert str(err.value).startswith("images[1]: image bytes (18 bytes)")


def test_a_bad_openai_dict_is_named_by_its_place_in_the_list() -> None:
    good = {"role": "user", "content": "hi"}
    bad = {"role": "user", "content": [{"type": "image_url"}]}
    with pytest.raises(mmkit.InvalidOptionError) as err:
        mmkit.to_bytez([good, good, bad])
    assert str(err.value).startswith("message 3: part 1: image_url needs a 'url' string")


# --- dicts are data: they never read local files unless the caller opts in ---------------------


def _openai(url: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}


def _typed(key: str, value: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "image", key: value}]}


# Every way a dict can name a file: the parse call and the dict (given the value).
DICT_READERS: list[tuple[str, Any, Any]] = [
    ("from_openai", mmkit.from_openai, _openai),
    ("to_openai(openai dict)", mmkit.to_openai, _openai),
    ("to_bytez(openai dict)", mmkit.to_bytez, _openai),
    ("to_hf(openai dict)", mmkit.to_hf, _openai),
    ("from_bytez url", mmkit.from_bytez, lambda v: _typed("url", v)),
    ("from_bytez base64", mmkit.from_bytez, lambda v: _typed("base64", v)),
    ("from_hf url", mmkit.from_hf, lambda v: _typed("url", v)),
    ("from_hf path", mmkit.from_hf, lambda v: _typed("path", v)),
    ("from_hf image", mmkit.from_hf, lambda v: _typed("image", v)),
    ("from_hf base64", mmkit.from_hf, lambda v: _typed("base64", v)),
]


def _local_names(photo: Path) -> list[str]:
    return [str(photo), f"file://{photo}", str(photo.relative_to(Path.cwd()))]


@pytest.mark.parametrize(
    ("label", "reader", "shape"), DICT_READERS, ids=[d[0] for d in DICT_READERS]
)
def test_a_dict_naming_a_local_file_is_refused_naming_the_opt_in(
    label: str, reader: Any, shape: Any, fixtures_dir: Path
) -> None:
    for value in _local_names(fixtures_dir / "photo.jpg"):
        with pytest.raises(mmkit.BlockedURLError, match=r"local_files=True") as err:
            reader([shape(value)])
        assert str(err.value).startswith("message 1: part 1: image ")


@pytest.mark.parametrize(
    ("label", "reader", "shape"), DICT_READERS, ids=[d[0] for d in DICT_READERS]
)
def test_a_refused_path_says_nothing_about_whether_it_exists(
    label: str, reader: Any, shape: Any, tmp_path: Path, fixtures_dir: Path
) -> None:
    there = tmp_path / "here.jpg"
    there.write_bytes((fixtures_dir / "photo.jpg").read_bytes())
    missing = tmp_path / "gone.jpg"
    errors = []
    for path in (there, missing):
        with pytest.raises(mmkit.BlockedURLError) as err:
            reader([shape(str(path))])
        errors.append(str(err.value).replace(path.name, "NAME"))
    assert errors[0] == errors[1]


@pytest.mark.parametrize(
    "value", ["~/cat.jpg", "/etc/passwd", "javascript:alert(1)", "ftp://h/a.png"]
)
def test_a_dict_never_takes_paths_or_other_schemes(value: str) -> None:
    with pytest.raises(mmkit.BlockedURLError, match="never reads local files"):
        mmkit.from_openai([_openai(value)])


def test_a_home_path_in_a_dict_is_never_expanded(
    tmp_path: Path, fixtures_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "cat.jpg").write_bytes((fixtures_dir / "photo.jpg").read_bytes())
    assert Image("~/cat.jpg").width == 320  # code may name it

    with pytest.raises(mmkit.BlockedURLError):
        mmkit.from_hf([_typed("path", "~/cat.jpg")])


def test_client_chat_with_dicts_does_not_read_local_files(fixtures_dir: Path) -> None:
    with (
        mmkit.Client("echo") as client,
        pytest.raises(mmkit.BlockedURLError, match="local_files=True"),
    ):
        client.chat([_openai(str(fixtures_dir / "photo.jpg"))])


def test_raw_base64_is_taken_only_in_a_base64_field(fixtures_dir: Path) -> None:
    raw = pybase64.b64encode((fixtures_dir / "photo.jpg").read_bytes()).decode()

    (message,) = mmkit.from_bytez([_typed("base64", raw)])
    assert message.images[0].width == 320
    with pytest.raises(mmkit.BlockedURLError, match="not an http"):
        mmkit.from_openai([_openai(raw)])


def test_a_dict_takes_urls_and_data_uris_by_default(fixtures_dir: Path) -> None:
    uri = (
        "data:image/jpeg;base64,"
        + pybase64.b64encode((fixtures_dir / "photo.jpg").read_bytes()).decode()
    )

    (message,) = mmkit.from_hf(
        [
            {
                "role": "user",
                "content": [
                    {"type": "image", "url": "https://example.com/a.png"},
                    {"type": "image", "base64": uri},
                ],
            }
        ]
    )
    assert [i.url for i in message.images] == ["https://example.com/a.png", None]
    assert message.images[1].width == 320


def test_trusted_hf_dicts_may_name_paths_with_local_files(fixtures_dir: Path) -> None:
    photo = fixtures_dir / "photo.jpg"
    (message,) = mmkit.from_hf([_typed("path", str(photo))], local_files=True)
    assert message.images[0].data == photo.read_bytes()

    (from_url,) = mmkit.from_hf([_typed("path", f"file://{photo}")], local_files=True)
    assert from_url.images[0].data == photo.read_bytes()


def test_local_files_passes_through_to_the_encoders(fixtures_dir: Path) -> None:
    photo = fixtures_dir / "photo.jpg"
    (out,) = mmkit.to_bytez([_openai(str(photo))], local_files=True)
    assert out["content"][0]["base64"].startswith("data:image/jpeg;base64,")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "javascript:alert(1)", "/etc/passwd"])
def test_mmkits_own_json_shape_takes_http_urls_only(url: str) -> None:
    with pytest.raises(mmkit.BlockedURLError, match="http"):
        Image.model_validate({"type": "image", "url": url})
    with pytest.raises(mmkit.BlockedURLError):
        Message.model_validate({"role": "user", "content": [{"type": "image", "url": url}]})
    with pytest.raises(mmkit.BlockedURLError):
        Message.user([{"type": "image", "url": url}])


def test_own_json_shape_with_an_http_url_is_named_by_it() -> None:
    image = Image.model_validate({"type": "image", "url": "https://example.com/a.png?sig=s3cret"})
    assert image.url == "https://example.com/a.png?sig=s3cret"
    assert "s3cret" not in repr(image) and "example.com/a.png" in repr(image)


@pytest.mark.parametrize("reader", [mmkit.from_openai, mmkit.from_bytez, mmkit.from_hf])
@pytest.mark.parametrize("value", [None, 3, True])
def test_from_given_no_list_names_the_argument(reader: Any, value: Any) -> None:
    with pytest.raises(mmkit.InvalidOptionError, match=r"^items must be a list of message dicts"):
        reader(value)


@pytest.mark.parametrize("writer", [mmkit.to_openai, mmkit.to_bytez, mmkit.to_hf])
@pytest.mark.parametrize("value", [None, 3, False, "hello"])
def test_to_given_no_list_names_the_argument(writer: Any, value: Any) -> None:
    with pytest.raises(mmkit.InvalidOptionError, match=r"^messages must be a list of Messages"):
        writer(value)


# --- what new users tripped on -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "hint"),
    [("maxside", "did you mean max_side=?"), ("max_pixel", "did you mean max_pixels=?")],
)
def test_an_unknown_image_keyword_is_refused_naming_the_right_one(
    keyword: str, hint: str, fixtures_dir: Path
) -> None:
    with pytest.raises(mmkit.InvalidOptionError, match=f"unknown keyword {keyword}=64; {hint}"):
        options: dict[str, Any] = {keyword: 64}
        Image(fixtures_dir / "photo.jpg", **options)


def test_an_unknown_keyword_with_nothing_close_lists_the_options(fixtures_dir: Path) -> None:
    with pytest.raises(mmkit.InvalidOptionError, match="options are max_side, max_pixels"):
        Image(fixtures_dir / "photo.jpg", colour="red")


def test_image_keyword_given_a_list_says_use_images(fixtures_dir: Path) -> None:
    photo = fixtures_dir / "photo.jpg"
    with pytest.raises(mmkit.InvalidOptionError, match=r"image= takes one image; .* images="):
        Message.user("Compare", image=[photo, photo])


def test_a_data_uri_without_base64_in_its_header_says_so(fixtures_dir: Path) -> None:
    payload = pybase64.b64encode((fixtures_dir / "photo.jpg").read_bytes()).decode()

    with pytest.raises(mmkit.InvalidMediaError, match=r"no ';base64' in its header") as err:
        Image("data:image/jpeg," + payload)
    assert "data:image/jpeg;base64,<data>" in str(err.value)


def test_an_error_about_the_image_keyword_names_it_once(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jpg"
    with pytest.raises(mmkit.InvalidMediaError) as err:
        Message.user("x", image=str(missing))
    assert str(err.value).startswith(f"image {str(missing)!r} is not an existing file")


def test_an_echo_error_names_the_model_once() -> None:
    with mmkit.Client("echo") as client, pytest.raises(mmkit.BadRequestError) as err:
        client.chat("hi", max_tokens=-1)
    assert str(err.value).startswith("echo: HTTP 400: ")


def test_a_misspelt_builder_keyword_says_which_was_meant(fixtures_dir: Path) -> None:
    photo = str(fixtures_dir / "photo.jpg")
    with pytest.raises(mmkit.InvalidOptionError) as caught:
        Message.user("What is this?", imag=photo)
    assert str(caught.value) == (
        f"Message.user got an unknown keyword imag={photo!r}; did you mean image=?"
    )
    with pytest.raises(mmkit.InvalidOptionError, match=r"did you mean videos=\?$"):
        Message.user("Compare", vidoes=[photo])
    with pytest.raises(mmkit.InvalidOptionError) as caught:
        Message.user("hi", colour="red")  # nothing close: the keywords it takes
    assert str(caught.value) == (
        "Message.user got an unknown keyword colour='red'; options are image, images, audio, "
        "audios, video, videos, name"
    )
    with pytest.raises(mmkit.InvalidOptionError, match=r"^Message.system got .* did you mean"):
        Message.system("Be brief", nam="rules")
