"""The `mmkit` command line: one function pair per subcommand (add its arguments, run it).

A new subcommand (`caption`, ...) is one `_add_<name>` function that registers its parser and sets
`handler`, listed in `_SUBCOMMANDS`, plus the `_<name>` function that runs it and returns an exit
status. `mmkit inspect` reports each input as one record (`_INSPECTORS`, by media kind): the same
record is printed for people or, with --json, as one JSON line for scripts.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from mmkit import __version__
from mmkit.errors import AuthError, ConfigError, InvalidOptionError, MmkitError

Handler = Callable[[argparse.Namespace], int]
# a string: _SubParsersAction is not subscriptable at run time before Python 3.11
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:  # `mmkit` alone: say what there is, on stderr, as argparse does for errors
        parser.print_help(sys.stderr)
        return 2
    try:
        return handler(args)
    except MmkitError as exc:
        print(f"mmkit {args.command}: error: {for_shell(str(exc))}", file=sys.stderr)
        return 1


# Python keywords that mmkit's errors name, and what a shell user passes instead.
_FLAGS = {
    "api_key": "--api-key-env NAME (an environment variable that holds the key)",
    "base_url": "--base-url",
    "api_base": "--base-url",
    "manifest_root": "--manifest-root",
    "max_manifest_line": "--max-manifest-line",
    "max_side": "--max-side",
    "retry_failed": "--retry-failed",
    "allow_private_urls": "--allow-private-urls",
}
_KEYWORD = re.compile(r"\b(" + "|".join(_FLAGS) + r")\b(?:=True\b|=)?")


def for_shell(message: str) -> str:
    """An error message as a shell user needs it: flags where it names Python keywords."""
    return _KEYWORD.sub(lambda found: _FLAGS[found.group(1)], message)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mmkit", description="Build, validate and send multimodal chat messages."
    )
    parser.add_argument("--version", action="version", version=f"mmkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(commands)
    return parser


# --- mmkit caption -----------------------------------------------------------------------------


def _add_caption(commands: Subcommands) -> None:
    caption = commands.add_parser(
        "caption",
        help="caption files, folders, globs, URLs and manifests with a model",
        description="Caption every media item in PATH... (files, folders walked recursively, "
        "globs, http(s) URLs, and manifests: .jsonl/.csv/.parquet files with a path or url "
        "column, optional id and prompt). One JSON line per item is appended to --out as it "
        "completes; a rerun skips items already captioned with the same content.",
    )
    caption.add_argument("paths", nargs="+", metavar="PATH", help="files, folders, globs, URLs")
    caption.add_argument("--model", required=True, help="model name, or an alias with --config")
    caption.add_argument(
        "--prompt",
        default=None,
        help="text sent with each item (a manifest row's prompt wins; default: one per media kind)",
    )
    caption.add_argument(
        "--out",
        default="captions.jsonl",
        help="output file: JSON lines, or Parquet when it ends in .parquet (default "
        "captions.jsonl)",
    )
    caption.add_argument("--system", default=None, help="a system message for every request")
    caption.add_argument("--config", default=None, help="LiteLLM-style config; --model is an alias")
    caption.add_argument("--base-url", default=None, help="an OpenAI-compatible server's URL")
    caption.add_argument(
        "--api-key-env",
        metavar="NAME",
        help="read the API key from this environment variable (else the provider's own)",
    )
    caption.add_argument(
        "--concurrency",
        type=_positive,
        default=16,
        metavar="N",
        help="requests in flight at most (default 16); a 429 halves the window, each success "
        "widens it again up to N",
    )
    caption.add_argument(
        "--rate", type=_positive_number, default=None, metavar="RPM", help="requests per minute"
    )
    caption.add_argument(
        "--max-side",
        type=_positive,
        default=None,
        metavar="N",
        help="downscale images and video frames so no side is longer than N pixels",
    )
    caption.add_argument(
        "--frames", type=_positive, default=8, metavar="N", help="frames sampled per video"
    )
    caption.add_argument(
        "--video",
        choices=("native", "frames"),
        default=None,
        help="send videos as videos (an OpenAI-compatible server that reads them, e.g. vLLM) "
        "or as sampled frames (default: what the target reads)",
    )
    caption.add_argument(
        "--max-tokens",
        type=_positive,
        default=None,
        metavar="N",
        help="the most tokens the model may write per caption (default: the provider's)",
    )
    caption.add_argument(
        "--temperature", type=_number, default=None, help="sampling temperature (e.g. 0.2)"
    )
    caption.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a provider-specific parameter (VALUE read as JSON when it parses, else text); "
        "repeat for more",
    )
    caption.add_argument(
        "--limit",
        type=_positive,
        default=None,
        metavar="N",
        help="caption only the first N media items of the inputs (a trial run)",
    )
    caption.add_argument(
        "--retry-failed",
        action="store_true",
        help="try again the items that failed for their own sake (media that do not decode, a "
        "4xx); failures that say nothing about the item are tried again without it",
    )
    caption.add_argument(
        "--dry-run",
        action="store_true",
        help="encode every item, send nothing: report sizes, estimated tokens and how many "
        "items a run would skip",
    )
    caption.add_argument(
        "--retries",
        type=_whole,
        default=5,
        metavar="N",
        help="further tries of an item after a 5xx, a dropped connection or a timeout "
        "(default 5; 429s wait for the server and do not use these up)",
    )
    caption.add_argument(
        "--timeout",
        type=_positive_number,
        default=None,
        metavar="S",
        help="seconds each request may take whole: connecting, the headers and every piece "
        "of the answer (default: 10 s to connect, 120 s per read)",
    )
    caption.add_argument(
        "--workers",
        type=_whole,
        default=None,
        metavar="N",
        help="encoding processes (default: one per core; 0: a thread of this process)",
    )
    caption.add_argument(
        "--allow-private-urls",
        action="store_true",
        help="let URLs reach loopback and private addresses (blocked by default)",
    )
    caption.add_argument(
        "--manifest-root",
        default=None,
        metavar="DIR",
        help="the folder manifest paths must stay in (default: the manifest's folder)",
    )
    caption.add_argument(
        "--max-manifest-line",
        type=_positive,
        default=1 << 20,
        metavar="BYTES",
        help="the longest manifest line read (default 1048576, 1 MiB; characters for CSV); a "
        "longer line is its row's error record and the rest of the manifest goes on",
    )
    caption.add_argument(
        "--progress-every",
        type=_positive_number,
        default=5.0,
        metavar="S",
        help="seconds between progress lines when stderr is not a terminal",
    )
    caption.set_defaults(handler=_caption)


def _caption(args: argparse.Namespace) -> int:
    import asyncio

    from mmkit.caption import CaptionOptions, Summary
    from mmkit.caption.runner import pipeline
    from mmkit.caption.summary import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(
                f"mmkit caption: error: environment variable {args.api_key_env} is not set",
                file=sys.stderr,
            )
            return EXIT_USAGE
    summary = Summary()
    try:  # what is raised before any item is a usage or configuration error
        options = CaptionOptions(
            model=args.model,
            prompt=args.prompt,
            out=args.out,
            system=args.system,
            max_side=args.max_side,
            frames=args.frames,
            video=args.video,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            params=_params(args.param),
            config=args.config,
            base_url=args.base_url,
            api_key=api_key,
            concurrency=args.concurrency,
            rate=args.rate,
            retries=args.retries,
            timeout=args.timeout,
            limit=args.limit,
            retry_failed=args.retry_failed,
            dry_run=args.dry_run,
            workers=args.workers,
            allow_private_urls=args.allow_private_urls,
            manifest_root=args.manifest_root,
            max_manifest_line=args.max_manifest_line,
            progress=True,
            progress_every=args.progress_every,
        )
        report = print if args.dry_run else None  # a dry run: one line an item
        asyncio.run(pipeline(args.paths, options, summary, report=report))
    except KeyboardInterrupt:
        summary.interrupted = True
        print(summary)
        return EXIT_INTERRUPTED
    except MmkitError as exc:
        print(f"mmkit caption: error: {for_shell(str(exc))}", file=sys.stderr)
        # bad options, inputs, config or key: usage (2); a crash inside the run: a failure (1)
        usage = isinstance(exc, (ConfigError, InvalidOptionError, AuthError))
        return EXIT_USAGE if usage else EXIT_FAILED
    print(summary)
    for message in summary.input_errors:
        print(f"mmkit caption: error: {for_shell(message)}", file=sys.stderr)
    return summary.exit_code  # 0 all done or skipped, 1 an item failed, 2 an input error


def _params(pairs: list[str]) -> dict[str, object]:
    import json

    params: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidOptionError(f"--param {pair!r}: write KEY=VALUE")
        try:
            params[key.strip()] = json.loads(value)
        except ValueError:
            params[key.strip()] = value
    return params


# --- mmkit inspect -----------------------------------------------------------------------------


def _add_inspect(commands: Subcommands) -> None:
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
    inspect.add_argument(
        "--model",
        default=None,
        metavar="M",
        help="the model behind the target (e.g. Qwen/Qwen2.5-VL-7B-Instruct): images are sized "
        "as its processor sizes them, and its tokens are shown",
    )
    inspect.add_argument(
        "--video",
        choices=("native", "frames"),
        default=None,
        help="send videos as videos or as sampled frames (default: what the target reads; "
        "openai: frames, since OpenAI's own API reads no video)",
    )
    inspect.add_argument(
        "--json",
        action="store_true",
        help="one JSON object per input, one per line (errors too, with an 'error' field)",
    )
    inspect.set_defaults(handler=_inspect)


# An inspector turns one input into a record: {"input", "kind", "source", "sent",
# "conversions"} (JSON-ready) plus "lines" for people. Audio and video add theirs here.
Inspector = Callable[[str, argparse.Namespace], dict[str, Any]]


def _inspect(args: argparse.Namespace) -> int:
    from mmkit import formats

    formats.get(args.target)  # an unknown target fails once, before any file is read
    failed = 0
    for name in args.files:
        try:
            record = _INSPECTORS.get(_kind_of(name), _inspect_image)(name, args)
        except MmkitError as exc:
            failed += 1
            record = {"input": name, "error": {"type": type(exc).__name__, "message": str(exc)}}
            if not args.json:
                print(f"{name}: error: {exc}", file=sys.stderr)
                continue
        lines = record.pop("lines", [])
        if args.json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            print("\n".join(lines))
    return 1 if failed else 0


def _kind_of(name: str) -> str:
    """The media kind of a local file from its first bytes ('image' when unknown or a URL)."""
    from mmkit.media.sniff import sniff

    path = Path(name).expanduser()
    if not path.is_file():
        return "image"
    with path.open("rb") as file:
        mime = sniff(file.read(4096))
    if mime and mime.startswith("video/"):  # an MP4 or WebM with sound tracks only is audio
        from mmkit.media import audio

        try:
            return "video" if audio.probe(path.read_bytes(), name).video else "audio"
        except MmkitError:
            return "video"
    return mime.split("/")[0] if mime else "image"


def _inspect_image(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from mmkit import formats
    from mmkit.formats.openai import image_tokens
    from mmkit.parts import Image

    image = Image(name, max_side=args.max_side, detail=args.detail, model=args.model)
    record: dict[str, Any] = {
        "input": name,
        "kind": "image",
        "source": {
            "mime": image.mime,
            "width": image.width,
            "height": image.height,
            "frames": image.frames,
            "bytes": image.nbytes,
            "url": image.url,
        },
        "sent": None,
        "conversions": [],
        "lines": [image.describe()],
    }
    if image.data is None:
        record["lines"].append("  a URL: passed through for the target to fetch")
        return record
    sent = image.encoded(formats.get(args.target).target.images, target=args.target)
    base64_chars = (len(sent.data) + 2) // 3 * 4
    tokens = image_tokens(sent.width, sent.height, args.detail)
    record["sent"] = {
        "target": args.target,
        "mime": sent.mime,
        "width": sent.width,
        "height": sent.height,
        "bytes": len(sent.data),
        "base64_chars": base64_chars,
        "openai_tokens": tokens,
    }
    record["conversions"] = image.conversions_for(args.target)
    record["lines"].append(
        f"  sent to {args.target}: {sent.mime} {sent.width}×{sent.height}, "
        f"{len(sent.data):,} bytes ({base64_chars:,} base64 chars); "
        f"about {tokens} tokens on OpenAI"
    )
    if args.model is not None:
        record["lines"].append(_model_tokens_line(record, args.model, sent, args.detail))
    record["lines"].extend(f"  - {change}" for change in record["conversions"])
    return record


def _model_tokens_line(record: dict[str, Any], model: str, sent: Any, detail: Any) -> str:
    """The tokens the sent image costs `model` (recorded too), or that mmkit has no rule."""
    from mmkit.errors import UnknownModelError
    from mmkit.models import plan_image

    try:
        tokens = plan_image(model, sent.width, sent.height, detail).tokens
    except UnknownModelError:
        record["sent"].update(model=model, model_tokens=None)
        return f"  {model}: mmkit has no media rule for it (sized for the target only)"
    record["sent"].update(model=model, model_tokens=tokens)
    return f"  for {model}: sent {sent.width}×{sent.height}, {tokens} tokens"


def _inspect_audio(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from mmkit import Message, formats
    from mmkit.media.audio import describe
    from mmkit.parts import Audio

    audio = Audio(name)
    record: dict[str, Any] = {
        "input": name,
        "kind": "audio",
        "source": {
            "mime": audio.mime,
            "codec": audio.codec,
            "sample_rate": audio.sample_rate,
            "channels": audio.channels,
            "duration": audio.duration,
            "bytes": audio.nbytes,
            "url": audio.url,
        },
        "sent": None,
        "conversions": [],
        "lines": [audio.describe()],
    }
    if audio.data is None:
        record["lines"].append("  a URL: not fetched by inspect")
        return record
    formats.get(args.target).encode([Message.user([audio])])  # a target may take no audio
    sent = audio.encoded(formats.get(args.target).target.audio, target=args.target)
    base64_chars = (len(sent.data) + 2) // 3 * 4
    record["sent"] = {
        "target": args.target,
        "mime": sent.mime,
        "format": sent.format,
        "sample_rate": sent.sample_rate,
        "channels": sent.channels,
        "duration": sent.duration,
        "bytes": len(sent.data),
        "base64_chars": base64_chars,
    }
    record["conversions"] = audio.conversions_for(args.target)
    record["lines"].append(
        f"  sent to {args.target}: {sent.format.upper()} "
        f"{describe(sent.duration, sent.sample_rate, sent.channels)}, {len(sent.data):,} bytes "
        f"({base64_chars:,} base64 chars)"
    )
    record["lines"].extend(f"  - {change}" for change in record["conversions"])
    return record


def _inspect_video(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from dataclasses import replace

    from mmkit import formats
    from mmkit.parts import Video

    video = Video(name, max_side=args.max_side, model=args.model)
    record: dict[str, Any] = {
        "input": name,
        "kind": "video",
        "source": {
            "mime": video.mime,
            "width": video.width,
            "height": video.height,
            "duration": video.duration,
            "fps": video.fps,
            "frames": video.frame_count,
            "codec": video.codec,
            "has_audio": video.has_audio,
            "bytes": video.nbytes,
            "url": video.url,
        },
        "sent": None,
        "conversions": [],
        "lines": [video.describe()],
    }
    if video.url is not None:
        record["lines"].append("  a URL: passed through for a target that reads video")
        return record
    target = formats.get(args.target).target
    limits = target.videos
    if args.video is not None:
        limits = replace(limits, native=args.video == "native")
    if limits.native and limits.data_uri:
        sent = video.encoded(limits, target=args.target)
        record["sent"] = {
            "target": args.target,
            "as": "video",
            "mime": sent.mime,
            "width": sent.width,
            "height": sent.height,
            "duration": sent.duration,
            "bytes": len(sent.data),
            "base64_chars": (len(sent.data) + 2) // 3 * 4,
        }
        summary = (
            f"  sent to {args.target}: {sent.mime} {sent.width}×{sent.height} "
            f"{sent.duration:.1f} s, {len(sent.data):,} bytes"
        )
    else:
        frames = video.sampled(limits, target=args.target)
        image_limits = replace(target.images, model=args.model)  # each frame for the model
        images = [frame.encoded(image_limits) for frame in frames]
        total = sum(len(image.data) for image in images)
        record["sent"] = {
            "target": args.target,
            "as": "frames",
            "frames": len(images),
            "timestamps": [frame.timestamp for frame in frames],
            "bytes": total,
            "base64_chars": sum((len(image.data) + 2) // 3 * 4 for image in images),
        }
        size = f"{images[0].width}×{images[0].height} " if images else ""
        summary = f"  sent to {args.target}: {len(images)} {size}frames, {total:,} bytes"
    record["conversions"] = video.conversions_for(args.target)
    record["lines"].append(summary)
    if args.model is not None:
        as_images = None if record["sent"]["as"] == "video" else images
        record["lines"].append(_video_tokens_line(record, args.model, video, as_images))
    record["lines"].extend(f"  - {change}" for change in record["conversions"])
    return record


def _video_tokens_line(record: dict[str, Any], model: str, video: Any, frames: Any) -> str:
    """The tokens the video costs `model`, read as video or as the frames sent (recorded
    too), or why they are not known."""
    from mmkit.errors import UnknownModelError, UnsupportedFormatError
    from mmkit.models import plan_image
    from mmkit.tokens import media_tokens

    try:
        if frames is None:
            tokens, how = media_tokens(video, model), "read as video"
        else:
            tokens = sum(plan_image(model, f.width, f.height).tokens for f in frames)
            how = f"{len(frames)} frames as images"
    except (UnknownModelError, UnsupportedFormatError) as exc:
        record["sent"].update(model=model, model_tokens=None)
        return f"  {model}: no token count ({exc})"
    record["sent"].update(model=model, model_tokens=tokens)
    return f"  for {model} ({how}): {tokens} tokens"


_INSPECTORS: dict[str, Inspector] = {
    "image": _inspect_image,
    "audio": _inspect_audio,
    "video": _inspect_video,
}


# --- mmkit serve -------------------------------------------------------------------------------


def _add_serve(commands: Subcommands) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the local conformance server (OpenAI and Bytez routes)",
        description="Run the local conformance server: OpenAI /v1/chat/completions (with SSE) "
        "and Bytez /models/v2/<org>/<model>. It decodes every media part and answers with what "
        "it saw. Faults (latency, 429, 5xx, drops) can be injected for retry tests.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=8000, help="port 0…65535 (default 8000; 0 = any free port)"
    )
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
    # Defaults live in ServerOptions (mmkit.server needs the server extra, so not imported here).
    limits = serve.add_argument_group(
        "connection limits", "idle or slow clients cannot hold the server"
    )
    limits.add_argument(
        "--max-connections",
        type=_positive,
        metavar="N",
        help="open connections at most; past it the longest-idle one is closed (default 1000)",
    )
    limits.add_argument(
        "--header-timeout",
        type=_positive_number,
        metavar="S",
        help="seconds a request's headers may take (default 10)",
    )
    limits.add_argument(
        "--body-timeout",
        type=_positive_number,
        metavar="S",
        help="seconds a request's body may take, then 408 (default 60)",
    )
    limits.add_argument(
        "--keep-alive-timeout",
        type=_positive,
        metavar="S",
        help="whole seconds an idle connection is kept between requests (default 15)",
    )
    limits.add_argument(
        "--backlog",
        type=_positive,
        metavar="N",
        help="connections the OS queues before they are accepted (default 2048)",
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
        **{name: getattr(args, name) for name in _LIMITS if getattr(args, name) is not None},
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


_LIMITS = ("max_connections", "header_timeout", "body_timeout", "keep_alive_timeout", "backlog")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_SUBCOMMANDS: tuple[Callable[[Subcommands], None], ...] = (_add_caption, _add_inspect, _add_serve)


# --- argument types ----------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be 1 or more")
    return value


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be 0 or more")
    return value


def _positive_number(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be more than 0")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; use 0…65535") from None
    # The OS would wrap 99999 to another port, and -1 surfaces as an error about the host.
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text} is out of range; use 0…65535 (0 = any free port)")
    return value


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
