"""A video part: from a path (kept on disk), bytes, URL, data URI, base64 text, or a list of
frames read as a video."""

from __future__ import annotations

import functools
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from mmkit.errors import (
    BlockedURLError,
    InvalidMediaError,
    InvalidOptionError,
    MediaTooLargeError,
    MmkitError,
    UnsupportedFormatError,
    with_where,
)
from mmkit.media import video as video_codec
from mmkit.media.image import fit_size
from mmkit.media.sniff import short_name
from mmkit.media.source import Resolved, resolve
from mmkit.models.plan import lookup
from mmkit.models.timed import VideoPlan
from mmkit.parts.audio import Audio
from mmkit.parts.base import MediaPart, check_number, refuse_unknown
from mmkit.parts.image import Image

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from mmkit.media.fetch import FetchPolicy

OPTIONS = (
    "frames",
    "fps",
    "start",
    "end",
    "max_side",
    "max_frames",
    "as_frames",
    "inline",
    "pixel_limit",
    "max_duration",
    "model",
)

# Frames sampled from a video are kept as JPEG: the video was lossy already, and PNG costs 5×.
_FRAME_QUALITY = 90
# Decoded pixels kept by frames() at most (a caller may want them, and the JPEG is made only when
# a frame is sent): past it, each frame is kept as JPEG alone
_PIXELS_KEPT = 1 << 30
_DEFAULT_LIST_FPS = 1.0  # a list of frames with no fps= is read as one frame a second


