"""mmkit: build multimodal chat messages, validate and encode their media, send them."""

from mmkit.errors import (
    AuthError,
    BadRequestError,
    BlockedURLError,
    ConfigError,
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
    UnsupportedFormatError,
)
from mmkit.formats import from_bytez, from_hf, from_openai, to_bytez, to_hf, to_openai
from mmkit.message import Message
from mmkit.parts import Image, Text

__version__ = "0.1.0"

__all__ = [
    "AuthError",
    "BadRequestError",
    "BlockedURLError",
    "ConfigError",
    "FetchError",
    "Image",
    "InvalidMediaError",
    "InvalidOptionError",
    "MediaTooLargeError",
    "Message",
    "MmkitError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "Text",
    "TimeoutError",
    "TransportError",
    "UnsupportedFormatError",
    "__version__",
    "from_bytez",
    "from_hf",
    "from_openai",
    "to_bytez",
    "to_hf",
    "to_openai",
]
