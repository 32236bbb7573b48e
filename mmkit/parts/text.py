"""A piece of text in a message."""

from __future__ import annotations

import html
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from mmkit.parts.base import options_error


class Text(BaseModel):
    """A piece of text in a message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["text"] = "text"
    text: str

    def __init__(self, text: str | None = None, /, **fields: Any) -> None:
        if text is not None:
            fields["text"] = text
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise options_error("Text", exc) from None

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        return f"Text({shown!r})"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return f'<div style="white-space:pre-wrap">{html.escape(self.text)}</div>'
