"""Parquet output: a JSONL journal while the run goes, one atomic Parquet rewrite at the end.

Parquet files cannot be appended to, so records go to `<out>.journal.jsonl` (with every guarantee
of the JSONL store: flushed per record, torn tail repaired), and `close()` writes the existing
Parquet rows plus the journal's (the last record per id wins) to a temp file, renames it over
`out`, then deletes the journal. A run killed before that leaves the journal, which the next run
reads and merges.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmkit.caption.records import Record, resume_hash
from mmkit.caption.store import JsonlStore, fsync_dir
from mmkit.errors import ConfigError

_BATCH = 4096


def _arrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(
            "--out *.parquet needs pyarrow: pip install 'mmkit-chat[parquet]'"
        ) from None
    return pa, pq


def schema() -> Any:
    pa, _ = _arrow()
    usage = pa.struct(
        [
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("total_tokens", pa.int64()),
        ]
    )
    error = pa.struct([("type", pa.string()), ("message", pa.string()), ("transient", pa.bool_())])
    return pa.schema(
        [
            ("id", pa.string()),
            ("source", pa.string()),
            ("hash", pa.string()),
            ("model", pa.string()),
            ("prompt", pa.string()),
            ("caption", pa.string()),
            ("usage", usage),
            ("latency", pa.float64()),
            ("attempts", pa.int64()),
            ("error", error),
            ("asked", pa.string()),
        ]
    )


def _row(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "source": record.source,
        "hash": record.hash,
        "model": record.model,
        "prompt": record.prompt,
        "caption": record.caption,
        "usage": record.usage,
        "latency": record.latency,
        "attempts": record.attempts,
        "error": record.error,
        "asked": record.asked,
    }


class ParquetStore(JsonlStore):
    def __init__(
        self,
        path: Path,
        *,
        retry_failed: bool = False,
        read_only: bool = False,
        asked: str | None = None,
    ) -> None:
        self.parquet = path
        self._old: dict[str, tuple[bool, str | None]] = {}
        if path.exists():
            for record in self._parquet_records():
                if not (retry_failed and not record.ok):
                    self._old[record.id] = (record.ok, resume_hash(record.to_json(), asked))
        super().__init__(
            path.with_name(path.name + ".journal.jsonl"),
            retry_failed=retry_failed,
            read_only=read_only,
            asked=asked,
        )
        self._dropped_failed = retry_failed

    def status(self, item_id: str) -> tuple[bool, str | None] | None:
        return super().status(item_id) or self._old.get(item_id)

    def _parquet_records(self) -> Iterator[Record]:
        _, pq = _arrow()
        try:
            table = pq.ParquetFile(self.parquet)
        except Exception as exc:  # pyarrow's own error kinds
            raise ConfigError(f"{self.parquet} is not a readable Parquet file ({exc})") from None
        for batch in table.iter_batches(batch_size=_BATCH):
            for row in batch.to_pylist():
                yield Record.from_json(row)

    def records(self) -> Iterator[Record]:
        newer = {r.id for r in super().records()}
        if self.parquet.exists():
            for record in self._parquet_records():
                if record.id not in newer and record.id in self._old:
                    yield record
        yield from super().records()

    def close(self) -> None:
        if self._fd is None:
            return
        super().close()
        journal = self.path.stat().st_size > 0
        if journal or (self._dropped_failed and self.parquet.exists()):
            self._write()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _write(self) -> None:
        pa, pq = _arrow()
        tmp = self.parquet.with_name(self.parquet.name + ".tmp")
        with pq.ParquetWriter(tmp, schema()) as writer:
            rows: list[dict[str, Any]] = []
            for record in self.records():
                rows.append(_row(record))
                if len(rows) >= _BATCH:
                    writer.write_table(pa.Table.from_pylist(rows, schema()))
                    rows = []
            if rows:
                writer.write_table(pa.Table.from_pylist(rows, schema()))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.parquet)
        fsync_dir(self.parquet.parent)
