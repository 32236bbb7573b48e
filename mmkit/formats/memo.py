"""Media parts and messages parsed from dicts on the way out, remembered by content.

A captioning loop or a chat history resends the same OpenAI dicts, data-URI images included, on
every call; parsing rebuilds the Image (header probe) and encoding validates it again (a full
decode), each time. Here an Image parsed from a `data:` URI is kept in a bounded LRU keyed by a
hash of the URI's text, so the next call reuses it and its per-target encode cache. Only data
URIs are remembered (their content is the text itself, unlike a URL's); only the encode path
uses this (`to_*`, `Client.chat`), never `from_*`, which hands the user parts of their own.

Whole message dicts are remembered the same way (`remembered_message`), keyed on their content
(every string, number and nesting, in order), never on the dict object: dicts are mutable, so a
dict changed in place, or a new one with the same content, is looked up by what it holds now.
Only messages whose values the parsed Message keeps are immutable (strings, numbers) are kept.

Each message dict is also remembered as the JSON it was sent as (`recall_json`, `keep_json`),
keyed on its content and the encoding's options: a later call with an equal dict skips parsing,
encoding and serializing it (a chat loop resending its history, a captioning loop its prompt).
JSON is text, made whole at once: nothing in it can change after the fact, so any message of
JSON values is kept, lists in it included.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any, TypeVar, cast

from mmkit.offload import copies

MAX_ENTRIES = 512
MAX_BYTES = 64 * 1024 * 1024  # the URIs' text, a fair measure of what the parts hold

_T = TypeVar("_T")
_Key = tuple[Hashable, ...]
_entries: OrderedDict[_Key, tuple[object, int]] = OrderedDict()  # parts, by data URI
_messages: OrderedDict[_Key, tuple[object, int]] = OrderedDict()  # messages, by content
_json: OrderedDict[_Key, tuple[object, int]] = OrderedDict()  # messages' JSON, by content
_sizes = {id(_entries): 0, id(_messages): 0, id(_json): 0}
_lock = threading.Lock()
# Values a parsed Message keeps (its `extra` fields) that cannot change under it
_SCALARS = (str, int, float, bool, type(None))
_PLAIN = frozenset({int, float, bool, type(None)})  # exact JSON scalar types (str apart)


def remembered(value: object, options: tuple[Hashable, ...], make: Callable[[], _T]) -> _T:
    """`make()`, or the part made before from the same data URI with the same options."""
    if not isinstance(value, str) or not value.startswith("data:") or len(value) > MAX_BYTES:
        return make()
    copies(len(value))  # hashing a large URI is work for a thread, not an event loop
    digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=20).digest()
    return _recall(_entries, (digest, *options), len(value), make)


def remembered_message(
    item: Mapping[str, Any], options: tuple[Hashable, ...], make: Callable[[], _T]
) -> _T:
    """`make()`, or the message parsed before from a dict of the same content and options.

    Only for a dict whose fields other than role, content and name (kept by the Message as
    they are) are strings or numbers: a list kept by reference could change after the fact."""
    if any(
        not isinstance(value, _SCALARS)
        for name, value in item.items()
        if name not in ("role", "content", "name")
    ):
        return make()
    sized = [0]
    key = _content(item, sized)
    if key is None or sized[0] > MAX_BYTES:
        return make()
    copies(sized[0])  # the key's strings are hashed: as much work as their length
    return _recall(_messages, (key, *options), sized[0], make)


def message_keys(messages: Any) -> list[tuple[Hashable, int]] | None:
    """Each message dict's content as a key, with the size of its strings; None unless
    `messages` is a list (or tuple) of dicts of JSON values, or one such dict."""
    items = [messages] if isinstance(messages, Mapping) else messages
    if type(items) is not list and type(items) is not tuple:  # a generator: read only once
        return None
    out = []
    for item in items:
        if not isinstance(item, Mapping):
            return None
        sized = [0]
        key = _content(item, sized)
        if key is None or sized[0] > MAX_BYTES:
            return None
        copies(sized[0])  # the key's strings are hashed: as much work as their length
        out.append((key, sized[0]))
    return out


def recall_json(keys: list[_Key]) -> list[tuple[bytes, int] | None]:
    """What `keep_json` kept under each key: (JSON, image bytes), or None."""
    out: list[tuple[bytes, int] | None] = []
    with _lock:
        for key in keys:
            entry = _json.get(key)
            if entry is None:
                out.append(None)
                continue
            _json.move_to_end(key)
            kept = cast("tuple[bytes, int]", entry[0])
            copies(len(kept[0]))  # copied into the body
            out.append(kept)
    return out


def keep_json(key: _Key, size: int, value: tuple[bytes, int]) -> None:
    """Remember one message's JSON and the image bytes it carries (for the request's cap)."""
    with _lock:
        _keep(_json, key, size + len(value[0]), value)


def _content(value: Any, sized: list[int]) -> Hashable | None:
    """The dict's content as nested tuples, each value with its type (1, 1.0 and True are
    equal in Python, not in JSON); None for anything that is not JSON."""
    kind = type(value)  # exact types first: isinstance against Mapping is slow
    if kind is str:
        sized[0] += len(value)
        return value  # type: ignore[no-any-return]
    if kind is dict or (kind is not list and isinstance(value, Mapping)):
        pairs = []
        for name, inner in value.items():
            frozen = _content(inner, sized)
            if type(name) is not str or frozen is None:
                return None
            pairs.append((name, frozen))
        return (dict, tuple(pairs))
    if kind is list or kind is tuple:
        items = []
        for inner in value:
            frozen = _content(inner, sized)
            if frozen is None:
                return None
            items.append(frozen)
        return (kind, tuple(items))
    if kind in _PLAIN:
        return (kind, value)
    return None  # a str or int subclass, bytes, an object: parsed every time


def _recall(
    store: OrderedDict[_Key, tuple[object, int]], key: _Key, size: int, make: Callable[[], _T]
) -> _T:
    with _lock:
        found = store.get(key)
        if found is not None:
            store.move_to_end(key)
            return found[0]  # type: ignore[return-value]
    made = make()  # outside the lock: a probe can take a while; a racing twin is harmless
    with _lock:
        _keep(store, key, size, made)
    return made


def _keep(store: OrderedDict[_Key, tuple[object, int]], key: _Key, size: int, made: object) -> None:
    """Store one entry (the lock held), dropping the oldest past the bounds."""
    if key in store or size > MAX_BYTES:  # one over the bound alone would only push out the rest
        return
    store[key] = (made, size)
    _sizes[id(store)] += size
    while len(store) > MAX_ENTRIES or _sizes[id(store)] > MAX_BYTES:
        _, (_, dropped) = store.popitem(last=False)
        _sizes[id(store)] -= dropped


def forget() -> None:
    """Drop everything remembered (tests, or to free the memory at once)."""
    with _lock:
        for store in (_entries, _messages, _json):
            store.clear()
            _sizes[id(store)] = 0
