"""One output record per item: what was sent, what came back, or why it failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Record:
    """A captioned item (`caption`) or a failed one (`error` = {"type", "message"})."""

    id: str
    source: str
    hash: str | None
    model: str
    prompt: str | None
    caption: str | None = None
    usage: dict[str, int | None] | None = None
    latency: float | None = None  # seconds of the attempt that answered
    attempts: int = 0  # HTTP requests made for this item in this run
    error: dict[str, str] | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

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
        )

    def __repr__(self) -> str:
        if self.error is not None:
            return f"Record({self.id!r}, error={self.error['type']}: {self.error['message']!r})"
        shown = self.caption or ""
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return f"Record({self.id!r}, caption={shown!r})"
