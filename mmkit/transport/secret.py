"""A secret string that never shows itself in a repr, a log line, an exception or a traceback,
and the scrubber that cuts it out of whatever a server sends back, in every form it can take."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import weakref
from typing import NoReturn
from urllib.parse import quote, quote_plus

_MASK = "****"
_MIN_B64 = 8  # shorter base64 fragments could match unrelated text


class Secret:
    """Holds an API key; only `reveal()` gives the value, and only the send path calls it."""

    __slots__ = ("__weakref__", "_pattern", "_value")

    def __init__(self, value: str) -> None:
        self._value = value
        self._pattern: re.Pattern[str] | None = None

    def reveal(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        """`text` with the key masked: as is, JSON-escaped, URL-encoded (once or twice), in any
        letter case, and inside base64 at any offset (`Basic user:key`, `Key <k>`, `Bearer <k>`
        encoded whole)."""
        if not self._value:
            return text
        if self._pattern is None:
            self._pattern = _pattern(self._value)
        return self._pattern.sub(_MASK, text)

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:  # usable in the completion() client cache key
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:  # pickling would write the key into a file
        raise TypeError("a Secret cannot be pickled")


def _base64_fragments(key: bytes) -> set[str]:
    """The base64 text that encodes `key` wherever it sits in a longer string.

    Base64 turns 3 bytes into 4 characters, so the key's encoding depends on its offset modulo 3;
    for each offset, keep only the characters made of the key's bits alone.
    """
    fragments = set()
    for offset in range(3):
        data = b"\0" * offset + key
        start, end = -(-8 * offset // 6), 8 * len(data) // 6
        for encoded in (base64.b64encode(data), base64.urlsafe_b64encode(data)):
            fragment = encoded[start:end].decode("ascii")
            if len(fragment) >= _MIN_B64:
                fragments.add(fragment)
    return fragments


def _pattern(key: str) -> re.Pattern[str]:
    textual = {
        key,
        json.dumps(key)[1:-1],
        quote(key, safe=""),
        quote_plus(key, safe=""),
        quote(quote(key, safe=""), safe=""),
    }
    exact = _base64_fragments(key.encode("utf-8"))
    by_length = sorted(textual, key=len, reverse=True)
    alternatives = ["(?i:" + "|".join(re.escape(f) for f in by_length) + ")"]
    alternatives += [re.escape(f) for f in sorted(exact, key=len, reverse=True)]
    return re.compile("|".join(alternatives))


# --- logging: what httpx, httpcore (DEBUG: response headers) and mmkit log is scrubbed too -------

# Filters on a logger see only records logged on that very logger, so each one is named.
_LOGGERS = (
    "mmkit",
    "mmkit.transport",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "hpack",
    "hpack.hpack",
    "hpack.table",
)
# Keyed by identity: equal Secrets are distinct entries, so one dying never drops another.
_live: weakref.WeakValueDictionary[int, Secret] = weakref.WeakValueDictionary()
_lock = threading.Lock()
_installed = False


class ScrubKeys(logging.Filter):
    """Masks the key of every live client in a log record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _lock:
            secrets = list(_live.values())
        if not secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's to report
            return True
        scrubbed = message
        for secret in secrets:
            scrubbed = secret.scrub(scrubbed)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


def guard_logs(secret: Secret) -> None:
    """Scrub `secret` from every log line of mmkit, httpx and httpcore while it is alive."""
    global _installed
    with _lock:
        _live[id(secret)] = secret
        if _installed:
            return
        _installed = True
    scrubber = ScrubKeys()
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(scrubber)
