"""The output file, appended as records complete and resumable after any stop.

JSONL: one record a line, each written whole with one `write` on an append-only descriptor and
flushed to the OS at once, so a killed process (even `kill -9`) loses only what was in flight. The
file is fsynced about once a second and at the end: an OS crash or power cut can lose the last
second, never more, and fsyncing every line would cost a disk round trip per item.

Opening repairs and indexes: a torn last line (a write cut by a crash) is truncated away; any
other line that is not a record stops the run (the file is not ours to rewrite). The last record
for an id wins: older ones (content changed since, or failures retried with `retry_failed`) are
removed by an atomic rewrite (temp file + rename), at open and at close, so the file never holds
two records for one id after a run ends.

Parquet (`--out x.parquet`, mmkit.caption.parquet) builds on this store; mmkit.caption.stores
picks one of the two by the output's suffix.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmkit.caption.records import Record, resume_hash
from mmkit.errors import ConfigError

FSYNC_EVERY = 1.0  # seconds

# A content hash as the index holds it: "sha256:<hex>" as its 32 bytes (65 bytes of memory
# instead of 120: the index has one per item, and a run may list millions), else as written.
_Hash = bytes | str | None
_SHA256 = "sha256:"


def _pack(value: Any) -> _Hash:
    if isinstance(value, str) and value.startswith(_SHA256) and len(value) == 71:
        try:
            return bytes.fromhex(value[7:])
        except ValueError:
            return value
    return value if isinstance(value, str) else None


def _unpack(value: _Hash) -> str | None:
    return _SHA256 + value.hex() if isinstance(value, bytes) else value


class JsonlStore:
    """Records in a JSONL file: `status(id)`, `append(record)`, `close()`."""

    def __init__(
        self,
        path: Path,
        *,
        retry_failed: bool = False,
        read_only: bool = False,
        asked: str | None = None,
    ) -> None:
        self.path = path
        self.read_only = read_only
        self.asked = asked  # the run's question: a record that answered another has no hash
        self._last: dict[str, tuple[bool, _Hash, int]] = {}  # id -> (ok, hash, line)
        self._lines = 0
        self._stale = False  # some id has an older record to remove
        self._fd: int | None = None
        self._synced = time.monotonic()
        self.repaired = False
        if path.exists():
            self._index()
            if not read_only and (self._stale or (retry_failed and self.failed_ids())):
                self._rewrite(drop_failed=retry_failed)
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    # --- reading -------------------------------------------------------------------------------

    def status(self, item_id: str) -> tuple[bool, str | None] | None:
        """(captioned?, content hash) of the id's record, or None when it has none. The hash is
        None when the record cannot make the item done (records.resume_hash)."""
        found = self._last.get(item_id)
        return None if found is None else (found[0], _unpack(found[1]))

    def failed_ids(self) -> list[str]:
        return [i for i, (ok, _, _) in self._last.items() if not ok]

    def __len__(self) -> int:
        return len(self._last)

    def records(self) -> Iterator[Record]:
        """Every record, the last one per id, in file order."""
        for number, line in _lines(self.path):
            data = _parse(line)
            if data is not None and self._last.get(str(data["id"]), (0, 0, -1))[2] == number:
                yield Record.from_json(data)

    def _index(self) -> None:
        good_end = 0
        number = -1
        for number, line in _lines(self.path):
            data = _parse(line)
            if data is None or not line.endswith(b"\n"):
                if self._is_last_line(good_end + len(line)):
                    self._repair(good_end)
                    return
                raise ConfigError(
                    f"{self.path} line {number + 1} is not an mmkit caption record; fix or "
                    "remove that line, or write to another --out file"
                )
            item_id = str(data["id"])
            if item_id in self._last:
                self._stale = True
            error = data.get("error")
            self._last[item_id] = (error is None, _pack(resume_hash(data, self.asked)), number)
            good_end += len(line)
        self._lines = number + 1

    def _is_last_line(self, end: int) -> bool:
        return end >= self.path.stat().st_size

    def _repair(self, good_end: int) -> None:
        """Cut a torn last line (what a crash mid-write leaves)."""
        if self.read_only:
            return
        with self.path.open("r+b") as f:
            f.truncate(good_end)
            os.fsync(f.fileno())
        self.repaired = True

    def _rewrite(self, drop_failed: bool) -> None:
        """Keep the last record per id (and drop failures when they are to be retried)."""
        keep = {line for ok, _, line in self._last.values() if ok or not drop_failed}
        tmp = self.path.with_name(self.path.name + ".tmp")
        with tmp.open("wb") as out:
            for number, line in _lines(self.path):
                if number in keep:
                    out.write(line if line.endswith(b"\n") else line + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        fsync_dir(self.path.parent)
        self._stale = False
        self._last = {}
        self._index()

    # --- writing -------------------------------------------------------------------------------

    def append(self, record: Record) -> None:
        if self._fd is None:
            raise ConfigError(f"{self.path} is open read-only")
        data = record.to_json()
        line = (json.dumps(data, ensure_ascii=False) + "\n").encode()
        view = memoryview(line)
        while view:  # one write almost always; a short write is finished, never interleaved
            written = os.write(self._fd, view)
            view = view[written:]
        if record.id in self._last:
            self._stale = True
        self._last[record.id] = (record.ok, _pack(resume_hash(data, self.asked)), self._lines)
        self._lines += 1
        if time.monotonic() - self._synced >= FSYNC_EVERY:
            self.sync()

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            self._synced = time.monotonic()

    def close(self) -> None:
        if self._fd is None:
            return
        self.sync()
        os.close(self._fd)
        self._fd = None
        if self._stale:
            self._rewrite(drop_failed=False)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as f:
        yield from enumerate(f)


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    return data


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); Windows cannot open a folder, and needs no such step."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
