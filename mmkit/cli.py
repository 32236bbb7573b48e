"""The `mmkit` command line: one function pair per subcommand (add its arguments, run it).

A new subcommand (`caption`, `inspect`) is one `_add_<name>` function that registers its parser
and sets `handler`, plus the `_<name>` function that runs it and returns an exit status.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import sys
from collections.abc import Callable, Sequence

from mmkit.errors import MmkitError

Handler = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return handler(args)
    except MmkitError as exc:
        print(f"mmkit {args.command}: error: {exc}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmkit", description="Build, validate and send multimodal chat messages."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_inspect, _add_serve):
        add(commands)
    return parser


# --- mmkit inspect -----------------------------------------------------------------------------


def _add_inspect(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="show what would be sent for media files",
        description="For each file: its real type (from the bytes), size and dimensions, and "
        "what would be sent to the target: type, dimensions, bytes, every conversion, and an "
        "estimate of the image tokens for OpenAI.",
    )
    inspect.add_argument("files", nargs="+", metavar="FILE", help="media files (or URLs)")
    inspect.add_argument("--target", default="openai", help="wire format (default openai)")
    inspect.add_argument(
        "--max-side",
        type=int,
        default=None,
        metavar="N",
        help="downscale so that no side exceeds N pixels",
    )
    inspect.add_argument(
        "--detail",
        choices=("auto", "low", "high"),
        default=None,
        help="OpenAI image detail (changes the token estimate)",
    )
    inspect.set_defaults(handler=_inspect)


def _inspect(args: argparse.Namespace) -> int:
    from mmkit import formats
    from mmkit.formats.openai import image_tokens
    from mmkit.parts import Image

    wire = formats.get(args.target)
    failed = 0
    for name in args.files:
        try:
            image = Image(name, max_side=args.max_side, detail=args.detail)
            print(image.describe())
            if image.data is None:
                print("  a URL: passed through for the target to fetch")
                continue
            sent = image.encoded(wire.target.images)
            tokens = image_tokens(sent.width, sent.height, args.detail)
            print(
                f"  sent to {args.target}: {sent.mime} {sent.width}×{sent.height}, "
                f"{len(sent.data):,} bytes ({(len(sent.data) + 2) // 3 * 4:,} base64 chars); "
                f"about {tokens} tokens on OpenAI"
            )
            for change in image.conversions:
                print(f"  - {change}")
        except MmkitError as exc:
            failed += 1
            print(f"{name}: error: {exc}", file=sys.stderr)
    return 1 if failed else 0


# --- mmkit serve -------------------------------------------------------------------------------


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the local conformance server (OpenAI and Bytez routes)",
        description="Run the local conformance server: OpenAI /v1/chat/completions (with SSE) "
        "and Bytez /models/v2/<org>/<model>. It decodes every media part and answers with what "
        "it saw. Faults (latency, 429, 5xx, drops) can be injected for retry tests.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other than loopback (the server has no TLS; mind the network)",
    )
    serve.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="require this environment variable's value as the API key (the key itself is "
        "never taken on the command line, where other users can see it)",
    )
    serve.add_argument(
        "--latency",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="seconds added to each chat request",
    )
    serve.add_argument(
        "--rate-429",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="fraction of chat requests answered 429",
    )
    serve.add_argument(
        "--retry-after",
        type=_seconds,
        default=1.0,
        metavar="S",
        help="Retry-After seconds sent with injected 429s (default 1)",
    )
    serve.add_argument(
        "--rate-5xx",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="fraction of chat requests answered 503",
    )
    serve.add_argument(
        "--rate-drop",
        type=_fraction,
        default=0.0,
        metavar="F",
        help="fraction of chat requests dropped without a response",
    )
    serve.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="seed for the fault draws (repeatable runs)",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from mmkit.server import ServerOptions, serve_forever  # starlette/uvicorn only when serving

    if not args.allow_remote and not _is_loopback(args.host):
        print(
            f"mmkit serve: error: --host {args.host} is not a loopback address; pass "
            "--allow-remote to serve other machines",
            file=sys.stderr,
        )
        return 2
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(
                f"mmkit serve: error: environment variable {args.api_key_env} is not set or empty",
                file=sys.stderr,
            )
            return 2
    options = ServerOptions(
        api_key=api_key,
        latency=args.latency,
        rate_429=args.rate_429,
        retry_after=args.retry_after,
        rate_5xx=args.rate_5xx,
        rate_drop=args.rate_drop,
        seed=args.seed,
    )

    def announce(base_url: str) -> None:
        print(
            f"mmkit conformance server on {base_url} (OpenAI: /v1/chat/completions, "
            "Bytez: /models/v2/<org>/<model>)",
            flush=True,
        )

    # uvicorn re-raises Ctrl-C after shutting down cleanly: that is the normal way out.
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(options, host=args.host, port=args.port, announce=announce)
    return 0


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# --- argument types ----------------------------------------------------------------------------


def _fraction(text: str) -> float:
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a fraction between 0 and 1")
    return value


def _seconds(text: str) -> float:
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative; use seconds ≥ 0")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


if __name__ == "__main__":
    sys.exit(main())
