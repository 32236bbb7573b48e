"""ServerOptions: what the conformance server answers and which faults it injects."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmkit.errors import InvalidOptionError

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ServerOptions:
    """Settings of one server; every fault is off by default.

    - api_key: when set, OpenAI routes need `Authorization: Bearer <key>` and Bytez routes
      `Authorization: Key <key>`.
    - latency: seconds added to every chat request.
    - rate_429 / rate_5xx / rate_drop: fractions of chat requests answered 429 (with
      `Retry-After: retry_after`), 503, or dropped without any response; drawn from one
      `random.Random(seed)`, so a seed makes the sequence repeatable.
    - script: statuses answered in order to the first chat requests (0 drops the connection,
      200 answers normally), then `fail_first` requests answered `fail_status`, then service.
    - max_body_bytes: larger bodies get 413.
    - bytez_content_as_list: Bytez replies carry `content` as `[{"type":"text","text":…}]`.
    """

    api_key: str | None = None
    latency: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_5xx: float = 0.0
    rate_drop: float = 0.0
    fail_first: int = 0
    fail_status: int = 503
    script: tuple[int, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    bytez_content_as_list: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in ("rate_429", "rate_5xx", "rate_drop"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise InvalidOptionError(f"ServerOptions.{name}={value!r}: use a fraction 0…1")
        if self.rate_429 + self.rate_5xx + self.rate_drop > 1.0 + 1e-9:
            raise InvalidOptionError(
                "ServerOptions: rate_429 + rate_5xx + rate_drop is over 1; lower one of them"
            )
        for name in ("latency", "retry_after"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise InvalidOptionError(f"ServerOptions.{name}={value!r}: use seconds ≥ 0")
        if not isinstance(self.fail_first, int) or self.fail_first < 0:
            raise InvalidOptionError(f"ServerOptions.fail_first={self.fail_first!r}: use N ≥ 0")
        if not 400 <= self.fail_status <= 599:
            raise InvalidOptionError(
                f"ServerOptions.fail_status={self.fail_status!r}: use an error status 400…599"
            )
        # A list is a common slip for the tuple; freeze it so the options stay hashable.
        object.__setattr__(self, "script", tuple(self.script))
        for status in self.script:
            if status != 0 and not 200 <= status <= 599:
                raise InvalidOptionError(
                    f"ServerOptions.script has {status!r}: use HTTP statuses, or 0 for a drop"
                )
        if self.max_body_bytes < 1:
            raise InvalidOptionError("ServerOptions.max_body_bytes must be at least 1")
        if self.api_key is not None and not self.api_key:
            raise InvalidOptionError("ServerOptions.api_key is empty; pass None for no auth")

    def __repr__(self) -> str:
        # The key never appears in reprs, logs or tracebacks.
        fields = ", ".join(
            f"{name}={'***' if name == 'api_key' and value else repr(value)}"
            for name, value in self.__dict__.items()
        )
        return f"ServerOptions({fields})"


DEFAULT_OPTIONS = ServerOptions()
