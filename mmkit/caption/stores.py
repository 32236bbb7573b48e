"""The store for an output path, picked by its suffix: JSONL, or Parquet for `.parquet`.

Its own module so that the Parquet store can build on the JSONL one without either importing the
other back (pyarrow itself loads only when a Parquet store opens).
"""

from __future__ import annotations

import os
from pathlib import Path

from mmkit.caption.parquet import ParquetStore
from mmkit.caption.store import JsonlStore


def open_store(
    path: str | os.PathLike[str],
    *,
    retry_failed: bool = False,
    read_only: bool = False,
    asked: str | None = None,
) -> JsonlStore:
    """The store for `path`: JSONL, or Parquet when the name ends in .parquet. `asked`: the
    run's question (CaptionOptions.asked); a record that answered another makes nothing done."""
    out = Path(path)
    if out.suffix.lower() == ".parquet":
        return ParquetStore(out, retry_failed=retry_failed, read_only=read_only, asked=asked)
    return JsonlStore(out, retry_failed=retry_failed, read_only=read_only, asked=asked)
