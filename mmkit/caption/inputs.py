"""From what a user names (files, folders, globs, URLs, manifests) to a stream of Items.

Folders are walked recursively in name order; a file is media when its first bytes say so, and
other files are skipped and counted. Pipes, sockets and devices are skipped by their type, never
opened (opening a FIFO blocks forever). Files and manifest rows the user named one by one always
get a record: if one is not media, not a regular file, or cannot be read (any OSError, such as a
name too long for the OS), its record says so. Nothing is listed in memory ahead: a folder of
millions of files streams.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmkit.caption import manifest
from mmkit.caption.files import not_regular, open_regular, what
from mmkit.caption.items import Item, kind_of, media_type
from mmkit.errors import MmkitError
from mmkit.media.fetch import redact_url

_HEAD = 32  # enough bytes for every signature mmkit.media.sniff knows
_GLOB_CHARS = frozenset("*?[")
# What `Path.is_file()` takes for "no such file" (a dangling link, a file used as a folder)
_MISSING = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})


@dataclass
class Tally:
    """What the inputs held besides items: skipped files, by reason."""

    not_media: int = 0
    unsupported: dict[str, int] = field(default_factory=dict)  # media type -> files

    @property
    def skipped(self) -> int:
        return self.not_media + sum(self.unsupported.values())


@dataclass(frozen=True, slots=True)
class Problem:
    """An input the user named that cannot become an item: it still gets an error record."""

    id: str
    source: str
    type: str
    message: str


def expand(
    inputs: Iterable[str | os.PathLike[str]],
    tally: Tally,
    manifest_root: str | os.PathLike[str] | None = None,
    max_line: int = manifest.MAX_LINE,
) -> Iterator[Item | Problem]:
    """Items (and Problems) for each input in order. `tally` counts what was skipped.
    `max_line`: the longest manifest line (or CSV field) read, in bytes; a longer one is that
    row's error."""
    for given in inputs:
        text = os.fspath(given)
        if text.startswith(("http://", "https://")):
            yield Item(text, text)
            continue
        path = Path(text)
        try:
            mode = _mode(path)
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte: this input's error
            yield _os_problem(_id(text), text, exc, text)
            continue
        if mode is not None and stat.S_ISDIR(mode):
            yield from _walk(path, tally)
        elif mode is not None and stat.S_ISREG(mode):
            if manifest.is_manifest(path) and kind_of(_head(path) or b"") is None:
                root = Path(manifest_root) if manifest_root is not None else path.parent
                yield from _manifest_items(path, root, max_line)
            else:
                yield _named_file(path, _id(text))
        elif mode is not None:  # a pipe, socket or device named on its own: said, never opened
            yield _special(_id(text), text, mode)
        elif _GLOB_CHARS & set(text):
            for match in glob.iglob(text, recursive=True):
                found = Path(match)
                if not found.is_dir():
                    item = _walked_file(found, tally)
                    if item is not None:
                        yield item
        else:
            yield Problem(
                _id(text),
                text,
                "FileNotFoundError",
                f"{text}: no such file, folder or glob match (relative to {os.getcwd()})",
            )


def _mode(path: Path) -> int | None:
    """The type and mode of the file `path` leads to (links followed), None when there is none;
    any other OSError (a name too long for the OS) is raised for the caller to make it the
    input's error."""
    try:
        return path.stat().st_mode
    except OSError as exc:
        if exc.errno in _MISSING:
            return None
        raise


def _id(path: str | Path) -> str:
    """The id of a file: its path as the user reached it, normalised ('./a//b.jpg' -> 'a/b.jpg')."""
    return Path(os.path.normpath(path)).as_posix()


def _head(path: Path) -> bytes | None:
    try:
        with open_regular(path) as f:
            return f.read(_HEAD)
    except (OSError, MmkitError):  # replaced by a pipe since its stat: still never blocks
        return None


def _os_problem(item_id: str, source: str, exc: OSError | ValueError, where: str) -> Problem:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return Problem(item_id, source, type(exc).__name__, f"{where}: cannot be read ({reason})")


