"""Message: a role and a list of parts, with the builders users write in notebooks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mmkit.errors import InvalidOptionError, MmkitError, with_where
from mmkit.parts import Audio, Image, Text, Video, refuse_unknown

Role = Literal["system", "developer", "user", "assistant", "tool"]
Part = Annotated[Text | Image | Audio | Video, Field(discriminator="type")]
MediaPart = Image | Audio | Video

# Builder keywords and the part each one makes.
_MEDIA_KEYWORDS: dict[str, type[MediaPart]] = {
    "image": Image,
    "images": Image,
    "audio": Audio,
    "audios": Audio,
    "video": Video,
    "videos": Video,
}

# Message.user's keywords, for "did you mean" on a misspelt one.
_USER_KEYWORDS = (*_MEDIA_KEYWORDS, "name")


class Message(BaseModel):
    """One chat message. `extra` keeps fields passed through untouched (tool_call_id, ...)."""

    model_config = ConfigDict(extra="forbid")

    role: Role
    content: list[Part] = Field(default_factory=list)
    name: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    def __init__(self, role: Role | None = None, content: Any = None, /, **fields: Any) -> None:
        if role is not None:
            fields["role"] = role
        if content is not None:
            fields["content"] = to_parts(content)
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidOptionError(f"Message is invalid: {problems}") from None

    # --- builders ------------------------------------------------------------------------------

    @classmethod
    def user(
        cls,
        content: Any = None,
        *,
        image: Any = None,
        images: Iterable[Any] | None = None,
        audio: Any = None,
        audios: Iterable[Any] | None = None,
        video: Any = None,
        videos: Iterable[Any] | None = None,
        name: str | None = None,
        **unknown: Any,
    ) -> Message:
        """Text (or an interleaved list of text and parts), then the media given by keyword.
        Audio is a file, URL, bytes, ... or (samples, rate); a video may be a list of frames."""
        if unknown:  # `imag=` must say "did you mean image=?", as Image(maxside=) does
            refuse_unknown("Message.user", unknown, _USER_KEYWORDS)
        return cls._build(
            "user",
            content,
            name,
            image=image,
            images=images,
            audio=audio,
            audios=audios,
            video=video,
            videos=videos,
        )

    @classmethod
    def system(cls, content: Any, *, name: str | None = None, **unknown: Any) -> Message:
        if unknown:
            refuse_unknown("Message.system", unknown, ("name",))
        return cls._build("system", content, name)

    @classmethod
    def assistant(cls, content: Any = None, *, name: str | None = None, **extra: Any) -> Message:
        """An assistant turn; `tool_calls=` and other fields are kept in `extra`."""
        message = cls._build("assistant", content, name)
        message.extra.update(extra)
        return message

    @classmethod
    def tool(cls, content: Any, *, tool_call_id: str, **extra: Any) -> Message:
        return cls("tool", content, extra={"tool_call_id": tool_call_id, **extra})

    @classmethod
    def _build(cls, role: Role, content: Any, name: str | None, **media: Any) -> Message:
        parts = to_parts(content) if content is not None else []
        for keyword, value in media.items():
            if value is None:
                continue
            make = _MEDIA_KEYWORDS[keyword]
            many = keyword.endswith("s")
            # a list of parts, but never a string, bytes or one (samples, rate) pair
            if many and (
                isinstance(value, (str, bytes))
                or not isinstance(value, Iterable)
                or _is_samples(value)
            ):
                raise InvalidOptionError(
                    f"{keyword}= takes a list; for one item use {keyword[:-1]}="
                )
            if not many and isinstance(value, (list, tuple)) and not _is_samples(value):
                raise InvalidOptionError(
                    f"{keyword}= takes one {keyword}; for several use {keyword}s=[...]"
                )
            for index, item in enumerate(value if many else [value]):
                try:
                    parts.append(item if isinstance(item, make) else make(item))
                except MmkitError as exc:  # say which of the user's arguments it was
                    if not many and str(exc).startswith(f"{keyword} "):
                        raise  # "image cat.jpg does not exist" already names it
                    raise with_where(exc, f"{keyword}[{index}]" if many else keyword) from exc
        return cls(role, parts, name=name)

    # --- reading -------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """The text parts joined by newlines."""
        return "\n".join(p.text for p in self.content if isinstance(p, Text))

    @property
    def images(self) -> list[Image]:
        return [p for p in self.content if isinstance(p, Image)]

    @property
    def audios(self) -> list[Audio]:
        return [p for p in self.content if isinstance(p, Audio)]

    @property
    def videos(self) -> list[Video]:
        return [p for p in self.content if isinstance(p, Video)]

    def __repr__(self) -> str:
        shown = ", ".join(repr(p) for p in self.content)
        return f"Message.{self.role}([{shown}])"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from mmkit.display import message_html

        return message_html(self.role, [part._repr_html_() for part in self.content])


def to_parts(content: Any) -> list[Text | Image | Audio | Video]:
    """A string, a part, or a list of strings, parts and in-memory images as a list of parts."""
    items: Sequence[Any] = content if isinstance(content, (list, tuple)) else [content]
    parts: list[Text | Image | Audio | Video] = []
    for index, item in enumerate(items):
        if isinstance(item, (Text, Image, Audio, Video)):
            parts.append(item)
        elif isinstance(item, str):
            parts.append(Text(item))
        elif _is_pixels(item):
            parts.append(Image(item))
        elif isinstance(item, dict):  # a part already in mmkit's own JSON shape
            parts.append(_part_from_dict(item, index))
        else:
            raise InvalidOptionError(
                f"message content item {index + 1} is a {type(item).__name__}; use a string or "
                "a part: Image(...) for an image, Audio(...) for audio, Video(...) for a video (a "
                "path string is read as text here)"
            )
    return parts


def _is_pixels(item: Any) -> bool:
    module = type(item).__module__
    return module.startswith("PIL.") or (module == "numpy" and hasattr(item, "shape"))


def _is_samples(value: Any) -> bool:
    """(numpy samples, rate): one audio, not a list of two."""
    return isinstance(value, tuple) and len(value) == 2 and hasattr(value[0], "shape")


def _part_from_dict(item: dict[str, Any], index: int) -> Text | Image | Audio | Video:
    kind = item.get("type")
    if kind == "text":
        return Text.model_validate(item)
    if kind == "image":
        return Image.model_validate(item)
    if kind == "audio":
        return Audio.model_validate(item)
    if kind == "video":
        return Video.model_validate(item)
    raise InvalidOptionError(
        f"message content item {index + 1} has type {kind!r}; mmkit parts are 'text', 'image', "
        "'audio' or 'video' (for OpenAI or Bytez dicts use mmkit.from_openai / mmkit.from_bytez)"
    )