class Video(MediaPart):
    """A video from a path, bytes, file, URL, data URI or base64 text, or a list of frames
    (paths, PIL images, arrays or Image parts) read as a video.

    A local file stays on disk (long videos are never read whole). `duration`, `fps`, `width`,
    `height`, `codec` and `has_audio` come from a header probe at construction. Options:
    `frames=`/`fps=` say how many frames to send to a target that reads no video (default 8),
    `start=`/`end=` cut a part (seconds), `max_side=` scales frames and video, `max_frames=` caps
    the frames sampled, `as_frames=True` sends frames even where video is native, `inline=True`
    sends a URL's bytes instead of the URL.
    """

    type: Literal["video"] = "video"
    path: str | None = None
    frame_list: list[Image] | None = Field(default=None, repr=False)
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    frame_rate: float | None = None
    frame_count: int | None = None
    codec: str | None = None
    has_audio: bool | None = None
    rotation: int = 0
    num_frames: int | None = Field(default=None, gt=0, le=video_codec.MAX_FRAMES)
    sample_fps: float | None = Field(default=None, gt=0)
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, gt=0)
    max_side: int | None = Field(default=None, gt=0)
    max_frames: int | None = Field(default=None, gt=0, le=video_codec.MAX_FRAMES)
    as_frames: bool | None = None
    pixel_limit: int | None = Field(default=None, gt=0)
    max_duration: float | None = Field(default=None, gt=0)

    kind: ClassVar[str] = "video"
    sources: ClassVar[str] = "a path, bytes, URL or list of frames"

    @field_validator("path")
    @classmethod
    def _no_path_from_data(cls, path: str | None) -> str | None:
        if path is not None:
            raise BlockedURLError(
                f"video path {path!r} in a dict: a part rebuilt from data never reads local "
                "files; build it in code (Video(path))"
            )
        return None

    def __init__(
        self,
        source: Any = None,
        /,
        *,
        frames: int | None = None,
        fps: float | None = None,
        start: float | None = None,
        end: float | None = None,
        max_side: int | None = None,
        max_frames: int | None = None,
        as_frames: bool | None = None,
        inline: bool | None = None,
        pixel_limit: int | None = None,
        max_duration: float | None = None,
        model: str | None = None,
        **fields: Any,
    ) -> None:
        options = dict(
            num_frames=frames,
            sample_fps=fps,
            start=start,
            end=end,
            max_side=max_side,
            max_frames=max_frames,
            as_frames=as_frames,
            inline=inline,
            pixel_limit=pixel_limit,
            max_duration=max_duration,
            model=model,
        )
        if source is None:  # rebuilt from its own fields (JSON, model_validate)
            self._init_fields({**fields, **{k: v for k, v in options.items() if v is not None}})
            return
        if fields:
            refuse_unknown("Video", fields, OPTIONS)
        if isinstance(source, Video):
            fields = source.model_dump(include=_VIDEO_SOURCE_FIELDS)
            fields["frame_list"] = source.frame_list
            path = Path(source.path) if source.path is not None else None
            chosen = {k: v for k, v in options.items() if v is not None}
            self._init_fields({**fields, **chosen}, path=path)
            self._info = source._info
            return
        if isinstance(source, (list, tuple)):
            self._init_fields({**options, **_frame_list_fields(source, fps)})
            self._check_guards()
            return
        path = _local_video_path(source)
        if path is not None:
            fields = {**options, "origin": str(path)}
            src: video_codec.Source | None = path
        else:
            resolved = resolve(source, "video")
            fields = {**options, "origin": resolved.origin, "url": resolved.url}
            fields["data"] = resolved.data
            src = resolved.data
        self._init_fields(fields, path=path)
        if src is not None:
            self._know(self._probe(src))

    def _init_fields(self, fields: dict[str, Any], path: Path | None = None) -> None:
        self._validate(fields)
        if path is not None:  # set after validation: only code names a file, never data
            self.path = str(path)
        if not self.frame_list:
            self._check_source()
        if self.num_frames is not None and self.sample_fps is not None and not self.frame_list:
            raise InvalidOptionError("Video takes frames= or fps=, not both; pick one")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InvalidOptionError(
                f"Video end={self.end:g} is not after start={self.start:g}; pass end > start"
            )

    def _learn(self, info: video_codec.VideoInfo) -> None:
        self.mime, self.width, self.height = info.mime, info.width, info.height
        self.duration, self.frame_rate, self.frame_count = info.duration, info.fps, info.frames
        self.codec, self.has_audio, self.rotation = info.codec, info.has_audio, info.rotation
        self._check_guards()

    def _check_guards(self) -> None:
        limit = self.max_duration
        if limit is not None and self.duration is not None and self.duration > limit:
            raise MediaTooLargeError(
                f"video {self.origin} is {self.duration:.1f} s long, over the {limit:g}-s limit "
                "(max_duration=); raise it, or cut the file"
            )

    # --- what a user reads ---------------------------------------------------------------------

    @property
    def fps(self) -> float | None:
        """Frames a second, as the container says (a list of frames: its fps= or 1)."""
        return self.frame_rate

    @property
    def nbytes(self) -> int | None:
        """Size of the source bytes (a file's size on disk; None for a URL not fetched yet)."""
        if self.data is not None:
            return len(self.data)
        if self.path is not None:
            return _file_size(self.path)
        if self._fetched is not None:
            return len(self._fetched)
        return None

    def frames(
        self,
        n: int | None = None,
        *,
        fps: float | None = None,
        start: float | None = None,
        end: float | None = None,
        exact: bool = True,
        max_side: int | None = None,
        fetch: FetchPolicy | None = None,
    ) -> list[Image]:
        """`n` frames spread evenly over [start, end) (default: the part's own range), or one every
        1/fps second, as Image parts carrying their `timestamp`. With neither, the part's
        `frames=`/`fps=` or 8. Fewer come back when the range holds fewer frames (all of them,
        and `conversions` says so); never more than `max_frames` (default 1,000: a cut past it is
        recorded). Numeric arguments that are not finite or out of range raise
        InvalidOptionError naming them. `exact=False` takes keyframes
        only: much faster, each frame the last keyframe at or before its time.

        Each frame keeps its decoded pixels: `to_pil()`/`to_numpy()` hand them out exactly as
        decoded, and the JPEG a frame is sent as is made when it is first needed (sending it,
        `data`, `nbytes`), never for a caller who only wants pixels. Past 1 GiB of pixels in
        all, each frame is encoded at once and keeps only its JPEG."""
        return self._sampled_frames(n, fps, start, end, exact, max_side, fetch, keep_pixels=True)

    def _sampled_frames(
        self,
        n: int | None,
        fps: float | None,
        start: float | None,
        end: float | None,
        exact: bool,
        max_side: int | None,
        fetch: FetchPolicy | None,
        keep_pixels: bool,
    ) -> list[Image]:
        """`frames()`; `keep_pixels=False` for frames that are only sent (JPEG only)."""
        if n is not None and fps is not None:
            raise InvalidOptionError("frames() takes n or fps=, not both; pick one")
        where = f"video {self.origin} frames()"
        check_number(where, "n", n, least=1, most=video_codec.MAX_FRAMES, whole=True)
        check_number(where, "fps", fps, above=0)
        check_number(where, "start", start, least=0)
        check_number(where, "end", end, above=0)
        check_number(where, "max_side", max_side, least=1, whole=True)
        n = None if n is None else int(n)  # 4.0 is 4: whole, as checked
        side = max_side if max_side is not None else self.max_side
        side = None if side is None else int(side)
        cap = self.max_frames
        if self.frame_list is not None:
            return self._list_frames(n, fps, start, end, cap)
        src, info = self._source_and_info(fetch)
        lo, hi = video_codec.clip_range(
            info,
            self.start if start is None else start,
            self.end if end is None else end,
            self.origin,
        )
        count, rate = n, fps
        if count is None and rate is None:
            count, rate = self.num_frames, self.sample_fps
            if count is None and rate is None:
                count = video_codec.DEFAULT_FRAMES
        # Never a list longer than the cap: a header may claim 10^12 s (see planned_times).
        most = cap if cap is not None else video_codec.FRAMES_CAP
        times, asked = video_codec.planned_times(
            lo, hi, cap=most, count=count or video_codec.DEFAULT_FRAMES, fps=rate
        )
        if asked > most:
            why = f"max_frames={cap}" if cap is not None else "pass max_frames= for more"
            self._note(f"sampled {most} frames, not {asked:,} ({why})")
        held = max(1, round((hi - lo) * info.fps)) if info.fps else len(times)
        wanted = len(times)
        offset = info.start_time
        keep_pixels = keep_pixels and wanted * _pixels(info, side) <= _PIXELS_KEPT
        if exact and wanted >= held:  # every frame in range: one sequential pass
            picked = video_codec.all_frames(
                src,
                info,
                self.origin,
                lo,
                hi,
                wanted,
                max_side=side,
                pixel_limit=self.pixel_limit,
            )
        else:
            picked = video_codec.sample(
                src,
                info,
                self.origin,
                [t - offset for t in times],
                exact=exact,
                max_side=side,
                pixel_limit=self.pixel_limit,
                # JPEG in the decoders' threads only for frames kept as JPEG alone
                jpeg_quality=None if keep_pixels else _FRAME_QUALITY,
                keep_pixels=keep_pixels,
                window=(lo - offset, hi - offset),
            )
        whole = start is None and end is None and self.start is None and self.end is None
        if not picked and whole:  # headers that claim frames nothing decodes: never an empty list
            raise InvalidMediaError(
                f"video {self.origin} has no frame that decodes (its headers claim "
                f"{clock_range(lo - offset, hi - offset)}); re-encode it"
            )
        if len(picked) < wanted and not exact:  # several times landed on one keyframe
            self._note(
                f"asked for {wanted} frames; keyframes only (exact=False): the {wanted} times in "
                f"{clock_range(lo - offset, hi - offset)} fall on {len(picked)} distinct "
                "keyframes, each taken once; pass exact=True for a frame at every time"
            )
        elif len(picked) < wanted:
            self._note(
                f"asked for {wanted} frames; {clock_range(lo - offset, hi - offset)} holds "
                f"{len(picked)} distinct ones: took all of them"
            )
        return [self._frame_part(frame, keep_pixels) for frame in picked]

    def audio(self, fetch: FetchPolicy | None = None, **options: Any) -> Audio:
        """The sound track as an Audio part, for models that read both; the video's `start`/`end`
        apply unless given. `options` are Audio's (sample_rate=, mono=, format=, ...)."""
        if self.frame_list is not None or self.has_audio is False:
            raise UnsupportedFormatError(
                f"video {self.origin} has no sound track; send it without audio"
            )
        options.setdefault("start", self.start)
        options.setdefault("end", self.end)
        source: Any
        if self.url is not None and self._fetched is None and fetch is None:
            source = self.url  # a URL stays a URL until a target needs bytes
        else:
            src, _ = self._source_and_info(fetch)
            source = src if isinstance(src, Path) else Resolved(src, self.origin)
        return Audio(source, **options)

    def to_pil(self, fetch: FetchPolicy | None = None) -> PILImage.Image:
        """The poster: the first frame, upright."""
        return self.frames(1, fetch=fetch)[0].to_pil()

    # --- what a wire format calls --------------------------------------------------------------

    def encoded(
        self,
        limits: video_codec.VideoLimits | None = None,
        fetch: FetchPolicy | None = None,
        target: str | None = None,  # the receiver's name, for the recorded conversions
    ) -> video_codec.EncodedVideo:
        """The video as a receiver that reads video accepts it; computed once per limits."""
        limits = limits or video_codec.VideoLimits()
        plan = self._model_plan(fetch)
        if plan is not None:  # the model's frame size only ever lowers the receiver's cap
            cap = plan.width * plan.height
            limits = replace(limits, max_pixels=min(cap, limits.max_pixels or cap))
        request = video_codec.VideoRequest(self.start, self.end, self.max_side)

        def make() -> video_codec.EncodedVideo:
            if self.frame_list is not None:
                return self._encode_list(limits)
            src, info = self._source_and_info(fetch)
            return video_codec.encode(src, info, self.origin, request, limits, self.pixel_limit)

        return self._encoded_once((limits, request), make, target)

    def sampled(
        self,
        limits: video_codec.VideoLimits | None = None,
        fetch: FetchPolicy | None = None,
        target: str | None = None,  # the receiver's name, for the recorded conversions
    ) -> list[Image]:
        """The frames a receiver without video gets, sampled once per limits; what sampling did
        ("video → N frames", a max_frames cut) is recorded as what `target` received."""
        limits = limits or video_codec.VideoLimits()
        key = (limits.max_frames, self.num_frames, self.sample_fps, self.start, self.end)

        def make() -> _Sampled:
            # The model's own frame count, when the part asks for none
            asked = self.num_frames is not None or self.sample_fps is not None
            plan = None if asked else self._model_plan(fetch)
            before, noted = self.max_frames, dict(self._conversions)
            self.max_frames = (
                limits.max_frames if before is None else min(before, limits.max_frames)
            )
            try:
                count = plan.frames if plan else None
                found = self._sampled_frames(count, None, None, None, True, None, fetch, False)
            finally:
                self.max_frames = before
            if plan is not None:
                for frame in found:  # each frame within the model's per-frame pixels
                    cap = plan.width * plan.height
                    frame.max_pixels = min(cap, frame.max_pixels or cap)
            made = [note for note in self._conversions if note not in noted]
            for note in made:  # this target's sampling, not a change for every target
                del self._conversions[note]
            return _Sampled(
                found, (*made, f"video → {len(found)} frames (the target reads no video)")
            )

        return self._encoded_once(("frames", key), make, target).frames

    def _model_plan(self, fetch: FetchPolicy | None) -> VideoPlan | None:
        """What the part's model does to this video (None: no model, or no video rule)."""
        if self.model is None or self.frame_list is not None:
            return None
        family = lookup(self.model)
        if family is None or family.video is None:
            return None
        _, info = self._source_and_info(fetch)
        lo, hi = video_codec.clip_range(info, self.start, self.end, self.origin)
        try:
            return family.video.plan(hi - lo, info.fps, info.width, info.height)
        except MediaTooLargeError:  # too short for the model's sampling: sent as it is today
            return None

    # --- what the base asks of each kind -------------------------------------------------------

    def _held(self) -> video_codec.Source | None:
        if self.data is not None:
            return self.data
        if self.path is not None:
            return Path(self.path)  # a local file stays on disk: never read whole
        return self._fetched

    def _probe(self, source: video_codec.Source) -> video_codec.VideoInfo:
        return video_codec.probe(source, self.origin, self.pixel_limit)

    def _frame_part(self, frame: video_codec.Frame, keep_pixels: bool) -> Image:
        """The frame as an Image part: holding its pixels (`keep_pixels`: the JPEG is made when
        it is sent, if ever), or its JPEG alone."""
        origin = f"{self.origin} frame at {video_codec.clock(frame.timestamp)}"
        pixels, data = frame.image, frame.jpeg
        if data is None and keep_pixels and pixels is not None:
            return Image._from_pixels(
                pixels,
                functools.partial(_jpeg, pixels),
                "image/jpeg",
                origin=origin,
                max_side=self.max_side,
                timestamp=frame.timestamp,
            )
        if data is None:
            assert pixels is not None  # a frame keeps its pixels or its JPEG
            data = _jpeg(pixels)
        part = Image(Resolved(data, origin), max_side=self.max_side)
        part.timestamp = frame.timestamp
        return part

    def _list_frames(
        self,
        n: int | None,
        fps: float | None,
        start: float | None,
        end: float | None,
        cap: int | None,
    ) -> list[Image]:
        frames = self.frame_list or []
        rate = self.frame_rate or _DEFAULT_LIST_FPS
        lo = self.start if start is None else start
        hi = self.end if end is None else end
        first = 0 if lo is None else math.ceil(lo * rate - 1e-9)
        last = len(frames) if hi is None else min(len(frames), math.ceil(hi * rate - 1e-9))
        chosen = list(range(first, last))
        count = n if n is not None else None
        if fps is not None:
            step = max(1, round(rate / fps))
            chosen = chosen[::step]
        elif count is None and self.num_frames is not None:
            count = self.num_frames
        if cap is not None and (count is None or count > cap) and len(chosen) > cap:
            self._note(f"sampled {cap} of {len(chosen)} frames (max_frames={cap})")
            count = cap
        if count is not None and count < len(chosen):
            chosen = [chosen[i * len(chosen) // count] for i in range(count)]
        elif count is not None and count > len(chosen):
            self._note(f"asked for {count} frames; the list holds {len(chosen)}: took all")
        out = []
        for index in chosen:
            part = Image(frames[index], max_side=self.max_side)
            part.timestamp = index / rate
            out.append(part)
        return out

    def _encode_list(self, limits: video_codec.VideoLimits) -> video_codec.EncodedVideo:
        frames = self._list_frames(None, None, None, None, limits.max_frames)
        images = [frame.to_pil() for frame in frames]
        if self.max_side is not None:
            for image in images:
                image.thumbnail((self.max_side, self.max_side))
        rate = self.frame_rate or _DEFAULT_LIST_FPS
        data = video_codec.frames_to_mp4(images, rate, self.origin)
        notes = (f"{len(images)} frames encoded as H.264 MP4 at {rate:g} fps",)
        width, height = images[0].size
        return video_codec.EncodedVideo(data, "video/mp4", width, height, len(images) / rate, notes)

    # --- values --------------------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Video):
            return NotImplemented
        mine = (self.data, self.path, self.url, self.frame_list, self.start, self.end)
        theirs = (other.data, other.path, other.url, other.frame_list, other.start, other.end)
        return mine == theirs

    __hash__ = None  # mutable caches: not hashable

    def _repr_html_(self) -> str:
        from mmkit import display

        frames = self.num_frames or video_codec.DEFAULT_FRAMES
        plan = self._shown() or [
            f'to OpenAI: video → {frames} frames; to Bytez, HF, vLLM (video="native"): the video'
        ]
        shown = self.data is not None or self.path is not None or self.frame_list is not None
        strip = None
        if shown:
            strip = lambda: [  # noqa: E731  # decoded only when shown
                (frame.to_pil(), frame.timestamp or 0.0)
                for frame in self.frames(display.STRIP_FRAMES, max_side=display.STRIP_SIDE)
            ]
        cost = self._token_note()
        caption = self.describe() + (f", {cost}" if cost else "")
        return display.video_html(caption, plan, strip)

    def tokens(self, model: str | None = None, fetch: FetchPolicy | None = None) -> int:
        """What this video costs `model` (default: its own `model=`) as the model samples it,
        from the headers (duration, frame rate, size) and the part's start/end."""
        from mmkit.models.plan import plan_video

        chosen = self._model_for(model)
        if self.duration is None and self.frame_list is None:
            self.fetch(fetch)
        if self.frame_list is not None or self.frame_rate is None or self.width is None:
            raise InvalidMediaError(
                f"{self.origin}: its duration, frame rate or size is not known (a list of "
                "frames), so not its cost; count its frames as images instead"
            )
        assert self.duration is not None and self.height is not None
        start = self.start or 0.0
        end = min(self.end, self.duration) if self.end is not None else self.duration
        if end <= start:
            raise InvalidOptionError(f"{self.origin}: start={start:g} is past its end={end:g}")
        return plan_video(chosen, end - start, self.frame_rate, self.width, self.height).tokens

    def describe(self) -> str:
        """One line, e.g. 'clip.mp4 MP4 3.0 s 320×240 h264 30 fps, audio, 41,233 bytes'."""
        if self.duration is None:
            return f"{self.origin} (not fetched)"
        kind = "frames" if self.frame_list is not None else short_name(self.mime or "").upper()
        rate = f" {self.frame_rate:g} fps" if self.frame_rate else ""
        codec = f" {self.codec}" if self.codec else ""
        audio = ", audio" if self.has_audio else ""
        size = f", {self.nbytes:,} bytes" if self.nbytes is not None else ""
        return (
            f"{self.origin} {kind} {self.duration:.1f} s {self.width}×{self.height}{codec}"
            f"{rate}{audio}{size}"
        )


_VIDEO_SOURCE_FIELDS = {
    "data",
    "url",
    "mime",
    "width",
    "height",
    "duration",
    "frame_rate",
    "frame_count",
    "codec",
    "has_audio",
    "rotation",
    "origin",
    "notes",
}


def clock_range(start: float, end: float) -> str:
    return f"{video_codec.clock(start)}–{video_codec.clock(end)}"


def _local_video_path(source: Any) -> Path | None:
    """A path to an existing regular file, kept as a path (never read whole), else None."""
    if isinstance(source, os.PathLike):
        path = Path(os.fspath(source))
    elif isinstance(source, str) and "://" not in source[:32] and not source.startswith("data:"):
        if len(source) > 4096 or "\x00" in source:
            return None
        try:
            path = Path(source).expanduser()
            if not path.exists():
                return None
        except (OSError, RuntimeError):
            return None
    else:
        return None
    try:
        if not path.is_file():
            return None  # folders, devices, pipes: source.resolve says what is wrong
        if path.stat().st_size == 0:
            raise InvalidMediaError(f"video {path} is empty; pass a file with content")
    except OSError:
        return None
    return path


def _file_size(path: str) -> int | None:
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def check_frame_count(count: int) -> None:
    """A list of frames is refused before any of them is read when it is longer than the guard."""
    if count > video_codec.MAX_LIST_FRAMES:
        raise MediaTooLargeError(
            f"video is a list of {count:,} frames, over the {video_codec.MAX_LIST_FRAMES:,}-frame "
            "limit for a list; pass fewer frames (sample them first)"
        )


def _frame_list_fields(items: Sequence[Any], fps: float | None) -> dict[str, Any]:
    if not items:
        raise InvalidMediaError("video is an empty list of frames; pass at least one frame")
    check_frame_count(len(items))
    frames: list[Image] = []
    for index, item in enumerate(items):
        try:
            frames.append(item if isinstance(item, Image) else Image(item))
        except MmkitError as exc:
            raise with_where(exc, f"frame {index + 1}") from exc
    rate = fps or _DEFAULT_LIST_FPS
    first = frames[0]
    return {
        "frame_list": frames,
        "origin": f"list of {len(frames)} frames",
        "width": first.width,
        "height": first.height,
        "duration": len(frames) / rate,
        "frame_rate": rate,
        "frame_count": len(frames),
        "has_audio": False,
        "sample_fps": None,
    }


@dataclass(frozen=True)
class _Sampled:
    """The frames sampled for a receiver without video, and what sampling changed."""

    frames: list[Image]
    conversions: tuple[str, ...]


def _jpeg(image: PILImage.Image) -> bytes:
    """A sampled frame as sent: JPEG (the video was lossy already, and PNG costs 5×)."""
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=_FRAME_QUALITY)
    return buf.getvalue()


def _pixels(info: video_codec.VideoInfo, max_side: int | None) -> int:
    """Bytes of one decoded RGB frame at the size frames are sampled at."""
    width, height = fit_size(info.width, info.height, max_side, None)
    return width * height * 3
