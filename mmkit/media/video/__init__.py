"""Videos: container-header probe, first-frame validation, fast frame sampling, and encoding for a
receiver's limits.

PyAV (FFmpeg) is the decoder. The probe reads the container and stream headers only (duration,
rate, frame count, size, codec, rotation, audio); `validate` decodes the first frame for real;
`sample` seeks to the keyframe before each wanted time and decodes forward only to it, scaling in
swscale as it converts; `encode` passes the file through when the receiver takes it as it is and
re-encodes it to H.264 MP4 (libx264) when it must be trimmed, scaled, turned upright or shrunk.

Every limit is counted on what is decoded: each frame's pixels are checked, and decoding stops at
the duration and frame count the container claims (a file that decodes to more is cut off).

One module a step, as `image.py` has one function a step: `info` (what a video is and what is
asked of it), `container` and `rotation` (headers), `probing`, `decode` (frames checked against
the claims), `sampling` and `encoding` (named for the step, so that the functions `probe`,
`sample` and `encode` re-exported here do not hide them). The names below are the public face.
"""

from mmkit.media.video.encoding import encode, frames_to_mp4
from mmkit.media.video.info import (
    DEFAULT_FRAMES,
    DEFAULT_PIXEL_LIMIT,
    FRAMES_CAP,
    MAX_FRAMES,
    MAX_LIST_FRAMES,
    VIDEO_MIMES,
    EncodedVideo,
    Frame,
    Source,
    VideoInfo,
    VideoLimits,
    VideoRequest,
    clip_range,
    clock,
)
from mmkit.media.video.probing import probe, validate
from mmkit.media.video.sampling import (
    all_frames,
    planned_times,
    rate_times,
    sample,
    uniform_times,
)

__all__ = [
    "DEFAULT_FRAMES",
    "DEFAULT_PIXEL_LIMIT",
    "FRAMES_CAP",
    "MAX_FRAMES",
    "MAX_LIST_FRAMES",
    "VIDEO_MIMES",
    "EncodedVideo",
    "Frame",
    "Source",
    "VideoInfo",
    "VideoLimits",
    "VideoRequest",
    "all_frames",
    "clip_range",
    "clock",
    "encode",
    "frames_to_mp4",
    "planned_times",
    "probe",
    "rate_times",
    "sample",
    "uniform_times",
    "validate",
]
