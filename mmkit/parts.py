"""The parts of a message, as a user holds them: Text and Image (Audio and Video join them).

Parts are small typed values (pydantic models with a literal `type`): building one reads and
probes local input but never talks to the network; a URL stays a URL until a target needs bytes.
Equality is about content: two parts are equal when they carry the same text, the same bytes or
the same URL (and the same `detail`), whatever options they were built with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from mmkit.errors import InvalidOptionError
from mmkit.media import image as image_codec
from mmkit.media.source import Resolved, check_wire_url, resolve

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from mmkit.media.fetch import FetchPolicy

Detail = Literal["auto", "low", "high"]


def _options_error(kind: str, exc: ValidationError) -> InvalidOptionError:
    problems = "; ".join(
        f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return InvalidOptionError(f"{kind} options are invalid: {problems}")


class Text(BaseModel):
    """A piece of text in a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["text"] = "text"
    text: str

    def __init__(self, text: str | None = None, /, **fields: Any) -> None:
        if text is not None:
            fields["text"] = text
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise _options_error("Text", exc) from None

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"Text({shown!r})"

    __str__ = __repr__


class Image(BaseModel):
    """An image from a path, bytes, file, URL, data URI, base64 text, PIL image or numpy array.

    `mime`, `width`, `height` and `nbytes` come from a header probe at construction (for a URL,
    once fetched). Encoding for a target happens when a message is converted, once per target.
    """

    model_config = ConfigDict(
        extra="forbid", ser_json_bytes="base64", val_json_bytes="base64", validate_default=False
    )

    type: Literal["image"] = "image"
    data: bytes | None = Field(default=None, repr=False)
    url: str | None = None
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    frames: int = 1
    origin: str = ""
    max_side: int | None = Field(default=None, gt=0)
    max_pixels: int | None = Field(default=None, gt=0)
    format: str | None = None
    quality: int | None = Field(default=None, ge=1, le=100)
    detail: Detail | None = None
    inline: bool | None = None
    pixel_limit: int | None = Field(default=None, gt=0)
    # What was changed at construction (a declared type corrected by the bytes, ...).
    notes: list[str] = Field(default_factory=list)

    _info: image_codec.ImageInfo | None = PrivateAttr(default=None)
    _encoded: dict[Any, image_codec.EncodedImage] = PrivateAttr(default_factory=dict)
    _conversions: dict[str, None] = PrivateAttr(default_factory=dict)  # ordered set
    _fetched: bytes | None = PrivateAttr(default=None)

    def __init__(
        self,
        source: Any = None,
        /,
        *,
        max_side: int | None = None,
        max_pixels: int | None = None,
        format: str | None = None,
        quality: int | None = None,
        detail: Detail | None = None,
        inline: bool | None = None,
        pixel_limit: int | None = None,
        **fields: Any,
    ) -> None:
        options = dict(
            max_side=max_side,
            max_pixels=max_pixels,
            format=format,
            quality=quality,
            detail=detail,
            inline=inline,
            pixel_limit=pixel_limit,
        )
        if source is None:  # rebuilt from its own fields (JSON, model_validate)
            self._init_fields({**fields, **{k: v for k, v in options.items() if v is not None}})
            return
        if isinstance(source, Image):
            source = Resolved(source.data, source.origin, source.url, source.mime)
        notes: list[str] = []  # what was changed at construction
        resolved = _resolve_image(source, notes)
        fields = {
            **options,
            "origin": resolved.origin,
            "url": resolved.url,
            "data": resolved.data,
            "notes": notes,
        }
        info = None
        if resolved.data is not None:
            info = image_codec.probe(resolved.data, resolved.origin, pixel_limit)
            fields.update(mime=info.mime, width=info.width, height=info.height, frames=info.frames)
            declared = resolved.declared_mime
            if declared and declared != info.mime:
                notes.append(f"declared type {declared} corrected to {info.mime} (from the bytes)")
        self._init_fields(fields)
        self._info = info

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, url: str | None) -> str | None:
        # mmkit's own JSON is data too: no file://, javascript: or other schemes reach a receiver
        return None if url is None else check_wire_url(url, "image")

    @model_validator(mode="after")
    def _named(self) -> Image:
        if not self.origin and self.url is not None:  # rebuilt from JSON that had no origin
            from mmkit.media.fetch import redact_url

            self.origin = redact_url(self.url)
        return self

    def _init_fields(self, fields: dict[str, Any]) -> None:
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise _options_error("Image", exc) from None
        if self.data is None and self.url is None:
            raise InvalidOptionError("Image needs a source: a path, bytes, URL or image")

    # --- what a user reads ---------------------------------------------------------------------

    @property
    def nbytes(self) -> int | None:
        """Size of the source bytes (None for a URL not fetched yet)."""
        return None if self.data is None else len(self.data)

    @property
    def conversions(self) -> list[str]:
        """Everything changed on the way out: construction notes, then each encoding's changes."""
        return [*self.notes, *self._conversions]

    def to_pil(self, fetch: FetchPolicy | None = None) -> PILImage.Image:
        """The decoded image, EXIF orientation applied (fetches a URL image first)."""
        data, info = self._bytes_and_info(fetch)
        return image_codec.to_pil(data, info, self.origin)

    # --- what a wire format calls --------------------------------------------------------------

    def encoded(
        self,
        limits: image_codec.ImageLimits | None = None,
        fetch: FetchPolicy | None = None,
    ) -> image_codec.EncodedImage:
        """The image as a receiver with `limits` accepts it; computed once per limits and reused."""
        limits = limits or image_codec.ImageLimits()
        request = image_codec.ImageRequest(
            self.max_side, self.max_pixels, self.format, self.quality
        )
        key = (limits, request)
        found = self._encoded.get(key)
        if found is None:
            data, info = self._bytes_and_info(fetch)
            found = image_codec.encode(data, info, self.origin, request, limits)
            self._encoded[key] = found
        self._conversions.update(dict.fromkeys(found.conversions))
        return found

    def fetch(self, policy: FetchPolicy | None = None) -> Image:
        """Download a URL image now through the guarded fetch (bytes cached on the part)."""
        self._bytes_and_info(policy)
        return self

    def _bytes_and_info(self, policy: FetchPolicy | None) -> tuple[bytes, image_codec.ImageInfo]:
        data = self.data if self.data is not None else self._fetched
        if data is None:
            assert self.url is not None
            from mmkit.media.fetch import FetchPolicy, fetch  # HTTP only when a URL is inlined

            data = fetch(self.url, policy or FetchPolicy()).data
            self._info = None
            self._fetched = data
        if self._info is None:
            info = image_codec.probe(data, self.origin, self.pixel_limit)
            self._info = info
            self.mime, self.width, self.height, self.frames = (
                info.mime,
                info.width,
                info.height,
                info.frames,
            )
        return data, self._info

    # --- values --------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Image):
            return NotImplemented
        return (self.data, self.url, self.detail) == (other.data, other.url, other.detail)

    __hash__ = None  # type: ignore[assignment]  # mutable caches: not hashable

    def __repr__(self) -> str:
        return f"Image({self.describe()})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        from mmkit.display import image_html

        return image_html(self)

    def describe(self) -> str:
        """One line: origin, type, size and bytes, e.g. 'cat.jpg JPEG 640×480, 41,233 bytes'."""
        if self.mime is None:
            return f"{self.origin} (not fetched)"
        kind = self.mime.split("/")[-1].upper()
        frames = f", {self.frames} frames" if self.frames > 1 else ""
        size = f", {self.nbytes:,} bytes" if self.nbytes is not None else ""
        return f"{self.origin} {kind} {self.width}×{self.height}{frames}{size}"


def _resolve_image(source: Any, notes: list[str]) -> Resolved:
    """Pixels in memory become lossless PNG bytes (a mode PNG cannot hold is converted, and noted
    in `notes`); everything else is resolved as bytes or URL."""
    from PIL import Image as PILImageModule

    if isinstance(source, PILImageModule.Image):
        origin = f"PIL image {source.width}×{source.height} {source.mode}"
        return Resolved(image_codec.pixels_to_png(source, origin, notes), origin)
    if type(source).__module__ == "numpy" and hasattr(source, "shape"):
        origin = f"numpy array {'×'.join(str(n) for n in source.shape)} {source.dtype}"
        return Resolved(image_codec.pixels_to_png(source, origin, notes), origin)
    return resolve(source, "image")


Part = Text | Image
