"""Everything a captioning run can be told, checked once before anything starts."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mmkit.errors import InvalidOptionError


@dataclass(frozen=True)
class CaptionOptions:
    """model: a model name (`echo`, `bytez/…`, `openai/…`, or any name with base_url), or an
    alias in `config` (a LiteLLM-style model_list file). prompt/system: the text sent with each
    item (a manifest row's own prompt wins; None: each media kind's default). max_side:
    downscale images so no side is longer.
    frames: frames sampled from a video for targets that take stills. video: "native" sends
    videos as videos to an OpenAI-compatible server that reads them, "frames" as sampled frames
    (default: what the target's wire format reads). max_tokens, temperature and
    params: generation parameters (params are provider-specific, passed as given).
    concurrency: requests in flight at most (the adaptive window never grows past it). rate:
    requests per minute at most. retries: further tries of an item after a 5xx, a dropped
    connection or a timeout (429s wait and retry without using these up). timeout: seconds each
    request may take whole (connect, headers, every piece of the body). limit: only the first N
    media items of the inputs. retry_failed: items whose record is an error are tried again
    (failures that say nothing about the item always are). dry_run: encode everything, send
    nothing, write nothing; count what a run would skip.
    workers: encoding processes (default: one per core; 0 encodes in a thread of this process).
    allow_private_urls: let URLs reach loopback/private addresses (tests, a LAN server).
    manifest_root: the folder manifest paths must stay in (default: each manifest's own folder).
    max_manifest_line: the longest manifest line read, in bytes (1 MiB); a longer one is that
    row's error record, and the rest of the manifest goes on.
    """

    model: str = "echo"
    prompt: str | None = None
    out: str | os.PathLike[str] | None = None
    system: str | None = None
    max_side: int | None = None
    frames: int = 8
    video: Literal["native", "frames"] | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    config: str | os.PathLike[str] | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    concurrency: int = 16
    rate: float | None = None
    retries: int = 5
    max_rate_limited: int = 100
    timeout: float | None = None
    limit: int | None = None
    retry_failed: bool = False
    dry_run: bool = False
    workers: int | None = None
    allow_private_urls: bool = False
    manifest_root: str | os.PathLike[str] | None = None
    max_manifest_line: int = 1 << 20
    progress: bool = False
    progress_every: float = 5.0

    def __post_init__(self) -> None:
        _positive_int("concurrency", self.concurrency)
        _positive_int("frames", self.frames)
        if self.max_side is not None:
            _positive_int("max_side", self.max_side)
        if self.limit is not None:
            _positive_int("limit", self.limit, zero=True)
        if self.workers is not None:
            _positive_int("workers", self.workers, zero=True)
        _positive_int("retries", self.retries, zero=True)
        _positive_int("max_manifest_line", self.max_manifest_line)
        if self.video not in (None, "native", "frames"):
            raise InvalidOptionError(f"video={self.video!r}: use 'native' or 'frames'")
        for name in ("rate", "timeout"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, (int, float)) and math.isfinite(value) and value > 0
            ):
                raise InvalidOptionError(f"{name} must be a positive number, not {value!r}")
        if self.prompt is not None and (
            not isinstance(self.prompt, str) or not self.prompt.strip()
        ):
            raise InvalidOptionError("prompt must be a non-empty text (or None: each kind's own)")

    def generation_params(self) -> dict[str, Any]:
        named = {"max_tokens": self.max_tokens, "temperature": self.temperature}
        return {**self.params, **{k: v for k, v in named.items() if v is not None}}

    def asked(self) -> str:
        """What this run asks of the model, as a fingerprint each record keeps: a rerun that
        asks another thing (prompt, system, model, generation parameters) captions again."""
        question = {
            "model": self.model,
            "prompt": self.prompt,
            "system": self.system,
            "params": self.generation_params(),
        }
        text = json.dumps(question, sort_keys=True, ensure_ascii=False, default=repr)
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _positive_int(name: str, value: Any, zero: bool = False) -> None:
    low = 0 if zero else 1
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise InvalidOptionError(f"{name} must be a whole number ≥ {low}, not {value!r}")
