"""A stream parser for SSE whose events each carry one JSON object (Anthropic, Gemini).

Subclasses say what one parsed event means (`event`: a text piece or None; setting what it says
of the id, model, finish and usage) and how usage reads (`usage`); this class splits the body
into events, parses them, reports broken streams the same way the OpenAI parser does, and
builds the Reply.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from typing import Any

from mmkit.errors import ServerError, TransportError
from mmkit.transport.providers import Provider, StreamParser
from mmkit.transport.reply import Reply, Usage
from mmkit.transport.sse import LineTooLongError, SSEDecoder


class JsonEventParser(StreamParser):
    def __init__(self, provider: Provider, model_id: str) -> None:
        self.provider, self.model = provider, model_id
        self._sse = SSEDecoder()
        self.pieces: list[str] = []
        # What the events said so far (the subclass's `event` sets them)
        self._id: str | None = None
        self._model_seen: str | None = None
        self._finish: str | None = None
        self._last: Any = None  # the last event: the Reply's raw

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

    @abstractmethod
    def usage(self) -> Usage:
        """The token counts the events reported."""

    def reply(self, headers: dict[str, str], attempts: int) -> Reply:
        text = "".join(self.pieces)
        return Reply(
            text=text,
            texts=[text],
            model=self._model_seen or self.model,
            finish_reason=self._finish,
            usage=self.usage(),
            headers=headers,
            raw=self._last,
            id=self._id,
            provider=self.provider.name,
            attempts=attempts,
        )

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
