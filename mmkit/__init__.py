"""mmkit: build multimodal chat messages, validate and encode their media, send them."""

from typing import TYPE_CHECKING, Any

from mmkit.errors import (
    AuthError,
    BadRequestError,
    BlockedURLError,
    ConfigError,
    ConnectionError,
    FetchError,
    InvalidMediaError,
    InvalidOptionError,
    MediaTooLargeError,
    MmkitError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
    UnknownModelError,
    UnsupportedFormatError,
)
from mmkit.formats import from_bytez, from_hf, from_openai, to_bytez, to_hf, to_openai
from mmkit.message import Message
from mmkit.parts import Audio, Image, Text, Video
from mmkit.tokens import media_tokens

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mmkit.media.fetch import FetchPolicy
    from mmkit.transport import AsyncClient, Client, Reply, Timeout, acompletion, completion

# The transport loads httpx: it is imported on first use so `import mmkit` stays fast.
_LAZY = {"Client", "AsyncClient", "Reply", "Timeout", "completion", "acompletion"}


def __getattr__(name: str) -> Any:
    if name == "caption":  # the captioning pipeline: `mmkit.caption.run(...)`
        import mmkit.caption

        return mmkit.caption
    if name == "FetchPolicy":  # the guarded fetch (sockets, address checks) loads on use
        from mmkit.media.fetch import FetchPolicy

        return FetchPolicy
    if name in _LAZY:
        import mmkit.transport

        return getattr(mmkit.transport, name)
    raise AttributeError(f"module 'mmkit' has no attribute {name!r}")


__all__ = [
    "AsyncClient",
    "Audio",
    "AuthError",
    "BadRequestError",
    "BlockedURLError",
    "Client",
    "ConfigError",
    "ConnectionError",
    "FetchError",
    "FetchPolicy",
    "Image",
    "InvalidMediaError",
    "InvalidOptionError",
    "MediaTooLargeError",
    "Message",
    "MmkitError",
    "NotFoundError",
    "RateLimitError",
    "Reply",
    "ServerError",
    "Text",
    "Timeout",
    "TimeoutError",
    "TransportError",
    "UnknownModelError",
    "UnsupportedFormatError",
    "Video",
    "__version__",
    "acompletion",
    "completion",
    "from_bytez",
    "from_hf",
    "from_openai",
    "media_tokens",
    "to_bytez",
    "to_hf",
    "to_openai",
]
