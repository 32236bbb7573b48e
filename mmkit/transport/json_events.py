"""A stream parser for SSE whose events each carry one JSON object (Anthropic, Gemini).

Subclasses say what one parsed event means (`event`: a text piece or None) and build the Reply;
this class splits the body into events, parses them, and reports broken streams the same way
the OpenAI parser does.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any

from mmkit.errors import ServerError, TransportError
from mmkit.transport.providers import Provider, StreamParser
from mmkit.transport.sse import LineTooLongError, SSEDecoder


class JsonEventParser(StreamParser):
    def __init__(self, provider: Provider, model_id: str) -> None:
        self.provider, self.model = provider, model_id
        self._sse = SSEDecoder()
        self.pieces: list[str] = []

    def feed(self, chunk: str) -> list[str]:
        try:
            return self._events(self._sse.feed(chunk))
        except LineTooLongError as exc:
            raise TransportError(
                f"{self.provider.name} {self.model}: the stream is broken: {exc} without "
                "ending (a chat event is far shorter); check the server",
                provider=self.provider.name,
                model=self.model,
            ) from None

    def end(self) -> list[str]:
        return self._events(self._sse.end())

    def _events(self, events: list[str]) -> list[str]:
        pieces: list[str] = []
        for event in events:
            if self.finished:
                break
            try:
                data = json.loads(event)
            except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
                raise ServerError(
                    # its length only: the event is not scrubbed of the key here
                    f"{self.provider.name} {self.model}: a stream event of {len(event)} chars "
                    "is not JSON",
                    provider=self.provider.name,
                    model=self.model,
                ) from None
            piece = self.event(data, event)
            if piece:
                pieces.append(piece)
        self.pieces.extend(pieces)
        return pieces

    @abstractmethod
    def event(self, data: Any, text: str) -> str | None:
        """The text piece in one parsed event (None: no text); raise on an error event."""

    def failed(self, data: Any, text: str, status: int | None = None) -> TransportError:
        """The error an error event reports, in the server's own words."""
        cls = ServerError if status is not None and status >= 500 else TransportError
        return cls(
            f"{self.provider.name} {self.model}: the stream failed: "
            f"{self.provider.error_message(data, text)}",
            status=status,
            provider=self.provider.name,
            model=self.model,
        )
