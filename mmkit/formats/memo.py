"""Media parts parsed from dicts on the way out, remembered by content hash.

A captioning loop or a chat history resends the same OpenAI dicts, data-URI images included, on
every call; parsing rebuilds the Image (header probe) and encoding validates it again (a full
decode), each time. Here an Image parsed from a `data:` URI is kept in a bounded LRU keyed by a
hash of the URI's text, so the next call reuses it and its per-target encode cache. Only data
URIs are remembered (their content is the text itself, unlike a URL's); only the encode path
uses this (`to_*`, `Client.chat`), never `from_*`, which hands the user parts of their own.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from mmkit.offload import copies

MAX_ENTRIES = 512
MAX_BYTES = 64 * 1024 * 1024  # the URIs' text, a fair measure of what the parts hold

_T = TypeVar("_T")
_entries: OrderedDict[tuple[Hashable, ...], tuple[object, int]] = OrderedDict()
_size = 0
_lock = threading.Lock()


def remembered(value: object, options: tuple[Hashable, ...], make: Callable[[], _T]) -> _T:
    """`make()`, or the part made before from the same data URI with the same options."""
    global _size
    if not isinstance(value, str) or not value.startswith("data:") or len(value) > MAX_BYTES:
        return make()
    copies(len(value))  # hashing a large URI is work for a thread, not an event loop
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=20).digest()
    key = (digest, *options)
    with _lock:
        found = _entries.get(key)
        if found is not None:
            _entries.move_to_end(key)
            return found[0]  # type: ignore[return-value]
    made = make()  # outside the lock: a probe can take a while; a racing twin is harmless
    with _lock:
        if key not in _entries:
            _entries[key] = (made, len(value))
            _size += len(value)
            while len(_entries) > MAX_ENTRIES or _size > MAX_BYTES:
                _, (_, size) = _entries.popitem(last=False)
                _size -= size
    return made


def forget() -> None:
    """Drop everything remembered (tests, or to free the memory at once)."""
    global _size
    with _lock:
        _entries.clear()
        _size = 0
