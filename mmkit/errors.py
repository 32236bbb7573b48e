"""One exception tree for everything mmkit raises.

Every error names the input it is about (a path, a URL without its query, or "bytes #2 of
message 1") and says what to do. Lower libraries' errors (Pillow, PyAV, soundfile, httpx) are
translated into this tree at the boundary where they happen.
"""

from __future__ import annotations

from typing import TypeVar


class MmkitError(Exception):
    """Base of every error mmkit raises on purpose."""


class InvalidMediaError(MmkitError):
    """The bytes are not a valid image, audio or video (corrupt, truncated, empty, unknown)."""


class MediaTooLargeError(MmkitError):
    """A media part exceeds a limit (pixels, bytes, duration) and cannot be made to fit."""


class UnsupportedFormatError(MmkitError):
    """A media type or option the target (or mmkit) cannot take."""


class FetchError(MmkitError):
    """Fetching a URL failed: timeout, connection, HTTP status, or a body over the cap."""


class BlockedURLError(FetchError):
    """A URL was refused before any request: scheme, credentials, or a non-public address."""


class InvalidOptionError(MmkitError):
    """An argument or option has a value mmkit cannot use (a negative max_side, a bad role)."""


class ConfigError(MmkitError):
    """A configuration file, model name or missing environment variable is wrong."""


class UnknownModelError(ConfigError):
    """mmkit has no media rule for this model id, so it cannot plan or count its media."""


class TransportError(MmkitError):
    """A chat request failed. Carries the HTTP status (if any), provider and model, and the
    server's Retry-After in seconds when it sent one (429s and some 503s do)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        provider: str | None = None,
        model: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.provider = provider
        self.model = model
        self.retry_after = retry_after


class AuthError(TransportError):
    """The server refused the credentials (401/403) or none were given."""


class BadRequestError(TransportError):
    """The server refused the request as malformed (400, 413, 415, 422); its message is kept."""


class NotFoundError(TransportError):
    """The model or route does not exist (404)."""


class RateLimitError(TransportError):
    """Too many requests (429); `retry_after` is the server's wait in seconds, if it said."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = 429,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(
            message, status=status, provider=provider, model=model, retry_after=retry_after
        )


class ServerError(TransportError):
    """The server failed (5xx) or dropped the connection."""


class TimeoutError(TransportError):  # shadows the builtin on purpose: mmkit.TimeoutError
    """The server did not connect or answer in time."""


class ConnectionError(TransportError):  # shadows the builtin on purpose: mmkit.ConnectionError
    """No connection could be made: refused (nothing listens there), unreachable, or TLS failed.
    Retried like a dropped connection: a server that is restarting refuses for a moment."""


_E = TypeVar("_E", bound=MmkitError)


def with_where(exc: _E, where: str) -> _E:
    """The same error, its message prefixed with where it happened ("message 2, part 1: ...")."""
    try:
        new = type(exc)(f"{where}: {exc}")
    except TypeError:  # a subclass with required arguments: keep the original
        return exc
    new.__dict__.update(exc.__dict__)
    return new


__all__ = [
    "AuthError",
    "BadRequestError",
    "BlockedURLError",
    "ConfigError",
    "ConnectionError",
    "FetchError",
    "InvalidMediaError",
    "InvalidOptionError",
    "MediaTooLargeError",
    "MmkitError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "TimeoutError",
    "TransportError",
    "UnknownModelError",
    "UnsupportedFormatError",
]
