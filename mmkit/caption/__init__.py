"""Dataset captioning: caption files, folders, globs, URLs and manifests with one model.

    summary = mmkit.caption.run(["photos/"], model="echo", out="captions.jsonl")
    for record in mmkit.caption.captions(["photos/"], model="echo"): ...   # as they complete
    summary = await mmkit.caption.arun([...], ...)                         # inside asyncio

Records are appended to `out` as they complete; a rerun skips what is done (same id, same
content). See CaptionOptions for every option, and mmkit.caption.ray for Ray Data.
"""

from __future__ import annotations

import asyncio
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from mmkit.caption.items import KINDS, Item, Kind
from mmkit.caption.options import CaptionOptions
from mmkit.caption.records import Record
from mmkit.caption.runner import pipeline
from mmkit.caption.summary import Summary

Inputs = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]


def _inputs(inputs: Inputs) -> list[str | os.PathLike[str]]:
    if isinstance(inputs, (str, os.PathLike)):
        return [inputs]
    return list(inputs)


def run(inputs: Inputs, **options: Any) -> Summary:
    """Caption everything in `inputs`; returns the Summary. Keywords: CaptionOptions' fields.

    From a plain script the run owns the event loop, and Ctrl-C stops it cleanly (the output
    stays valid; KeyboardInterrupt is raised after). Inside a running loop (a notebook) it runs
    on a thread of its own.
    """
    settings = CaptionOptions(**options)
    summary = Summary()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(pipeline(_inputs(inputs), settings, summary))
        return summary
    for _ in _threaded(_inputs(inputs), settings, summary):
        pass
    return summary


async def arun(inputs: Inputs, **options: Any) -> Summary:
    """`run` for code already inside asyncio."""
    summary = Summary()
    await pipeline(_inputs(inputs), CaptionOptions(**options), summary)
    return summary


def captions(inputs: Inputs, **options: Any) -> Iterator[Record]:
    """Records as they complete (captioned or failed), for notebooks and scripts that look at
    each one. Stopping the iteration early stops the run; the output file stays valid."""
    yield from _threaded(_inputs(inputs), CaptionOptions(**options), Summary())


def _threaded(
    inputs: list[str | os.PathLike[str]], options: CaptionOptions, summary: Summary
) -> Iterator[Record]:
    """The run on a thread with its own loop; records cross over through a queue."""
    records: queue.Queue[Record | BaseException | None] = queue.Queue()
    loop = asyncio.new_event_loop()
    main: list[asyncio.Task[None]] = []

    async def go() -> None:
        main.append(asyncio.current_task())  # type: ignore[arg-type]
        await pipeline(inputs, options, summary, emit=records.put)

    def thread() -> None:
        try:
            loop.run_until_complete(go())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            records.put(exc)
        finally:
            loop.close()
            records.put(None)

    worker = threading.Thread(target=thread, name="mmkit-caption", daemon=True)
    worker.start()
    try:
        while (record := records.get()) is not None:
            if isinstance(record, BaseException):
                raise record
            yield record
    finally:
        if worker.is_alive() and main:
            loop.call_soon_threadsafe(main[0].cancel)
        worker.join()


__all__ = [
    "KINDS",
    "CaptionOptions",
    "Item",
    "Kind",
    "Record",
    "Summary",
    "arun",
    "captions",
    "run",
]
