"""Captioning a Ray Data dataset: `caption_dataset(ds, model=...)` -> a dataset of records.

    import ray, mmkit.caption.ray as mcr
    ds = ray.data.read_binary_files("s3://bucket/images/", include_paths=True)
    mcr.caption_dataset(ds, model="bytez/google/gemma-3-4b-it", concurrency=8).write_parquet(out)

Each Ray actor holds one `Captioner`: one AsyncClient, one event loop, one adaptive limit (429s
slow that actor), and encodes with the same code as `mmkit caption` (mmkit.caption.encode).
Rows carry the media as `bytes` (with `path`, as `read_binary_files(include_paths=True)` gives),
or as a `source`/`path`/`url` column to read or fetch; an `id` and a `prompt` column are used when
present. Output rows are flat: id, source, hash, model, prompt, caption, error_type,
error_message, attempts, latency, prompt_tokens, completion_tokens. Write them with Ray Data's
own writers (`write_parquet`, `write_json`). Ray does not resume a run: filter the done ids out
of the input (`ds.filter`) before a second pass.
"""

from __future__ import annotations

import asyncio
from typing import Any

from mmkit.caption.encode import Encoded, Failed, Job, Unchanged, encode_job
from mmkit.caption.items import Item
from mmkit.caption.options import CaptionOptions
from mmkit.caption.records import Record
from mmkit.caption.summary import Summary
from mmkit.errors import ConfigError, MmkitError

COLUMNS = (
    "id",
    "source",
    "hash",
    "model",
    "prompt",
    "caption",
    "error_type",
    "error_message",
    "attempts",
    "latency",
    "prompt_tokens",
    "completion_tokens",
)


class Captioner:
    """The callable class `map_batches` runs in each actor (see `caption_dataset`)."""

    def __init__(self, **options: Any) -> None:
        self.options = CaptionOptions(**{**options, "workers": 0, "out": None})
        self.loop = asyncio.new_event_loop()
        self.run = self.loop.run_until_complete(self._start())

    async def _start(self) -> Any:
        from mmkit.caption.runner import _client, _Run

        return _Run(self.options, Summary(), None, _client(self.options), None, None)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = _rows(batch)
        records = self.loop.run_until_complete(self._batch(rows))
        return {name: [_column(r, name) for r in records] for name in COLUMNS}

    async def _batch(self, rows: list[tuple[str, str, bytes | None, str | None]]) -> list[Record]:
        return list(await asyncio.gather(*(self._one(*row) for row in rows)))

    async def _one(
        self, row_id: str, source: str, data: bytes | None, prompt: str | None
    ) -> Record:
        run = self.run
        item = Item(row_id, source, None, prompt)
        try:
            if data is None and item.is_url:
                data = await run._fetch(item)
            outcome = await asyncio.to_thread(encode_job, Job(item, data), run.settings)
        except MmkitError as exc:
            outcome = Failed(None, type(exc).__name__, str(exc))
        if isinstance(outcome, Encoded):
            return await run._send(item, outcome)  # type: ignore[no-any-return]
        assert not isinstance(outcome, Unchanged)  # no done hash is ever given here
        return run._failure(item, outcome.hash, outcome.type, outcome.message, 0)  # type: ignore[no-any-return]

    def __del__(self) -> None:
        loop = getattr(self, "loop", None)
        if loop is not None and not loop.is_closed():
            loop.run_until_complete(self.run.client.aclose())
            loop.close()


def _rows(batch: dict[str, Any]) -> list[tuple[str, str, bytes | None, str | None]]:
    """(id, source, bytes or None, prompt) for each row of a batch in Ray's numpy format."""
    columns = {name: list(values) for name, values in batch.items()}
    size = len(next(iter(columns.values()), []))
    source_column = next((c for c in ("path", "source", "url") if c in columns), None)
    if source_column is None and "bytes" not in columns:
        raise ConfigError(
            f"rows need a 'bytes' column or one of 'path', 'source', 'url'; got {sorted(columns)}"
        )
    out = []
    for n in range(size):
        source = str(columns[source_column][n]) if source_column else f"row {n}"
        data = columns["bytes"][n] if "bytes" in columns else None
        row_id = str(columns["id"][n]) if "id" in columns else source
        prompt = columns["prompt"][n] if "prompt" in columns else None
        out.append((row_id, source, bytes(data) if data is not None else None, prompt or None))
    return out


def _column(record: Record, name: str) -> Any:
    if name == "error_type":
        return record.error["type"] if record.error else None
    if name == "error_message":
        return record.error["message"] if record.error else None
    if name in ("prompt_tokens", "completion_tokens"):
        return (record.usage or {}).get(name)
    return getattr(record, name)


def caption_dataset(
    ds: Any,
    *,
    actors: int = 2,
    batch_size: int = 64,
    num_cpus: float = 1.0,
    **options: Any,
) -> Any:
    """`ds` captioned: one output row per input row. `actors` Ray actors, each reserving
    `num_cpus`, each send up to `concurrency` requests at once; other keywords are
    CaptionOptions' (model, prompt, max_side, ...)."""
    CaptionOptions(**{**options, "workers": 0})  # bad options fail here, not in every actor
    return ds.map_batches(
        Captioner,
        fn_constructor_kwargs=options,
        concurrency=actors,
        batch_size=batch_size,
        batch_format="numpy",
        num_cpus=num_cpus,
    )
