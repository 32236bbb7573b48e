"""The run: list inputs in a thread, encode in a process pool, send on one event loop, write.

    inputs ──thread──> batches ──> E encode tasks ──pool──> send queue ──> C senders ──> store
                (bounded)           (E = 2×workers+8)        (bounded C)   (AIMD window)

Every queue is bounded, so memory stays flat however many items there are. The loop does no
media work: it fetches URLs (async), hands bytes to the pool, and sends the bodies the workers
built through one AsyncClient. Retries belong to the run, not to each call: requests go out with
`max_retries=0`, so every 429 reaches the adaptive limit (which slows all senders) and every
other retryable failure is retried here with the client's own backoff settings.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import random
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any

from mmkit.caption.check import check_inputs
from mmkit.caption.encode import Encoded, EncodeSettings, Failed, Job, Outcome, Unchanged
from mmkit.caption.inputs import Problem, Tally, expand
from mmkit.caption.items import Item, PartOptions
from mmkit.caption.limiter import AdaptiveLimit
from mmkit.caption.options import CaptionOptions
from mmkit.caption.progress import Progress
from mmkit.caption.records import Record
from mmkit.caption.store import JsonlStore
from mmkit.caption.stores import open_store
from mmkit.caption.summary import Summary
from mmkit.errors import (
    AuthError,
    MmkitError,
    RateLimitError,
    ServerError,
    TimeoutError,
    TransportError,
)

Emit = Callable[[Record], None]
_BATCH = 32  # items listed per hand-over from the listing thread
_DONE = None
_INPUTS = "inputs"  # the id of the record saying the inputs stopped being read


async def pipeline(
    inputs: Iterable[str | os.PathLike[str]],
    options: CaptionOptions,
    summary: Summary,
    emit: Emit | None = None,
    report: Callable[[str], None] | None = None,
) -> None:
    """Run a whole captioning job on the current loop, filling `summary` as it goes; a dry run
    tells `report` one line an item (what it would send and what its media cost)."""
    started = time.monotonic()
    inputs = list(inputs)
    check_inputs(inputs)
    summary.dry_run = options.dry_run
    summary.out = str(options.out or "")
    store = None
    if options.out is not None:
        store = open_store(
            options.out,
            retry_failed=options.retry_failed,
            read_only=options.dry_run,
            asked=options.asked(),
        )
    progress = Progress(summary, every=options.progress_every) if options.progress else None
    client = _client(options)
    run = _Run(options, summary, store, client, progress, emit, report)
    try:
        await run.go(inputs)
    except asyncio.CancelledError:
        if run.crash is not None:  # a stage died: say so and fail, never wait on it forever
            raise MmkitError(run.crash) from None
        summary.interrupted = True
        raise
    except MmkitError:
        raise
    except Exception as exc:  # a stage's bug reached the run itself (through a gather)
        raise MmkitError(run.crash or _internal_error("a captioning task", exc)) from exc
    finally:
        summary.elapsed = time.monotonic() - started
        run.shutdown(wait=not summary.interrupted)
        await client.aclose()
        if store is not None:
            store.close()
        if progress is not None:
            progress.close()


def _client(options: CaptionOptions) -> Any:
    from mmkit.transport import AsyncClient

    settings: dict[str, Any] = {}
    if options.video is not None:
        settings["video"] = options.video
    if options.timeout is not None:  # each request whole: connect, headers, every body piece
        settings["timeout"] = options.timeout
    if options.config is not None:
        return AsyncClient.from_config(Path(options.config), options.model, **settings)
    return AsyncClient(
        options.model, base_url=options.base_url, api_key=options.api_key, **settings
    )


class _Run:
    def __init__(
        self,
        options: CaptionOptions,
        summary: Summary,
        store: JsonlStore | None,
        client: Any,
        progress: Progress | None,
        emit: Emit | None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        self.report = report
        self.summary = summary
        self.store = store
        self.client = client
        self.progress = progress
        self.emit = emit
        self.asked = options.asked()
        self.limit = AdaptiveLimit(options.concurrency, options.rate)
        self.policy = client.retry_policy
        self.settings = EncodeSettings(
            client.builder(),
            options.prompt,
            options.system,
            PartOptions(options.max_side, options.frames),
            options.generation_params(),
        )
        self.workers = options.workers if options.workers is not None else (os.cpu_count() or 1)
        self.pool = _pool(self.workers, self.settings)
        self.fetch_policy = _fetch_policy(options)
        self.stop_listing = threading.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.crash: str | None = None  # what stopped the run from inside, when something did
        self.main: asyncio.Task[Any] | None = None

    # --- stages --------------------------------------------------------------------------------

    async def go(self, inputs: list[str | os.PathLike[str]]) -> None:
        loop = asyncio.get_running_loop()
        self.main = asyncio.current_task()
        listed: asyncio.Queue[list[Item | Problem] | None] = asyncio.Queue(maxsize=4)
        to_send: asyncio.Queue[tuple[Item, Encoded] | None] = asyncio.Queue(
            maxsize=self.options.concurrency
        )
        tally = Tally()
        lister = threading.Thread(
            target=self._list, args=(inputs, tally, listed, loop), daemon=True, name="mmkit-list"
        )
        lister.start()
        senders = [self._spawn(self._sender(to_send)) for _ in range(self.options.concurrency)]
        encoding = asyncio.Semaphore(2 * self.workers + 8)
        while (batch := await listed.get()) is not _DONE:
            for entry in batch:
                self.summary.items += 1
                if isinstance(entry, Problem):
                    self._problem(entry)
                    continue
                job, done_hash = self._job(entry)
                await encoding.acquire()
                self._spawn(self._encode(job, done_hash, encoding, to_send))
        self.summary.not_media = tally.not_media
        self.summary.unsupported = dict(tally.unsupported)
        if self.progress is not None:
            self.progress.listed(self.summary.items)
        for _ in range(2 * self.workers + 8):  # every encode task has handed its item on
            await encoding.acquire()
        for _ in senders:
            await to_send.put(_DONE)
        await asyncio.gather(*senders)

    def _list(
        self,
        inputs: list[str | os.PathLike[str]],
        tally: Tally,
        listed: asyncio.Queue[list[Item | Problem] | None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """The listing thread: walks folders and reads file heads, off the loop."""
        seen: set[str] = set()
        batch: list[Item | Problem] = []
        count = 0
        first = time.monotonic()
        try:
            options = self.options
            for entry in expand(inputs, tally, options.manifest_root, options.max_manifest_line):
                if self.options.limit is not None and count >= self.options.limit:
                    break
                if entry.id in seen:
                    self.summary.duplicates += 1
                    continue
                seen.add(entry.id)
                count += 1
                if not batch:
                    first = time.monotonic()
                batch.append(entry)
                if len(batch) >= _BATCH or time.monotonic() - first > 0.05:
                    if not self._hand_over(batch, listed, loop):
                        return
                    batch = []
        except MmkitError as exc:  # a manifest that cannot be read stops the listing, not the run
            self.summary.input_errors.append(str(exc))
            batch.append(Problem(_INPUTS, _INPUTS, type(exc).__name__, str(exc)))
        except BaseException as exc:  # a bug: the run must end, not wait for the next batch
            with contextlib.suppress(RuntimeError):  # the loop is already gone
                loop.call_soon_threadsafe(self._crashed, "listing the inputs", exc)
            return
        if batch and not self._hand_over(batch, listed, loop):
            return
        self._hand_over(_DONE, listed, loop)

    def _hand_over(
        self,
        batch: list[Item | Problem] | None,
        listed: asyncio.Queue[list[Item | Problem] | None],
        loop: asyncio.AbstractEventLoop,
    ) -> bool:
        future = asyncio.run_coroutine_threadsafe(listed.put(batch), loop)
        while True:
            try:
                future.result(timeout=0.2)
                return True
            except concurrent.futures.TimeoutError:
                if self.stop_listing.is_set():
                    future.cancel()
                    return False
            except (concurrent.futures.CancelledError, RuntimeError):  # the loop is gone
                return False

    def _job(self, item: Item) -> tuple[Job, str | None]:
        """The job for an item, and the hash it has in the output if it is to be skipped when
        unchanged (captioned, or failed for its own sake when failures are not being retried;
        the store gives no hash for a record that asked another thing or failed transiently).
        A dry run encodes every item, and counts those a run would skip."""
        done_hash = None
        if self.store is not None:
            found = self.store.status(item.id)
            if found is not None:
                ok, digest = found
                if ok or not self.options.retry_failed:
                    done_hash = digest
        return Job(item, None, None if self.options.dry_run else done_hash), done_hash

    async def _encode(
        self,
        job: Job,
        done_hash: str | None,
        slot: asyncio.Semaphore,
        to_send: asyncio.Queue[Any],
    ) -> None:
        try:
            item = job.item
            try:
                if item.is_url:
                    job = Job(item, await self._fetch(item), job.done_hash)
                outcome = await self._in_pool(job)
            except MmkitError as exc:
                outcome = Failed(None, type(exc).__name__, str(exc))
            except concurrent.futures.process.BrokenProcessPool as exc:
                outcome = Failed(None, "BrokenProcessPool", f"{item.source}: {exc}")
            if self.options.dry_run and done_hash is not None and outcome.hash == done_hash:
                self.summary.skipped += 1  # what a run would skip; reported all the same
            if isinstance(outcome, Unchanged):
                self.summary.skipped += 1
                self._step()
            elif isinstance(outcome, Failed):
                # content never read (a fetch, the pool): nothing is known of the item, and a
                # rerun, which cannot match a hash, tries it again
                unread = outcome.hash is None
                failure = self._failure(
                    item, outcome.hash, outcome.type, outcome.message, 0, transient=unread
                )
                self._finish(failure)
            elif self.options.dry_run:
                self._dry(item, outcome)
            else:
                await to_send.put((item, outcome))
        finally:
            slot.release()

    async def _fetch(self, item: Item) -> bytes:
        from mmkit.media.fetch import afetch

        return (await afetch(item.source, self.fetch_policy)).data

    async def _in_pool(self, job: Job) -> Outcome:
        loop = asyncio.get_running_loop()
        if self.pool is None:
            from mmkit.caption.encode import encode_job

            return await asyncio.to_thread(encode_job, job, self.settings)
        from mmkit.caption.encode import run_job

        return await loop.run_in_executor(self.pool, run_job, job)

    async def _sender(self, to_send: asyncio.Queue[tuple[Item, Encoded] | None]) -> None:
        while (entry := await to_send.get()) is not _DONE:
            item, encoded = entry
            self._finish(await self._send(item, encoded))

    async def _send(self, item: Item, encoded: Encoded) -> Record:
        """Send until answered, refused, or out of tries; every 429 slows the whole run."""
        summary, policy = self.summary, self.policy
        attempts = rate_limited = failures = 0
        while True:
            started = await self.limit.acquire()
            attempts += 1
            summary.requests += 1
            if attempts > 1:
                summary.retries += 1
            try:
                reply = await self.client.chat(encoded.prepared, max_retries=0)
            except TransportError as exc:
                congested = isinstance(exc, RateLimitError) or exc.retry_after is not None
                wait = exc.retry_after if exc.retry_after is not None else self._backoff(1)
                self.limit.release(started, congested=congested, retry_after=wait)
                if isinstance(exc, RateLimitError):
                    summary.rate_limited += 1
                    rate_limited += 1
                    if rate_limited <= self.options.max_rate_limited:
                        continue  # the limit holds every sender until the Retry-After is over
                elif _retryable(exc) and failures < self.options.retries:
                    failures += 1
                    await asyncio.sleep(min(wait, policy.max_retry_after))
                    continue
                return self._failure(
                    item,
                    encoded.hash,
                    type(exc).__name__,
                    str(exc),
                    attempts,
                    transient=_not_the_items(exc),
                )
            except MmkitError as exc:  # refused before sending (a parameter the provider lacks)
                self.limit.release(started)
                return self._failure(item, encoded.hash, type(exc).__name__, str(exc), attempts)
            latency = time.monotonic() - started
            self.limit.release(started)
            usage = reply.usage
            summary.prompt_tokens += usage.prompt_tokens or 0
            summary.completion_tokens += usage.completion_tokens or 0
            summary.done += 1
            self._estimate(encoded)  # beside what the server counted, in the summary
            return Record(
                id=item.id,
                source=item.source,
                hash=encoded.hash,
                model=self.options.model,
                prompt=encoded.prompt,
                caption=reply.text,
                usage={
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                    "total_tokens": usage.total_tokens,
                },
                latency=round(latency, 4),
                attempts=attempts,
                asked=self.asked,
            )

    def _backoff(self, tries: int) -> float:
        """The client's own exponential full jitter (RetryPolicy's backoff and cap)."""
        policy = self.policy
        return random.uniform(0, min(policy.max_backoff, policy.backoff * 2**tries))

    # --- results -------------------------------------------------------------------------------

    def _problem(self, problem: Problem) -> None:
        # Recorded before (with --retry-failed its failure was dropped at open, so it is not);
        # an input that cannot be read is said again every run, never skipped as done
        known = self.store is not None and self.store.status(problem.id) is not None
        if known and problem.id != _INPUTS:
            self.summary.skipped += 1
            self._step()
            return
        record = Record(
            problem.id,
            problem.source,
            None,
            self.options.model,
            None,
            error={"type": problem.type, "message": problem.message, "transient": False},
            asked=self.asked,
        )
        self.summary.failed[problem.type] = self.summary.failed.get(problem.type, 0) + 1
        self._finish(record)

    def _failure(
        self,
        item: Item,
        digest: str | None,
        kind: str,
        message: str,
        attempts: int,
        transient: bool = False,
    ) -> Record:
        """A failed item's record. `transient`: the failure says nothing about the item, and a
        plain rerun tries it again (else it is done unless --retry-failed)."""
        self.summary.failed[kind] = self.summary.failed.get(kind, 0) + 1
        self.summary.transient += transient
        return Record(
            id=item.id,
            source=item.source,
            hash=digest,
            model=self.options.model,
            prompt=item.prompt or self.options.prompt or _kind_prompt(item),
            error={"type": kind, "message": message, "transient": transient},
            attempts=attempts,
            asked=self.asked,
        )

    def _estimate(self, encoded: Encoded) -> None:
        """Add what the item's request costs before it is sent: its media by the model's rule
        (else OpenAI's estimate), its text at about four characters a token."""
        summary = self.summary
        text = len(encoded.prompt) + len(self.options.system or "")
        summary.estimated_tokens += encoded.media_tokens + (text + 3) // 4
        summary.media_tokens += encoded.media_tokens
        if encoded.token_model is not None:
            summary.token_model = encoded.token_model

    def _dry(self, item: Item, encoded: Encoded) -> None:
        summary = self.summary
        summary.done += 1
        summary.source_bytes += encoded.source_bytes
        summary.sent_bytes += len(encoded.prepared.content)
        self._estimate(encoded)
        if self.report is not None:  # one line an item: what it would send and cost
            counted = (
                f"by {encoded.token_model}'s rule" if encoded.token_model else "OpenAI's estimate"
            )
            self.report(
                f"{item.id}: {encoded.kind}, {len(encoded.prepared.content):,} bytes, "
                f"{encoded.media_tokens:,} media tokens ({counted})"
            )
        self._step()

    def _finish(self, record: Record) -> None:
        if self.store is not None and not self.options.dry_run:
            self.store.append(record)
        if self.emit is not None:
            self.emit(record)
        self._step()

    def _step(self) -> None:
        if self.progress is not None:
            self.progress.step()

    # --- plumbing ------------------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._reap)
        return task

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._crashed("a captioning task", task.exception())

    def _crashed(self, where: str, exc: BaseException | None) -> None:
        """A bug in a stage (a thread or a task) must end the run loudly, not hang it."""
        if self.crash is None:
            self.crash = _internal_error(where, exc)
        for other in list(self.tasks):
            other.cancel()
        if self.main is not None:
            self.main.cancel()

    def shutdown(self, wait: bool = True) -> None:
        """Stop every stage; `wait` for the workers to exit (not after Ctrl-C: they may be in
        the middle of a long decode, and the output is already safe)."""
        self.stop_listing.set()
        for task in list(self.tasks):
            task.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=wait, cancel_futures=True)


