"""What a chat call gives back: `Reply` (mmkit's), and OpenAI-shaped objects for `completion()`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts as the server reported them; None where it did not say."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> Usage:
        if not isinstance(data, Mapping):
            return _NO_USAGE
        prompt, completion = _int(data.get("prompt_tokens")), _int(data.get("completion_tokens"))
        total = _int(data.get("total_tokens"))
        if total is None and prompt is not None and completion is not None:
            total = prompt + completion
        return cls(prompt, completion, total)


_NO_USAGE = Usage()


@dataclass(frozen=True, slots=True)
class Function:
    """The function a tool call names, and its arguments as the model wrote them (JSON text)."""

    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call, in the openai SDK's shape: `call.function.name`, `call.function.arguments`
    (a JSON string); `call.parse_arguments()` reads that JSON."""

    id: str
    function: Function
    type: str = "function"

    def parse_arguments(self) -> Any:
        """The arguments as Python values. The model wrote them, so they may not be JSON:
        that is a TransportError naming the call (the text stays in `function.arguments`)."""
        from mmkit.errors import TransportError

        try:
            return json.loads(self.function.arguments or "{}")
        except (ValueError, RecursionError) as exc:
            raise TransportError(
                f"tool call {self.id} ({self.function.name}): the arguments the model wrote are "
                f"not JSON ({exc}): {self.function.arguments[:200]!r}; read them as text from "
                ".function.arguments, or ask the model again"
            ) from None

    @classmethod
    def from_json(cls, data: Any, index: int = 0) -> ToolCall | None:
        """An OpenAI `tool_calls` entry; None when it is not one (no function)."""
        if not isinstance(data, Mapping):
            return None
        function = data.get("function")
        if not isinstance(function, Mapping):
            return None
        arguments = function.get("arguments")
        if not isinstance(arguments, str):  # some servers (Ollama) send an object
            arguments = "" if arguments is None else json.dumps(arguments)
        return cls(
            id=str(data.get("id") or f"call_{index}"),
            function=Function(name=str(function.get("name") or ""), arguments=arguments),
            type=str(data.get("type") or "function"),
        )


def tool_calls_from_json(data: Any) -> list[ToolCall]:
    """A message's `tool_calls` list, the entries that are tool calls."""
    if not isinstance(data, list):
        return []
    calls = (ToolCall.from_json(item, index) for index, item in enumerate(data))
    return [call for call in calls if call is not None]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(slots=True)
class Reply:
    """One answer: `.text`, plus what the server said about it.

    `texts` holds every choice when several were asked for (`n=`); `headers` keeps the response
    headers worth reading later (rate-limit and inference metering); `raw` is the parsed body
    (for a stream: the last SSE chunk, or None for a plain-text stream).
    """

    text: str
    model: str
    finish_reason: str | None = None
    usage: Usage = _NO_USAGE
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    raw: Any = field(default=None, repr=False)
    id: str | None = None
    texts: list[str] = field(default_factory=list, repr=False)
    provider: str = ""
    attempts: int = 1
    tool_calls: list[ToolCall] = field(default_factory=list)  # the first choice's

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:57] + "..."
        calls = ""
        if self.tool_calls:
            calls = f", tool_calls=[{', '.join(c.function.name for c in self.tool_calls)}]"
        return (
            f"Reply({shown!r}, model={self.model!r}, finish_reason={self.finish_reason!r}, "
            f"usage={self.usage!r}{calls})"
        )


# --- streams (what stream() returns) --------------------------------------------------------------


class Stream:
    """Text pieces of a streamed answer; once exhausted, `.reply` is the whole Reply.

    The request is sent when iteration starts. Use `with` (or `close()`) to stop early.
    """

    def __init__(self, run: Callable[[Stream], Generator[str, None, None]]) -> None:
        self.reply: Reply | None = None
        self._run = run
        self._pieces: Generator[str, None, None] | None = None

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._pieces is None:
            self._pieces = self._run(self)
        return next(self._pieces)

    def close(self) -> None:
        if self._pieces is not None:
            self._pieces.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncStream:
    """`async for piece in stream`; once exhausted, `.reply` is the whole Reply."""

    def __init__(self, run: Callable[[AsyncStream], AsyncGenerator[str, None]]) -> None:
        self.reply: Reply | None = None
        self._run = run
        self._pieces: AsyncGenerator[str, None] | None = None

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        if self._pieces is None:
            self._pieces = self._run(self)
        return await self._pieces.__anext__()

    async def aclose(self) -> None:
        if self._pieces is not None:
            await self._pieces.aclose()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# --- OpenAI-shaped objects (what `completion()` returns; attribute access like the openai SDK) --


class CompletionUsage(BaseModel):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


class FunctionCall(BaseModel):
    name: str
    arguments: str


class ChatCompletionMessageToolCall(BaseModel):
    """`message.tool_calls[0].function.name`, as the openai SDK has it."""

    id: str
    type: str = "function"
    function: FunctionCall

    @classmethod
    def from_call(cls, call: ToolCall) -> ChatCompletionMessageToolCall:
        function = FunctionCall(name=call.function.name, arguments=call.function.arguments)
        return cls(id=call.id, type=call.type, function=function)


class ChatMessage(BaseModel):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ChatCompletionMessageToolCall] | None = None


class Choice(BaseModel):
    index: int = 0
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(BaseModel):
    """`response.choices[0].message.content`, `response.usage.total_tokens`, `response.model`."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    headers: dict[str, str] = {}

    @classmethod
    def from_reply(cls, reply: Reply) -> ChatCompletion:
        texts = reply.texts or [reply.text]
        return cls(
            id=reply.id or new_id(),
            created=int(time.time()),
            model=reply.model,
            choices=[
                Choice(
                    index=index,
                    message=_message(text, reply.tool_calls if index == 0 else []),
                    finish_reason=reply.finish_reason,
                )
                for index, text in enumerate(texts)
            ],
            usage=CompletionUsage(
                prompt_tokens=reply.usage.prompt_tokens,
                completion_tokens=reply.usage.completion_tokens,
                total_tokens=reply.usage.total_tokens,
            ),
            headers=reply.headers,
        )


def _message(text: str, calls: list[ToolCall]) -> ChatMessage:
    """A message as the openai SDK gives it: content None when only tools were called."""
    if not calls:
        return ChatMessage(content=text)
    return ChatMessage(
        content=text or None,
        tool_calls=[ChatCompletionMessageToolCall.from_call(call) for call in calls],
    )


class ChoiceDeltaToolCallFunction(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ChoiceDeltaToolCall(BaseModel):
    """A streamed piece of a tool call; pieces with the same `index` add up to one call."""

    index: int
    id: str | None = None
    type: str | None = None
    function: ChoiceDeltaToolCallFunction | None = None


class Delta(BaseModel):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ChoiceDeltaToolCall] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    """One streamed piece: `chunk.choices[0].delta.content` (None on the closing chunk)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None = None


def new_id() -> str:
    """An OpenAI-style id for replies whose server gave none (Bytez's native API)."""
    return f"chatcmpl-{uuid.uuid4().hex}"
