"""The probe (container and stream headers only) and validation (the first frame decoded)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmkit.errors import InvalidMediaError, MediaTooLargeError, MmkitError
from mmkit.media.video.container import _duration, _first_line, _opened, _rate, _sniff_source
from mmkit.media.video.decode import _frames
from mmkit.media.video.info import DEFAULT_PIXEL_LIMIT, Source, VideoInfo
from mmkit.media.video.rotation import _mp4_rotation

if TYPE_CHECKING:
    pass


def probe(src: Source, origin: str, pixel_limit: int | None = None) -> VideoInfo:
    """Read the container and stream headers only; refuse what is not a video or is too large."""
    mime = _sniff_source(src)
    if mime is None or not mime.startswith("video/"):
        found = f"looks like {mime}" if mime else "has no known video signature"
        raise InvalidMediaError(
            f"video {origin} {found}; pass an MP4, MOV, WEBM, MKV, AVI or MPEG-TS file"
        )
    with _opened(src, origin) as container:
        try:
            if not container.streams.video:
                kind = "audio only" if container.streams.audio else "no video stream"
                raise InvalidMediaError(
                    f"video {origin} has {kind}; pass a file with a picture (audio goes in Audio)"
                )
            stream = container.streams.video[0]
            codec = stream.codec_context.codec.canonical_name  # 'av1', not 'libdav1d'
            width, height = int(stream.codec_context.width), int(stream.codec_context.height)
            fps = _rate(stream)
            duration = _duration(container, stream)
            frames = int(stream.frames or 0) or max(1, round(duration * fps))
            start_time = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
            has_audio = bool(container.streams.audio)
        except MmkitError:
            raise
        except Exception as exc:  # a broken header reports in many ways
            raise InvalidMediaError(
                f"video {origin} has a corrupt header ({_first_line(exc)})"
            ) from None
    if width < 1 or height < 1:
        raise InvalidMediaError(f"video {origin} has an empty picture size {width}×{height}")
    limit = DEFAULT_PIXEL_LIMIT if pixel_limit is None else pixel_limit
    if width * height > limit:
        raise MediaTooLargeError(
            f"video {origin} is {width}×{height} = {width * height:,} pixels a frame, over the "
            f"{limit:,}-pixel limit; pass pixel_limit= to allow it if you trust the file"
        )
    if duration <= 0:
        raise InvalidMediaError(f"video {origin} has no duration in its headers; re-mux it")
    rotation = _mp4_rotation(src) if mime in ("video/mp4", "video/quicktime", "video/3gpp") else 0
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        mime, width, height, duration, fps, frames, codec, rotation, has_audio, start_time
    )


def validate(src: Source, info: VideoInfo, origin: str, pixel_limit: int | None = None) -> None:
    """Decode the first frame for real (its pixels checked against the limit)."""
    with _opened(src, origin) as container:
        stream = container.streams.video[0]
        frame = next(_frames(container, stream, info, origin, pixel_limit), None)
    if frame is None:
        raise InvalidMediaError(f"video {origin} has no decodable frame; re-encode it")