def _internal_error(where: str, exc: BaseException | None) -> str:
    return (
        f"internal error while {where}: {exc!r}; the run stopped (the records written so far "
        "are kept). This is a bug in mmkit: please report it"
    )


def _kind_prompt(item: Item) -> str | None:
    from mmkit.caption.items import KINDS

    return KINDS[item.kind].prompt if item.kind in KINDS else None


# Answers that blame the credentials, the model or the route, or the server's load: any item
# would have got them. Other 4xx (400, 413, 415, 422...) are the server's verdict on the request.
_NOT_THE_ITEMS_STATUSES = frozenset({401, 403, 404, 408, 429})


def _not_the_items(exc: TransportError) -> bool:
    """A failure that says nothing about the item: connection refused or reset, a timeout, a
    5xx or 429 after the retries, wrong credentials or model. A plain rerun tries it again."""
    if exc.status is None or isinstance(
        exc,
        (TimeoutError, RateLimitError, ServerError, AuthError),  # a key Gemini answers 400
    ):
        return True
    return exc.status >= 500 or exc.status in _NOT_THE_ITEMS_STATUSES


def _retryable(exc: TransportError) -> bool:
    from mmkit.transport.retry import is_retryable

    # each request has a --timeout of its own (the client gives up on a used-up total)
    return isinstance(exc, TimeoutError) or is_retryable(exc)


def _pool(workers: int, settings: EncodeSettings) -> concurrent.futures.Executor | None:
    """Encoding processes. forkserver: safe beside the threads a run has (the listing thread, an
    in-process echo server); started without re-running the user's `__main__` (see pool.py)."""
    if workers == 0:
        return None
    from mmkit.caption.encode import init_worker
    from mmkit.caption.pool import worker_context

    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=worker_context(),
        initializer=init_worker,
        initargs=(settings, os.getpid()),
    )


def _fetch_policy(options: CaptionOptions) -> Any:
    from mmkit.media.fetch import FetchPolicy

    return FetchPolicy(allow_private=options.allow_private_urls)
