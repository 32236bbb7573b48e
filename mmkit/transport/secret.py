"""A secret string that never shows itself in a repr, a log line, an exception or a traceback."""

from __future__ import annotations

from typing import NoReturn


class Secret:
    """Holds an API key; only `reveal()` gives the value, and only the send path calls it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

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
