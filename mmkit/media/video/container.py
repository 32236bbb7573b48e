"""Opening a video with PyAV and reading its stream headers, with PyAV's errors translated."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmkit.errors import InvalidMediaError
from mmkit.media.sniff import sniff
from mmkit.media.video.info import Source

if TYPE_CHECKING:
    pass


class _opened:
    """`with _opened(src, origin) as container`: PyAV's open with its errors translated."""

    def __init__(self, src: Source, origin: str) -> None:
        self._src, self._origin = src, origin
        self._container: Any = None

    def __enter__(self) -> Any:
        import av

        target: Any = io.BytesIO(self._src) if isinstance(self._src, bytes) else str(self._src)
        try:
            self._container = av.open(target, mode="r")
        except Exception as exc:
            raise InvalidMediaError(
                f"video {self._origin} cannot be opened as a video ({_first_line(exc)}); check "
                "the file"
            ) from None
        return self._container

    def __exit__(self, *exc: object) -> None:
        if self._container is not None:
            self._container.close()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else "") or type(exc).__name__


def _sniff_source(src: Source) -> str | None:
    if isinstance(src, bytes):
        return sniff(src[:1024])
    try:
        with open(src, "rb") as handle:
            return sniff(handle.read(1024))
    except OSError as exc:
        raise InvalidMediaError(f"video {src} cannot be read: {exc.strerror}") from None


def _nbytes(src: Source) -> int:
    return len(src) if isinstance(src, bytes) else src.stat().st_size


def _read(path: Path, origin: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidMediaError(f"video {origin} cannot be read: {exc.strerror}") from None


def _rate(stream: Any) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            value = float(rate)
            if 0 < value < 1000:
                return value
    return 0.0


def _duration(container: Any, stream: Any) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE units
    return 0.0
