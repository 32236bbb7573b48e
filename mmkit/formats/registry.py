"""The wire formats by name. Each format module registers itself here when imported; the
package imports the built-in ones, so this module imports none of them (no import circle)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mmkit.errors import UnsupportedFormatError

if TYPE_CHECKING:
    from mmkit.formats.base import WireFormat

_REGISTRY: dict[str, WireFormat] = {}


def register(fmt: WireFormat) -> WireFormat:
    """Make a wire format available by its name (a new format is one new module and this call)."""
    _REGISTRY[fmt.name] = fmt
    return fmt


def get(name: str) -> WireFormat:
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnsupportedFormatError(f"no wire format named {name!r}; known: {known}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)