def _special(item_id: str, source: str, mode: int, where: str | None = None) -> Problem:
    message = str(not_regular(source, what(mode) or ""))
    return Problem(
        item_id, source, "InvalidMediaError", f"{where}: {message}" if where else message
    )


def _walk(root: Path, tally: Tally) -> Iterator[Item | Problem]:
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()  # os.walk descends in this list's order
        for name in sorted(filenames):
            found = _walked_file(Path(folder) / name, tally)
            if found is not None:
                yield found


def _walked_file(path: Path, tally: Tally) -> Item | Problem | None:
    """A file met in a folder or a glob: an Item if it is media, else counted and skipped.
    A pipe, socket or device is skipped by its type (links followed), never opened."""
    try:
        mode = _mode(path)
    except OSError as exc:  # a name too long: this file's error, not the run's
        return _os_problem(_id(path), str(path), exc, str(path))
    if mode is None or not stat.S_ISREG(mode):  # also a dangling link, or a file gone since
        tally.not_media += 1
        return None
    head = _head(path)
    if head is None:
        return Problem(_id(path), str(path), "PermissionError", f"{path}: cannot be read")
    kind = kind_of(head)
    if kind is not None:
        return Item(_id(path), str(path), kind)
    mime = media_type(head)
    if mime is None:
        tally.not_media += 1
    else:
        tally.unsupported[mime] = tally.unsupported.get(mime, 0) + 1
    return None


def _named_file(path: Path, item_id: str, prompt: str | None = None) -> Item | Problem:
    """A file the user named: an Item, or a Problem that says why it is not one."""
    head = _head(path)
    if head is None:
        return Problem(item_id, str(path), "PermissionError", f"{path}: cannot be read")
    kind = kind_of(head)
    if kind is not None:
        return Item(item_id, str(path), kind, prompt)
    mime = media_type(head)
    if mime is None:
        return Problem(
            item_id,
            str(path),
            "InvalidMediaError",
            f"{path}: not an image, audio or video file (its first bytes match no known type)",
        )
    return Problem(
        item_id,
        str(path),
        "UnsupportedFormatError",
        f"{path}: {mime} files cannot be captioned by this mmkit yet",
    )


def _manifest_items(path: Path, root: Path, max_line: int) -> Iterator[Item | Problem]:
    for row in manifest.rows(path, max_line):
        where = f"{path} row {row.number}"
        if row.error is not None:
            yield Problem(row.id or where, str(path), "ConfigError", f"{where}: {row.error}")
            continue
        if row.source is None:
            yield Problem(
                row.id or where,
                str(path),
                "InvalidOptionError",
                f"{where}: no {', '.join(manifest.SOURCE_COLUMNS)} value",
            )
            continue
        item_id = row.id or row.source
        if row.source.startswith(("http://", "https://")):
            yield Item(item_id, row.source, None, row.prompt)
            continue
        if "://" in row.source[:32] or row.source.startswith("data:"):
            yield Problem(
                item_id,
                redact_url(row.source),
                "UnsupportedFormatError",
                f"{where}: {redact_url(row.source)[:80]} is neither a path nor an http(s) URL",
            )
            continue
        if "\0" in row.source:  # the OS would refuse it (ValueError), in the check or the open
            shown = row.source.replace("\0", "\\0")
            yield Problem(
                item_id,
                shown,
                "InvalidOptionError",
                f"{where}: {shown} has a NUL byte, which no file name can hold",
            )
            continue
        try:
            file = manifest.resolve_path(row.source, path.parent, root)
            mode = _mode(file)
        except PermissionError as exc:
            yield Problem(item_id, row.source, "PermissionError", f"{where}: {exc}")
            continue
        except OSError as exc:  # ENAMETOOLONG, ELOOP...: this row's error, the listing goes on
            yield _os_problem(item_id, row.source, exc, where)
            continue
        if mode is None or stat.S_ISDIR(mode):
            yield Problem(item_id, str(file), "FileNotFoundError", f"{where}: no such file {file}")
            continue
        if not stat.S_ISREG(mode):
            yield _special(item_id, row.source, mode, where)
            continue
        yield _named_file(file, item_id, row.prompt)
