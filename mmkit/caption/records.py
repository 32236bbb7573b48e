"""One output record per item: what was sent, what came back, or why it failed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Record:
    """A captioned item (`caption`) or a failed one (`error` = {"type", "message",
    "transient"}). `asked`: the fingerprint of what the run asked (CaptionOptions.asked)."""

    id: str
    source: str
    hash: str | None
    model: str
    prompt: str | None
    caption: str | None = None
    usage: dict[str, int | None] | None = None
    latency: float | None = None  # seconds of the attempt that answered
    attempts: int = 0  # HTTP requests made for this item in this run
    error: dict[str, Any] | None = None
    asked: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def transient(self) -> bool:
        """A failure that says nothing about the item (connection, timeout, 5xx, 429...)."""
        return self.error is not None and bool(self.error.get("transient"))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "hash": self.hash,
            "model": self.model,
            "prompt": self.prompt,
        }
        if self.error is None:
            out.update(caption=self.caption, usage=self.usage, latency=self.latency)
        else:
            out["error"] = self.error
        out["attempts"] = self.attempts
        if self.asked is not None:
            out["asked"] = self.asked
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Record:
        return cls(
            id=str(data["id"]),
            source=str(data.get("source") or ""),
            hash=data.get("hash"),
            model=str(data.get("model") or ""),
            prompt=data.get("prompt"),
            caption=data.get("caption"),
            usage=data.get("usage"),
            latency=data.get("latency"),
            attempts=int(data.get("attempts") or 0),
            error=data.get("error"),
            asked=data.get("asked"),
        )

    def __repr__(self) -> str:
        if self.error is not None:
            return f"Record({self.id!r}, error={self.error['type']}: {self.error['message']!r})"
        shown = self.caption or ""
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return f"Record({self.id!r}, caption={shown!r})"


def resume_hash(data: Mapping[str, Any], asked: str | None = None) -> str | None:
    """The content hash a rerun compares an item's content with to skip it, from a record as
    written: None (the item goes again) when the record answered another question (`asked`
    differs: another prompt, system, model or parameters) or its failure said nothing about
    the item (transient). Records from before `asked` was written count as asked alike."""
    error = data.get("error")
    if isinstance(error, Mapping) and error.get("transient"):
        return None
    written = data.get("asked")
    if asked is not None and written is not None and written != asked:
        return None
    found = data.get("hash")
    return found if isinstance(found, str) else None
