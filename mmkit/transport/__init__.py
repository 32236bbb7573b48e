"""The chat transport: Client and AsyncClient on httpx, providers routed by model prefix,
LiteLLM-style aliases and the seed's `completion()` call. Only this package imports httpx."""

from mmkit.transport.client import AsyncClient, Client
from mmkit.transport.compat import (
    AsyncChunkStream,
    ChunkStream,
    acompletion,
    close_clients,
    completion,
)
from mmkit.transport.config import Alias, load_alias
from mmkit.transport.prepared import Prepared, RequestBuilder
from mmkit.transport.providers import (
    BytezNative,
    OpenAICompatible,
    Provider,
    known_prefixes,
    register,
    resolve,
)
from mmkit.transport.reply import (
    AsyncStream,
    ChatCompletion,
    ChatCompletionChunk,
    Function,
    Reply,
    Stream,
    ToolCall,
    Usage,
)
from mmkit.transport.retry import RetryPolicy, Timeout
from mmkit.transport.secret import Secret

__all__ = [
    "Alias",
    "AsyncChunkStream",
    "AsyncClient",
    "AsyncStream",
    "BytezNative",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChunkStream",
    "Client",
    "Function",
    "OpenAICompatible",
    "Prepared",
    "Provider",
    "Reply",
    "RequestBuilder",
    "RetryPolicy",
    "Secret",
    "Stream",
    "Timeout",
    "ToolCall",
    "Usage",
    "acompletion",
    "close_clients",
    "completion",
    "known_prefixes",
    "load_alias",
    "register",
    "resolve",
]
