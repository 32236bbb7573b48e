"""From what a user names (files, folders, globs, URLs, manifests) to a stream of Items.

Folders are walked recursively in name order; a file is media when its first bytes say so, and
other files are skipped and counted. Files and manifest rows the user named one by one always get
a record: if one is not media, or cannot be read, its record says so. Nothing is listed in memory
ahead: a folder of millions of files streams.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmkit.caption import manifest
from mmkit.caption.items import Item, kind_of, media_type
from mmkit.media.fetch import redact_url

_HEAD = 32  # enough bytes for every signature mmkit.media.sniff knows
_GLOB_CHARS = frozenset("*?[")


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
) -> Iterator[Item | Problem]:
    """Items (and Problems) for each input in order. `tally` counts what was skipped."""
    for given in inputs:
        text = os.fspath(given)
        if text.startswith(("http://", "https://")):
            yield Item(text, text)
            continue
        path = Path(text)
        if path.is_dir():
            yield from _walk(path, tally)
        elif path.is_file():
            if manifest.is_manifest(path) and kind_of(_head(path) or b"") is None:
                root = Path(manifest_root) if manifest_root is not None else path.parent
                yield from _manifest_items(path, root)
            else:
                yield _named_file(path, _id(text))
        elif _GLOB_CHARS & set(text):
            for match in glob.iglob(text, recursive=True):
                found = Path(match)
                if found.is_file():
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


def _id(path: str | Path) -> str:
    """The id of a file: its path as the user reached it, normalised ('./a//b.jpg' -> 'a/b.jpg')."""
    return Path(os.path.normpath(path)).as_posix()


def _head(path: Path) -> bytes | None:
    try:
        with path.open("rb") as f:
            return f.read(_HEAD)
    except OSError:
        return None


def _walk(root: Path, tally: Tally) -> Iterator[Item | Problem]:
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()  # os.walk descends in this list's order
        for name in sorted(filenames):
            found = _walked_file(Path(folder) / name, tally)
            if found is not None:
                yield found


def _walked_file(path: Path, tally: Tally) -> Item | Problem | None:
    """A file met in a folder or a glob: an Item if it is media, else counted and skipped."""
    head = _head(path)
    if head is None:
        if not path.is_file():  # a dangling symlink, a socket: nothing to caption
            tally.not_media += 1
            return None
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


def _manifest_items(path: Path, root: Path) -> Iterator[Item | Problem]:
    for row in manifest.rows(path):
        where = f"{path} row {row.number}"
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
        except PermissionError as exc:
            yield Problem(item_id, row.source, "PermissionError", f"{where}: {exc}")
            continue
        if not file.is_file():
            yield Problem(item_id, str(file), "FileNotFoundError", f"{where}: no such file {file}")
            continue
        yield _named_file(file, item_id, row.prompt)
