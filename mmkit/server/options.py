"""ServerOptions: what the conformance server answers and which faults it injects."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mmkit.errors import InvalidOptionError

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
# Connection limits: a crowd of idle or trickling clients must not lock out the others.
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 60.0
# Longer than clients keep pooled connections (httpx: 5 s), so that a client never sends on a
# connection the server is closing at that very moment.
DEFAULT_KEEP_ALIVE_TIMEOUT = 15
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
DEFAULT_BACKLOG = 2048
# What one body may hold besides bytes (the byte cap alone let 20M `{}` take 1.7 GB to parse).
# 100,000 values is ~20 MB of parsed objects at most; 500 image parts and 10,000 text parts
# hold ~32,000.
DEFAULT_MAX_JSON_VALUES = 100_000
DEFAULT_MAX_JSON_DEPTH = 64
# OpenAI's own limit of images in one request; each is a real decode.
DEFAULT_MAX_MEDIA_PARTS = 500


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
    - max_json_values: a body with more JSON values gets 413, before anything is parsed.
    - max_json_depth: a body nested deeper gets 400, before anything is parsed.
    - max_media_parts: a request with more inline media parts (data URIs, base64) gets 400,
      before any is decoded.
    - bytez_content_as_list: Bytez replies carry `content` as `[{"type":"text","text":…}]`.

    Connection limits (slow or idle clients cannot hold the server):
    - max_connections: open connections kept; past it a new one closes the longest-idle
      connection with no request in progress (idle 0.5 s or more); when none is idle, requests
      are answered 503, and past twice the number new connections are closed at once.
    - header_timeout: seconds a request's headers may take to arrive (from its first byte, or
      from the connection's start); then the connection is closed.
    - body_timeout: seconds a request's body may take to arrive; then 408.
    - keep_alive_timeout: whole seconds an idle keep-alive connection stays open between requests.
    - max_header_bytes: a request whose headers are larger is answered 431 and closed.
    - backlog: connections the OS queues before they are accepted.
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
    max_json_values: int = DEFAULT_MAX_JSON_VALUES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH
    max_media_parts: int = DEFAULT_MAX_MEDIA_PARTS
    bytez_content_as_list: bool = False
    seed: int | None = None
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    keep_alive_timeout: int = DEFAULT_KEEP_ALIVE_TIMEOUT
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    backlog: int = DEFAULT_BACKLOG

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
        for name in ("header_timeout", "body_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise InvalidOptionError(f"ServerOptions.{name}={value!r}: use seconds > 0")
        for name in (
            "keep_alive_timeout",
            "max_connections",
            "max_header_bytes",
            "backlog",
            "max_json_values",
            "max_json_depth",
            "max_media_parts",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidOptionError(f"ServerOptions.{name}={value!r}: use a whole number ≥ 1")
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
