"""Manifests: a JSONL, CSV or Parquet file listing what to caption, one row per item.

A row has a `source`, `path` or `url` (the media), and optionally an `id` and its own `prompt`.

Trust rule. A manifest is data (design.md, "Trust boundaries"): it may come with a downloaded
dataset. Its http(s) URLs go through the guarded fetch like any URL. Its paths are read only
inside one folder: the manifest's own folder by default (relative paths resolve against it), or
the folder the caller names (`manifest_root=`, `--manifest-root`). A path that leaves it (absolute
elsewhere, `..`, or a symlink pointing out) is refused for that row, which gets an error record.
Naming `/` as the root is how a caller trusts every path in a manifest it wrote itself.

Memory rule. A manifest is read a line at a time, and no line is read past `max_line` bytes
(characters for CSV; 1 MiB by default, `max_manifest_line=`): a longer line is skipped through to
its end in small pieces and becomes that row's error, and the rest of the manifest goes on. A CSV
field is also bounded by Python's csv limit (128 KiB); a row over it is that row's error too.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, AnyStr

from mmkit.errors import ConfigError

SUFFIXES = (".jsonl", ".ndjson", ".csv", ".parquet")
SOURCE_COLUMNS = ("source", "path", "url")
MAX_LINE = 1 << 20  # bytes of one manifest line (a row with a long prompt is a few KiB)
_SKIP = 1 << 16  # the piece a line over the cap is skipped through in


class Row:
    """One manifest row, read: where it is (for messages), its fields as strings or None, and
    `error` when the row itself could not be read (its fields are then empty)."""

    __slots__ = ("error", "id", "number", "prompt", "source")

    def __init__(self, number: int, fields: Mapping[str, Any], error: str | None = None) -> None:
        self.number = number
        self.error = error
        self.id = _text(fields.get("id"))
        self.prompt = _text(fields.get("prompt"))
        self.source = next(
            (value for value in (_text(fields.get(c)) for c in SOURCE_COLUMNS) if value), None
        )


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and value != value):  # NaN: an empty cell
        return None
    text = str(value).strip()
    return text or None


def is_manifest(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES


def rows(path: Path, max_line: int = MAX_LINE) -> Iterator[Row]:
    """The rows of a manifest, streamed (a manifest can list millions of items); a JSONL or CSV
    line over `max_line` is a Row with an `error`, never read whole."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path, max_line)
    elif suffix == ".parquet":
        yield from _parquet_rows(path)
    else:
        yield from _jsonl_rows(path, max_line)


def _capped_lines(f: IO[AnyStr], cap: int) -> Iterator[AnyStr | None]:
    """The lines of `f`, or None for a line over `cap` (read through in small pieces, dropped)."""
    while line := f.readline(cap + 1):
        if len(line) <= cap or line[-1:] in ("\n", "\r", b"\n"):  # its end came in time
            yield line
            continue
        while (rest := f.readline(_SKIP)) and rest[-1:] not in ("\n", "\r", b"\n"):
            pass
        yield None


def _too_long(cap: int, unit: str) -> str:
    return (
        f"the line is over {cap:,} {unit}, the manifest line limit, and was not read (raise it "
        "with --max-manifest-line, or max_manifest_line= in Python, if the row is meant to be "
        "that long)"
    )


def _jsonl_rows(path: Path, cap: int) -> Iterator[Row]:
    with path.open("rb") as lines:
        for number, line in enumerate(_capped_lines(lines, cap), 1):
            if line is None:
                yield Row(number, {}, _too_long(cap, "bytes"))
                continue
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
            except (ValueError, RecursionError):
                raise ConfigError(
                    f"manifest {path} line {number} is not JSON; each line must be an object "
                    'such as {"path": "a.jpg", "id": "a", "prompt": "..."}'
                ) from None
            if not isinstance(fields, dict):
                raise ConfigError(f"manifest {path} line {number} is not a JSON object")
            row = Row(number, fields)
            if not _is_text(row):  # JSON can escape half a surrogate pair; no text holds one
                raise ConfigError(
                    f"manifest {path} line {number} has a lone surrogate escape such as \\ud800, "
                    "which is not a character"
                )
            yield row


