"""Bound a JSON body before it is parsed: how many values it holds and how deep it nests.

`json.loads` builds every value it reads: twenty million `{}` in a 64 MiB body took 1.7 GB and
seconds of the GIL, whatever the byte cap. `check_json_budget` measures the body with C-speed
byte operations instead (strings cut out by one regex pass that stops at the budget, then
`bytes.count` and `bytes.translate` on what is left), and refuses it before any object exists.
A body within the budget costs at most `max_values` small objects plus its strings.
"""

from __future__ import annotations

import re

import numpy as np

from mmkit.server.replies import Rejection

# A JSON string, escapes skipped; an unterminated one runs to the end of the body (the parse
# refuses it there), which keeps every search linear: no quote is ever scanned twice.
_STRING = re.compile(rb'"[^"\\]*+(?:\\[\s\S]?[^"\\]*+)*+"?')
# Every byte but the four brackets, for bytes.translate(None, delete=...).
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = np.frombuffer(b"[{", np.uint8)


def check_json_budget(raw: bytes, max_values: int, max_depth: int) -> None:
    """Refuse `raw` with a 413 past `max_values` JSON values, or a 400 past `max_depth` levels
    of nesting. Invalid JSON within both limits passes (the parser says what is wrong)."""
    # Each string is a value or an object key, and each key has a value: past 2 strings a
    # value, the bytes already cut hold more values than the limit (the rest is not looked at).
    structure = _STRING.sub(b"", raw, count=2 * max_values + 3)
    # Outside strings, every value but the first follows a comma or an opening bracket.
    openers = structure.count(b"[") + structure.count(b"{")
    values = 1 + openers + structure.count(b",")
    if values > max_values:
        raise Rejection(
            413,
            f"The JSON body holds more than the server's limit of {max_values:,} values; "
            "send fewer messages or parts",
            "too_many_json_values",
        )
    if openers <= max_depth:
        return  # not even the brackets all nested could pass the limit
    brackets = structure.translate(None, _NOT_BRACKETS)
    if len(brackets) > 2 * openers:
        return  # more closers than openers: not JSON, and the parser stops at the first extra
    opens = np.isin(np.frombuffer(brackets, np.uint8), _OPENERS)
    depth = int(np.cumsum(np.where(opens, 1, -1), dtype=np.int64).max())
    if depth > max_depth:
        raise Rejection(
            400,
            f"The JSON body nests {depth:,} levels deep, over the server's limit of "
            f"{max_depth:,}; send a flatter body",
            "json_too_deep",
        )
