"""Captioning a Ray Data dataset: `caption_dataset(ds, model=...)` -> a dataset of records.

    import ray, mmkit.caption.ray as mcr
    ds = ray.data.read_binary_files("s3://bucket/images/", include_paths=True)
    mcr.caption_dataset(ds, model="bytez/google/gemma-3-4b-it", concurrency=8).write_parquet(out)

Each Ray actor holds one `Captioner`: one AsyncClient, one event loop, one adaptive limit (429s
slow that actor), and encodes with the same code as `mmkit caption` (mmkit.caption.encode).
Rows carry the media as `bytes` (with `path`, as `read_binary_files(include_paths=True)` gives),
or as a `source`/`path`/`url` column to read or fetch; an `id` and a `prompt` column are used when
present. Output rows are flat: id, source, hash, model, prompt, caption, error_type,
error_message, attempts, latency, prompt_tokens, completion_tokens, skipped, error_transient
(an error's `transient`: the failure said nothing about the item) and asked (the fingerprint of
model, prompt, system and generation parameters, CaptionOptions.asked(), as `mmkit caption`'s
records keep it). Write them with Ray Data's own writers (`write_parquet`, `write_json`).

Files that are not media are treated as `mmkit caption` treats them in a folder: a row whose
`bytes` are not media is skipped, not sent and not an error, and counted by its `skipped` column
("not media", or the media type mmkit cannot caption yet, such as "application/pdf"), as the
CLI's summary counts them under "files left out". A row that names its media (a path, source or
url column, no bytes) is read as a manifest row is: if it is not media, its record is the error.

Resuming: `caption_dataset(ds, ..., done=earlier)` leaves out the rows whose id the earlier output
already holds done, so a second pass (written to a new folder) after a crash or a partial pass
captions only what is missing, and no id has two successful records for one question across the
passes. `earlier` is what Ray Data's writers made (a folder of Parquet or JSON lines files, searched
recursively, or one file; a local path or a URI such as s3://bucket/out/; an `mmkit caption --out`
file, JSONL or Parquet, works too) or an iterable of ids. A record makes its id done as a plain
rerun of `mmkit caption` counts it: a caption does; an error does unless `retry_failed=True`, and a
transient one (a refused connection, a timeout, a 5xx or 429 after the retries) never does; a record
that asked another question (another model, prompt, system or generation parameters than this run's)
does not either. Records from before `asked` and the transient flag were kept count as asked alike
and as failed for their own sake. A success in any file counts as done; an id captioned again leaves
its old record in the earlier folder: prefer the newest success when merging. Only the ids and those
columns are read, in the driver, before any actor starts; the rows are dropped by a `map_batches`
step in the workers. Ids are compared, not content: a file changed under the same id is not
captioned again. `done_ids(earlier, asked=...)` gives the set, e.g. to resume from several passes:
`done=done_ids(out1, asked=a) | done_ids(out2, asked=a)` with `a = CaptionOptions(model=...,
prompt=...).asked()`; without `asked` it does not compare questions (transient failures are still
not done).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Iterator
from typing import Any

from mmkit.caption.encode import Encoded, Failed, Job, Unchanged, encode_job
from mmkit.caption.items import Item, kind_of, media_type
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
    "skipped",
    "error_transient",
    "asked",
)


class Skipped:
    """A row left out as a walked folder leaves a file out: why, in the `skipped` column."""

    __slots__ = ("id", "reason", "source")

    def __init__(self, row_id: str, source: str, reason: str) -> None:
        self.id, self.source, self.reason = row_id, source, reason


def skip_reason(data: bytes) -> str | None:
    """Why bytes read from a folder are no item (as the CLI's summary says it), or None."""
    head = data[:32]
    if kind_of(head) is not None:
        return None
    return media_type(head) or "not media"


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

    async def _batch(
        self, rows: list[tuple[str, str, bytes | None, str | None]]
    ) -> list[Record | Skipped]:
        return list(await asyncio.gather(*(self._one(*row) for row in rows)))

    async def _one(
        self, row_id: str, source: str, data: bytes | None, prompt: str | None
    ) -> Record | Skipped:
        run = self.run
        if data is not None and (reason := skip_reason(data)) is not None:
            return Skipped(row_id, source, reason)
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
    source_column = _source_column(columns)
    if source_column is None and "bytes" not in columns:
        raise ConfigError(
            f"rows need a 'bytes' column or one of 'path', 'source', 'url'; got {sorted(columns)}"
        )
    out = []
    for n, row_id in enumerate(_ids(columns, size, source_column)):
        source = str(columns[source_column][n]) if source_column else f"row {n}"
        data = columns["bytes"][n] if "bytes" in columns else None
        prompt = columns["prompt"][n] if "prompt" in columns else None
        out.append((row_id, source, bytes(data) if data is not None else None, prompt or None))
    return out


def _source_column(columns: dict[str, Any]) -> str | None:
    return next((c for c in ("path", "source", "url") if c in columns), None)


def _ids(columns: dict[str, Any], size: int, source_column: str | None) -> list[str]:
    """Each row's id, as its output record has it: the `id` column, else the source."""
    if "id" in columns:
        return [str(v) for v in columns["id"]]
    if source_column is not None:
        return [str(v) for v in columns[source_column]]
    return [f"row {n}" for n in range(size)]


def _drop_done(batch: dict[str, Any], done: frozenset[str]) -> dict[str, Any]:
    """The rows of a batch (numpy format) whose id is not in `done`."""
    import numpy as np

    size = len(next(iter(batch.values()), []))
    source_column = _source_column(batch)
    if "id" not in batch and source_column is None:
        raise ConfigError(
            "done= needs rows with an 'id' column or one of 'path', 'source', 'url' to match "
            f"them with the earlier output; got {sorted(batch)}"
        )
    ids = _ids(batch, size, source_column)
    keep = np.fromiter((i not in done for i in ids), dtype=bool, count=size)
    return {name: values[keep] for name, values in batch.items()}


def _column(record: Record | Skipped, name: str) -> Any:
    if isinstance(record, Skipped):
        return {"id": record.id, "source": record.source, "skipped": record.reason}.get(name)
    if name == "skipped":
        return None
    if name == "error_type":
        return record.error["type"] if record.error else None
    if name == "error_message":
        return record.error["message"] if record.error else None
    if name == "error_transient":  # the failure says nothing about the item: a resume retries it
        return record.transient if record.error else None
    if name in ("prompt_tokens", "completion_tokens"):
        return (record.usage or {}).get(name)
    return getattr(record, name)


def caption_dataset(
    ds: Any,
    *,
    actors: int = 2,
    batch_size: int = 64,
    num_cpus: float = 1.0,
    done: str | os.PathLike[str] | Iterable[Any] | None = None,
    **options: Any,
) -> Any:
    """`ds` captioned: one output row per input row (but those `done` leaves out). `actors` Ray
    actors, each reserving `num_cpus`, each send up to `concurrency` requests at once; other
    keywords are CaptionOptions' (model, prompt, max_side, retry_failed, ...).

    `done`: earlier output (a path) or ids (an iterable) whose rows are left out, to resume a
    run; earlier errors count as done unless `retry_failed=True` or they were transient, and
    records that asked another question do not (see the module docstring). A
    bad `done` raises ConfigError here, before anything runs."""
    checked = CaptionOptions(**{**options, "workers": 0})  # bad options fail here, not in actors
    if done is not None:  # the actors' records keep the same question: asked from the same options
        skip = done_ids(done, retry_failed=checked.retry_failed, asked=checked.asked())
        if skip:
            ds = ds.map_batches(
                _drop_done,
                fn_kwargs={"done": skip},
                batch_size=batch_size,
                batch_format="numpy",
                num_cpus=num_cpus,
            )
    from ray.data import ActorPoolStrategy

    return ds.map_batches(
        Captioner,
        fn_constructor_kwargs=options,
        compute=ActorPoolStrategy(size=actors),  # `concurrency=` is deprecated since Ray 2.51
        batch_size=batch_size,
        batch_format="numpy",
        num_cpus=num_cpus,
    )


# --- done ids ----------------------------------------------------------------------------------

_SUFFIXES = (".parquet", ".json", ".jsonl")
_BATCH = 65_536


def done_ids(
    done: str | os.PathLike[str] | Iterable[Any],
    *,
    retry_failed: bool = False,
    asked: str | None = None,
) -> frozenset[str]:
    """The ids `caption_dataset(..., done=done)` leaves out: those of the records in earlier
    output (a file, or a folder of Parquet / JSON lines files, searched recursively; a local
    path or a URI pyarrow opens, like s3://bucket/captions/), or the ids of an iterable, as str.

    A record makes its id done as a rerun of `mmkit caption` counts it (records.resume_hash):
    a caption does; an error does unless `retry_failed`, and never when it was transient (a
    timeout, a refused connection, a 5xx or 429 after retries); and, given `asked` (the run's
    CaptionOptions.asked()), no record that answered another question does (records without
    `asked` count as asked alike). Without `asked`, what each record asked is not compared.
    One record that makes an id done is enough, whichever file holds it.
    Raises ConfigError for a missing path, an unreadable file or one without an `id`."""
    if isinstance(done, (str, os.PathLike)):
        return _done_in(os.fspath(done), retry_failed, asked)
    if isinstance(done, (bytes, bytearray)) or not isinstance(done, Iterable):
        raise ConfigError(
            f"done= takes a path to earlier output or an iterable of ids; got {type(done).__name__}"
        )
    return frozenset(str(i.as_py() if hasattr(i, "as_py") else i) for i in done)


def _done_in(done: str, retry_failed: bool, asked: str | None) -> frozenset[str]:
    try:
        import pyarrow.fs as pafs
    except ImportError:
        raise ConfigError("done= needs pyarrow: pip install 'mmkit-chat[ray]'") from None
    if "://" in done:
        try:
            fs, root = pafs.FileSystem.from_uri(done)
        except Exception as exc:  # pyarrow's own error kinds
            raise ConfigError(f"done={done}: cannot open it ({exc})") from None
    else:
        fs, root = pafs.LocalFileSystem(), os.path.abspath(done)
    captioned: set[str] = set()
    failed: set[str] = set()
    for file in _output_files(fs, root, done):
        shown = done.rstrip("/") + file[len(root.rstrip("/")) :]  # as the caller wrote it
        for item_id, state in _records(fs, file, shown, asked):
            if state == _CAPTIONED:
                captioned.add(item_id)
            elif state == _FAILED:
                failed.add(item_id)
    return frozenset(captioned if retry_failed else captioned | failed)


def _output_files(fs: Any, root: str, done: str) -> list[str]:
    """The files to read: `root` itself, or the output files under the folder `root`."""
    import pyarrow.fs as pafs

    try:
        info = fs.get_file_info(root)
        if info.type == pafs.FileType.File:
            return [root]
        if info.type != pafs.FileType.Directory:
            raise ConfigError(
                f"done={done}: no such file or folder; pass the folder an earlier pass wrote "
                "(write_parquet or write_json), or leave done= out on a first pass"
            )
        found = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    except OSError as exc:
        raise ConfigError(f"done={done}: cannot list it ({exc})") from None
    prefix = root.rstrip("/") + "/"
    files = sorted(
        f.path
        for f in found
        if f.type == pafs.FileType.File
        and f.path.lower().endswith(_SUFFIXES)
        # pyarrow and Ray skip these when reading a folder (unfinished or metadata files)
        and not any(part.startswith((".", "_")) for part in f.path[len(prefix) :].split("/"))
    )
    if not files:
        raise ConfigError(
            f"done={done}: the folder holds no .parquet, .json or .jsonl files; pass the folder "
            "an earlier pass wrote (write_parquet or write_json), or leave done= out if it "
            "wrote nothing"
        )
    return files


# What a record says of its id (`_records`): captioned, failed for its own sake, or nothing.
_CAPTIONED, _FAILED, _AGAIN = "captioned", "failed", "again"


def _records(fs: Any, file: str, shown: str, asked: str | None) -> Iterator[tuple[str, str]]:
    """(id, what the record says) of each record in a Parquet or JSON lines file: an error when
    its `error_type` (caption_dataset's output) or `error` (mmkit caption's) is set; _AGAIN
    when that error was transient (`error_transient`, or `error.transient`) or the record's
    `asked` is not `asked`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        with fs.open_input_file(file) as f:
            magic = f.read(4)
    except OSError as exc:
        raise ConfigError(f"done={shown}: cannot read it ({exc})") from None
    if not magic:
        return  # an empty file holds no records
    if magic == b"PAR1":
        batches = _parquet_batches(fs, file, shown)
    else:
        batches = _json_batches(fs, file, shown)
    for batch in batches:
        ids = batch.column("id")
        if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
            ids = pc.cast(ids, pa.string())
        states = _states(batch, asked)
        for item_id, state in zip(ids.to_pylist(), states, strict=True):
            if item_id is not None:
                yield item_id, state


def _states(batch: Any, asked: str | None) -> list[str]:
    """Each record's state (`_records`) from the columns the batch has."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = batch.schema.names
    size = batch.num_rows
    failed, transient = [False] * size, [False] * size
    for name in ("error_type", "error"):
        if name in names:
            present = pc.is_valid(batch.column(name)).to_pylist()
            failed = [a or b for a, b in zip(failed, present, strict=True)]
    flags = []  # caption_dataset's `error_transient`, mmkit caption's `error.transient`
    if "error_transient" in names:
        flags.append(pc.cast(batch.column("error_transient"), pa.bool_()))
    if "error" in names and pa.types.is_struct(batch.column("error").type):
        error = batch.column("error")
        if error.type.get_field_index("transient") >= 0:  # read only where an error is set
            flags.append(pc.cast(pc.struct_field(error, "transient"), pa.bool_()))
    for flag in flags:
        said = pc.fill_null(flag, False).to_pylist()
        transient = [a or b for a, b in zip(transient, said, strict=True)]
    other = [False] * size
    if asked is not None and "asked" in names:
        written = pc.cast(batch.column("asked"), pa.string())
        # null (a record from before `asked` was written): asked alike
        other = pc.fill_null(pc.not_equal(written, asked), False).to_pylist()
    return [
        _AGAIN if again or (bad and flaky) else _FAILED if bad else _CAPTIONED
        for bad, flaky, again in zip(failed, transient, other, strict=True)
    ]


def _unreadable(file: str, kind: str, exc: Exception) -> ConfigError:
    return ConfigError(
        f"done={file} is not a readable {kind} file ({exc}); if a crashed pass left it "
        "half-written, delete it (its rows are then captioned again), else move it out of "
        "the folder"
    )


def _no_id(file: str) -> ConfigError:
    return ConfigError(
        f"done={file} has no 'id' column, so it is not caption output; move it out of the "
        "folder, or pass the ids themselves (done=[...])"
    )


def _parquet_batches(fs: Any, file: str, shown: str) -> Iterator[Any]:
    import pyarrow.parquet as pq

    with fs.open_input_file(file) as source:
        try:
            reader = pq.ParquetFile(source)
        except Exception as exc:  # pyarrow's own error kinds
            raise _unreadable(shown, "Parquet", exc) from None
        names = reader.schema_arrow.names
        if "id" not in names:
            raise _no_id(shown)
        wanted = ("error_type", "error", "error_transient", "asked")
        columns = ["id", *(c for c in wanted if c in names)]
        batches = reader.iter_batches(batch_size=_BATCH, columns=columns)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as exc:  # pyarrow's own error kinds
                raise _unreadable(shown, "Parquet", exc) from None
            yield batch


def _json_batches(fs: Any, file: str, shown: str) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.json as pj

    error = pa.struct([("type", pa.string()), ("message", pa.string()), ("transient", pa.bool_())])
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("error_type", pa.string()),
            ("error", error),
            ("error_transient", pa.bool_()),
            ("asked", pa.string()),
        ]
    )
    parse = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        with fs.open_input_file(file) as f:
            table = pj.read_json(f, parse_options=parse)
    except Exception as exc:  # pyarrow's own error kinds
        raise _unreadable(shown, "JSON lines", exc) from None
    if table.num_rows and table.column("id").null_count == table.num_rows:
        raise _no_id(shown)
    yield from table.to_batches()
