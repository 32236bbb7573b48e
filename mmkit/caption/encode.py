"""The worker's job: bytes in, a ready request body out (runs in a process pool, off the loop).

Each job reads the file (or takes a URL's fetched bytes), hashes it, skips it when the output
already holds this id with this content, finds its kind from the bytes, builds the message and the
provider's JSON body. The event loop then only sends. Errors come back as values: a worker never
raises for one bad item.
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmkit.caption.files import open_regular
from mmkit.caption.items import KINDS, Item, PartOptions, kind_of, media_type
from mmkit.errors import InvalidMediaError, MediaTooLargeError, MmkitError, UnsupportedFormatError
from mmkit.media.source import Resolved
from mmkit.transport.prepared import Prepared, RequestBuilder

# Largest source file a job reads (checked while reading, not on the size the OS reports).
MAX_SOURCE_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class EncodeSettings:
    """What every job of a run shares; sent to each worker once."""

    builder: RequestBuilder
    prompt: str | None
    system: str | None
    parts: PartOptions
    params: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Job:
    item: Item
    data: bytes | None = None  # a URL's bytes, fetched by the loop; None: read item.source
    done_hash: str | None = None  # the output holds this id with this content hash


@dataclass(frozen=True, slots=True)
class Encoded:
    hash: str
    kind: str
    prompt: str
    prepared: Prepared
    source_bytes: int
    media_tokens: int  # what the media as sent cost: by `token_model`'s rule, else OpenAI's
    token_model: str | None = None  # the model whose published rule counted them


@dataclass(frozen=True, slots=True)
class Unchanged:
    hash: str


@dataclass(frozen=True, slots=True)
class Failed:
    hash: str | None
    type: str
    message: str


Outcome = Encoded | Unchanged | Failed

_settings: EncodeSettings | None = None
_WATCH_SECONDS = 1.0


def init_worker(settings: EncodeSettings, run_pid: int | None = None) -> None:
    """Pool initializer: keep the run's settings; Ctrl-C is the parent's to handle; and end
    with the run's process (`run_pid`) if it dies without closing the pool (killed, OOM)."""
    global _settings
    _settings = settings
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if run_pid is not None:
        threading.Thread(target=_exit_with, args=(run_pid,), daemon=True).start()


def _exit_with(pid: int) -> None:
    """A pool worker waits on its task queue forever once the run is gone (the queue's other
    end lives on in the worker itself): look for the run once a second instead."""
    born = _started(pid)
    while True:
        time.sleep(_WATCH_SECONDS)
        if not _alive(pid, born):
            os._exit(1)


def _started(pid: int) -> str | None:
    """The process's start time (/proc/<pid>/stat field 22), which tells a reused pid apart;
    None where there is no /proc."""
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()  # the name may hold spaces and ")"


def _alive(pid: int, born: str | None) -> bool:
    """Whether the run is still running. A killed run its parent has not reaped yet is a zombie:
    `kill(pid, 0)` still succeeds on it, while it holds no pipe and takes no more results."""
    if born is not None:  # Linux: the state and start time say it
        fields = _stat_fields(pid)
        return fields is not None and fields[0] not in ("Z", "X") and fields[19] == born
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # the pid went to another user's process: the run is gone
        return False
    return True


def run_job(job: Job) -> Outcome:
    """The pool's entry point (uses the settings `init_worker` stored)."""
    assert _settings is not None, "init_worker was not called in this process"
    return encode_job(job, _settings)


def encode_job(job: Job, settings: EncodeSettings) -> Outcome:
    item = job.item
    digest: str | None = None
    try:
        kind = item.kind
        local = job.data is None
        if local and kind is not None and KINDS[kind].from_path:
            digest = hash_file(Path(item.source))  # the decoder reads the file itself
            if digest == job.done_hash:
                return Unchanged(digest)
            return _encode(item, kind, Path(item.source), digest, settings)
        data = read_source(Path(item.source)) if job.data is None else job.data
        digest = content_hash(data)
        if digest == job.done_hash:
            return Unchanged(digest)
        kind = kind_of(data[:32])
        if kind is None:
            mime = media_type(data[:32])
            if mime is None:
                raise InvalidMediaError(
                    f"{item.source}: not an image, audio or video (its bytes match no known type)"
                )
            raise UnsupportedFormatError(
                f"{item.source}: {mime} cannot be captioned by this mmkit yet"
            )
        return _encode(item, kind, Resolved(data, item.source), digest, settings)
    except MmkitError as exc:
        return Failed(digest, type(exc).__name__, str(exc))
    except (OSError, MemoryError, RecursionError) as exc:
        return Failed(digest, type(exc).__name__, f"{item.source}: {exc}")
    except Exception as exc:  # a decoder's own error that escaped translation: still one item
        return Failed(digest, type(exc).__name__, f"{item.source}: {exc}")


def _encode(
    item: Item, kind: str, source: Resolved | Path, digest: str, settings: EncodeSettings
) -> Encoded:
    from mmkit import formats
    from mmkit.message import Message
    from mmkit.transport.providers import resolve

    media = KINDS[kind]
    parts = media.parts(source, settings.parts)
    prompt = item.prompt or settings.prompt or media.prompt
    messages = [Message.user([prompt, *parts])]
    if settings.system:
        messages.insert(0, Message.system(settings.system))
    prepared = settings.builder.build(messages, **settings.params)
    provider, _ = resolve(settings.builder.model, settings.builder.base_url)
    target = formats.get(provider.wire_format).target
    size = len(source.data or b"") if isinstance(source, Resolved) else source.stat().st_size
    model = settings.builder.media_model
    try:
        tokens = media.tokens(parts, target, model)
    except MmkitError:  # a kind the model's rule does not count (audio for Gemma 3)
        model, tokens = None, media.tokens(parts, target, None)
    return Encoded(digest, kind, prompt, prepared, size, tokens, model)


def read_source(path: Path) -> bytes:
    with open_regular(path) as f:  # a file swapped for a pipe since it was listed never blocks
        data = f.read(MAX_SOURCE_BYTES + 1)
    if len(data) > MAX_SOURCE_BYTES:
        raise MediaTooLargeError(
            f"{path} is over {MAX_SOURCE_BYTES // 2**20} MiB; mmkit caption reads files up to "
            "that size (downscale or cut it first)"
        )
    if not data:
        raise InvalidMediaError(f"{path} is empty")
    return data


def hash_file(path: Path) -> str:
    """`content_hash` of a file, read in chunks (videos can be larger than memory)."""
    digest = hashlib.sha256()
    with open_regular(path) as f:  # /dev/zero would never end
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def content_hash(data: bytes) -> str:
    """The content's identity in the output: sha256, as `sha256sum` prints it."""
    return "sha256:" + hashlib.sha256(data).hexdigest()
