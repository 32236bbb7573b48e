"""An image part: from a path, bytes, URL, data URI, base64 text, PIL image or numpy array."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, SerializerFunctionWrapHandler, model_serializer

from mmkit.media import image as image_codec
from mmkit.media.source import Resolved, resolve
from mmkit.offload import needs_work
from mmkit.parts.base import MediaPart, check_number, refuse_unknown

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from PIL import Image as PILImage

    from mmkit.media.fetch import FetchPolicy

Detail = Literal["auto", "low", "high"]

OPTIONS = (
    "max_side",
    "max_pixels",
    "format",
    "quality",
    "detail",
    "inline",
    "pixel_limit",
    "max_frames",
    "keep_metadata",
    "model",
)


class Image(MediaPart):
    """An image from a path, bytes, file, URL, data URI, base64 text, PIL image or numpy array.

    `mime`, `width`, `height` and `nbytes` come from a header probe at construction (for a URL,
    once fetched). Encoding for a target happens when a message is converted, once per target.
    """

    type: Literal["image"] = "image"
    width: int | None = None
    height: int | None = None
    frames: int = 1
    max_side: int | None = Field(default=None, gt=0)
    max_pixels: int | None = Field(default=None, gt=0)
    format: str | None = None
    quality: int | None = Field(default=None, ge=1, le=100)
    detail: Detail | None = None
    pixel_limit: int | None = Field(default=None, gt=0)
    timestamp: float | None = None  # seconds into the video, for a frame sampled from one
    max_frames: int | None = Field(default=None, gt=0)
    # False: EXIF (GPS position, camera), XMP and text chunks are cut out before sending
    keep_metadata: bool = False

    _pixels: bool = PrivateAttr(default=False)  # made from a PIL image or array: no own format
    # The decoded pixels the bytes were encoded from (a video frame): to_pil() without decoding
    _decoded: PILImage.Image | None = PrivateAttr(default=None)
    # Makes `data` from `_decoded` on first read (a video frame's JPEG): a caller who only wants
    # pixels never pays for the encode; None once made, or for a part built with its bytes.
    _make: Callable[[], bytes] | None = PrivateAttr(default=None)

    kind: ClassVar[str] = "image"
    sources: ClassVar[str] = "a path, bytes, URL or image"

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
        max_frames: int | None = None,
        keep_metadata: bool | None = None,
        model: str | None = None,
        **fields: Any,
    ) -> None:
        if fields:
            known = list(Image.model_fields) if source is None else None
            refuse_unknown("Image", fields, OPTIONS, known)
        options = dict(
            max_side=max_side,
            max_pixels=max_pixels,
            format=format,
            quality=quality,
            detail=detail,
            inline=inline,
            pixel_limit=pixel_limit,
            max_frames=max_frames,
            keep_metadata=keep_metadata,
            model=model,
        )
        if keep_metadata is None:  # a bool field: unset means its default (or the JSON's value)
            del options["keep_metadata"]
        if source is None:  # rebuilt from its own fields (JSON, model_validate)
            self._init_fields({**fields, **{k: v for k, v in options.items() if v is not None}})
            return
        pixels = _is_pixels(source) or (isinstance(source, Image) and source._pixels)
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
        # The probe runs before the fields are validated: its two options are checked first.
        check_number(f"Image {resolved.origin}", "pixel_limit", pixel_limit, least=1, whole=True)
        check_number(f"Image {resolved.origin}", "max_frames", max_frames, least=1, whole=True)
        if resolved.data is not None:
            info = image_codec.probe(resolved.data, resolved.origin, pixel_limit, max_frames)
            fields.update(mime=info.mime, width=info.width, height=info.height, frames=info.frames)
            notes.extend(info.notes)
            declared = resolved.declared_mime
            if declared and declared != info.mime:
                notes.append(f"declared type {declared} corrected to {info.mime} (from the bytes)")
        self._init_fields(fields)
        self._info = info
        self._pixels = pixels

    @classmethod
    def _from_pixels(
        cls, pixels: PILImage.Image, make: Callable[[], bytes], mime: str, **fields: Any
    ) -> Image:
        """A part holding decoded pixels whose bytes (`make()`, of type `mime`) are made on first
        need: sending it, reading `data`, `nbytes`, comparing, dumping or pickling it. For a maker
        of the bytes (a video's sampled frames) that knows they decode back to these pixels."""
        made = dict(mime=mime, width=pixels.width, height=pixels.height, frames=1, **fields)
        part = cls.model_construct({"data", *made}, **made)  # `data` counts as set, as when given
        del part.__dict__["data"]  # read through __getattr__ below until made
        part._decoded, part._make = pixels, make
        return part

    def _made(self) -> bytes | None:
        """`data`, made now if it was left to first need."""
        fields = self.__dict__
        if "data" not in fields:
            make = self._make
            if make is not None:  # None: another thread has just made it
                data = make()  # outside the lock: two threads at once both encode, once
                with _SWAPPING:
                    fields = self.__dict__
                    if "data" not in fields:
                        # The fields in their declared order, as a part built with its bytes
                        # has them (its JSON reads the same); one swap: a reader sees the old
                        # dict or the new one, never a half-made one.
                        ordered = {
                            name: data if name == "data" else fields[name]
                            for name in type(self).model_fields
                            if name == "data" or name in fields
                        }
                        object.__setattr__(self, "__dict__", {**ordered, **fields, "data": data})
                        self._make = None
        made: bytes | None = self.__dict__["data"]
        return made

    if not TYPE_CHECKING:  # for mypy, `data` is the declared field

        def __getattr__(self, name: str) -> Any:
            if name == "data":  # only reached while the bytes are left to first need
                return self._made()
            return super().__getattr__(name)

    @model_serializer(mode="wrap")
    def _dumped(self, handler: SerializerFunctionWrapHandler) -> Any:
        self._made()  # the dump reads the fields themselves, not through __getattr__
        return handler(self)

    def __getstate__(self) -> dict[Any, Any]:
        # Pickled (to another process): the bytes go, the decoded pixels stay behind (3.7 MB
        # for a 720p frame; to_pil() there decodes the bytes).
        self._made()
        state = super().__getstate__()
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, "_decoded": None, "_make": None}
        return state

    # --- what a user reads ---------------------------------------------------------------------

    def to_pil(self, fetch: FetchPolicy | None = None) -> PILImage.Image:
        """The decoded image, EXIF orientation applied (fetches a URL image first)."""
        if self._decoded is not None:
            return self._decoded.copy()  # a copy: drawing on it leaves the part's own intact
        data, info = self._source_and_info(fetch)
        return image_codec.to_pil(data, info, self.origin)

    def to_numpy(self, fetch: FetchPolicy | None = None) -> npt.NDArray[np.uint8]:
        """The decoded image as an array (height × width × channels), as `to_pil()` gives it."""
        import numpy as np

        return np.asarray(self.to_pil(fetch))

    def describe(self) -> str:
        """One line: origin, type, size and bytes, e.g. 'cat.jpg JPEG 640×480, 41,233 bytes'."""
        if self.mime is None:
            return f"{self.origin} (not fetched)"
        kind = self.mime.split("/")[-1].upper()
        frames = f", {self.frames} frames" if self.frames > 1 else ""
        pending = "data" not in self.__dict__  # a repr never makes the bytes it would count
        size = f", {self.nbytes:,} bytes" if not pending and self.nbytes is not None else ""
        return f"{self.origin} {kind} {self.width}×{self.height}{frames}{size}"

    # --- what a wire format calls --------------------------------------------------------------

    def encoded(
        self,
        limits: image_codec.ImageLimits | None = None,
        fetch: FetchPolicy | None = None,
        target: str | None = None,
        record: bool = True,
    ) -> image_codec.EncodedImage:
        """The image as a receiver with `limits` accepts it; computed once per limits and reused.
        `target` names the receiver (a wire format's name) in the recorded conversions;
        `record=False` asks without recording (an estimate: nothing was sent)."""
        limits = limits or image_codec.ImageLimits()
        request = image_codec.ImageRequest(
            self.max_side,
            self.max_pixels,
            self.format,
            self.quality,
            not self._pixels,
            self.keep_metadata,
        )
        model = self.model or limits.model  # the part's own model wins over the receiver's
        if model is not None:
            from mmkit.models.send import send_size

            if self._info is None or self._held() is None:
                needs_work()  # a fetch or a probe is work for a thread, never an event loop
            _, info = self._source_and_info(fetch)
            size = send_size(model, info.width, info.height, self.detail)
            request = replace(request, size=size)
        return self._encoded_once(
            (limits, request),
            lambda: image_codec.encode(*self._source_and_info(fetch), self.origin, request, limits),
            target,
            record,
        )

    def tokens(self, model: str | None = None, fetch: FetchPolicy | None = None) -> int:
        """What this image costs `model` (default: its own `model=`), counted at the size mmkit
        sends it for that model (the part's own limits win); a URL image is fetched first."""
        from mmkit.models.plan import plan_image

        chosen = self._model_for(model)
        limits = image_codec.ImageLimits(model=self.model or chosen, max_bytes=None)
        sent = self.encoded(limits, fetch, record=False)
        return plan_image(chosen, sent.width, sent.height, self.detail).tokens

    # --- what the base asks of each kind -------------------------------------------------------

    def _probe(self, source: bytes) -> image_codec.ImageInfo:
        return image_codec.probe(source, self.origin, self.pixel_limit, self.max_frames)

    def _learn(self, info: image_codec.ImageInfo) -> None:
        self.notes.extend(n for n in info.notes if n not in self.notes)
        self.mime, self.width, self.height, self.frames = (
            info.mime,
            info.width,
            info.height,
            info.frames,
        )

    # --- values --------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Image):
            return NotImplemented
        return (self.data, self.url, self.detail) == (other.data, other.url, other.detail)

    __hash__ = None  # mutable caches: not hashable

    def _repr_html_(self) -> str:
        from mmkit import display

        held = self._decoded is not None or self.data is not None  # a frame's JPEG stays unmade
        pixels = self.to_pil if held else None
        cost = self._token_note()
        caption = self.describe() + (f", {cost}" if cost else "")
        return display.image_html(caption, self._shown(), pixels)


_SWAPPING = threading.Lock()  # a part's fields swapped for the ones holding its made bytes


def _is_pixels(source: Any) -> bool:
    module = type(source).__module__
    return module.startswith("PIL.") or (module == "numpy" and hasattr(source, "shape"))


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