def _is_text(row: Row) -> bool:
    try:
        for value in (row.id, row.prompt, row.source):
            if value is not None:
                value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _csv_rows(path: Path, cap: int) -> Iterator[Row]:
    number = 1  # the row being read; row 1 is the header
    cut = False  # a line of the record being read was over the cap

    def lines(text: IO[str]) -> Iterator[str]:
        nonlocal cut
        for line in _capped_lines(text, cap):
            if line is None:
                cut = True
                line = "\n"  # an empty line in its place: the record ends as it would have
            yield line

    try:
        with path.open(newline="", encoding="utf-8-sig") as text:
            reader = csv.reader(lines(text))
            header = _csv_next(reader, path, 1)
            if cut:
                raise ConfigError(f"manifest {path} header: {_too_long(cap, 'characters')}")
            names = [c.strip().lower() for c in header or ()]
            if not set(names) & set(SOURCE_COLUMNS):
                raise ConfigError(
                    f"manifest {path} has no column named {', '.join(SOURCE_COLUMNS)}; its "
                    f"header is {sorted(set(names))}"
                )
            number = 2
            while True:
                try:
                    cells = next(reader, None)
                except csv.Error as exc:  # a field over csv.field_size_limit(): this row's
                    cut = False
                    yield Row(number, {}, f"not valid CSV ({exc})")
                    number += 1
                    continue
                if cells is None:
                    return
                if cut:
                    cut = False
                    yield Row(number, {}, _too_long(cap, "characters"))
                elif cells:  # a blank line is no row (as csv.DictReader has it)
                    yield Row(number, dict(zip(names, cells, strict=False)))
                else:
                    continue
                number += 1
    except UnicodeDecodeError:  # text is decoded a block ahead of the rows: no row to name
        raise ConfigError(
            f"manifest {path} is not UTF-8 text; save it as UTF-8 (in Excel: CSV UTF-8)"
        ) from None


def _csv_next(reader: Iterator[list[str]], path: Path, number: int) -> list[str] | None:
    try:
        return next(reader, None)
    except csv.Error as exc:
        raise ConfigError(f"manifest {path} row {number} is not valid CSV ({exc})") from None


def _parquet_rows(path: Path) -> Iterator[Row]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            f"reading the Parquet manifest {path} needs pyarrow: pip install 'mmkit-chat[parquet]'"
        ) from None
    try:
        table = pq.ParquetFile(path)
        names = table.schema_arrow.names
    except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError kinds
        raise ConfigError(f"manifest {path} is not a readable Parquet file ({exc})") from None
    wanted = [c for c in ("id", "prompt", *SOURCE_COLUMNS) if c in names]
    if not set(wanted) & set(SOURCE_COLUMNS):
        raise ConfigError(
            f"manifest {path} has no column named {', '.join(SOURCE_COLUMNS)}; its columns are "
            f"{names}"
        )
    number = 0
    batches = table.iter_batches(columns=wanted, batch_size=4096)
    while True:
        try:  # a footer that reads says nothing of the pages: each can still be corrupt
            batch = next(batches, None)
            listed = [] if batch is None else batch.to_pylist()
        except Exception as exc:
            raise ConfigError(
                f"manifest {path} is not a readable Parquet file after row {number} ({exc})"
            ) from None
        if batch is None:
            return
        for fields in listed:
            number += 1
            yield Row(number, fields)


def resolve_path(written: str, folder: Path, root: Path) -> Path:
    """The file a manifest row names (relative to the manifest's `folder`), which must lie
    inside `root` once links are followed.

    Raises PermissionError (caught by the caller as the row's error) when it does not.
    """
    candidate = Path(written)  # no "~" expansion: a row is data, not a shell line
    full = candidate if candidate.is_absolute() else folder / candidate
    real = Path(os.path.realpath(full))
    real_root = Path(os.path.realpath(root))
    if real != real_root and real_root not in real.parents:
        raise PermissionError(
            f"{written} is outside {root}, the folder this manifest's paths must stay in (pass "
            "manifest_root= / --manifest-root DIR to trust a wider folder)"
        )
    return full
