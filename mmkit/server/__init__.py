"""The local conformance server: OpenAI and Bytez chat routes that decode every media part.

`mmkit serve` runs it in the foreground; the model name `echo` starts one in-process on a free
loopback port (`shared_echo_server`). Needs the `server` extra: pip install 'mmkit-chat[server]'.
"""

from __future__ import annotations

from mmkit.errors import ConfigError

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ConfigError(
        f"the mmkit conformance server needs {exc.name or 'starlette and uvicorn'}: "
        "pip install 'mmkit-chat[server]'"
    ) from None

from mmkit.server.app import create_app
from mmkit.server.faults import ServerStats
from mmkit.server.options import ServerOptions
from mmkit.server.run import RunningServer, serve_forever, serve_in_thread, shared_echo_server

__all__ = [
    "RunningServer",
    "ServerOptions",
    "ServerStats",
    "create_app",
    "serve_forever",
    "serve_in_thread",
    "shared_echo_server",
]
