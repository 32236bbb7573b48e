"""What a run did, counted as it goes: the summary `run()` returns and the CLI prints."""

from __future__ import annotations

from dataclasses import dataclass, field

# What `mmkit caption` exits with, and `Summary.exit_code` says (README, "Exit status").
EXIT_OK = 0  # every item captioned or skipped
EXIT_FAILED = 1  # some item failed (its record says why)
EXIT_USAGE = 2  # bad flags or configuration: a missing input, an unreadable manifest
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


@dataclass
class Summary:
    """Counts for one run.

    items: media items met; done: captioned in this run (a dry run: encoded); skipped: already
    in the output with the same content, asked the same (a dry run: what a run would skip);
    failed: by error type; transient: those of the failures that say nothing about the item
    (connection, timeout, 5xx or 429 after the retries), which a plain rerun tries again;
    not_media/unsupported: files skipped in folders and globs; duplicates: ids met twice in the
    inputs; requests: HTTP requests sent; retries: requests that repeated an item's (429s
    included); rate_limited: 429 answers; tokens: as the server counted.
    dry_run: nothing sent; `sent_bytes` and `estimated_tokens` say what would have been.
    estimated_tokens: the input tokens the requests cost before sending (a run: beside what the
    server counted): `media_tokens` by `token_model`'s published rule when mmkit knows the model
    (mmkit.models), else OpenAI's estimate, and the text at about four characters a token.
    input_errors: inputs that stopped being read (a manifest that turned out unreadable).
    exit_code: 0 all captioned or skipped, 1 an item failed, 2 an input error, 130 interrupted.
    """

    out: str = ""
    dry_run: bool = False
    items: int = 0
    done: int = 0
    skipped: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    transient: int = 0
    not_media: int = 0
    unsupported: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    source_bytes: int = 0
    sent_bytes: int = 0
    estimated_tokens: int = 0
    media_tokens: int = 0
    token_model: str | None = None
    elapsed: float = 0.0
    interrupted: bool = False
    input_errors: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(self.failed.values())

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.input_errors:
            return EXIT_USAGE
        return EXIT_FAILED if self.failures else EXIT_OK

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __str__(self) -> str:
        rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
        lines = [
            f"{'dry run: encoded' if self.dry_run else 'captioned'}: {self.done:,} of "
            f"{self.items:,} items"
            f" in {self.elapsed:.1f} s ({rate:.1f}/s)"
            + (" — interrupted" if self.interrupted else ""),
            ("a run would skip (already done): " if self.dry_run else "skipped (already done): ")
            + f"{self.skipped:,}",
            f"failed: {self.failures:,}"
            + (
                f" ({self.transient:,} not the item's fault: a plain rerun tries them again)"
                if self.transient
                else ""
            )
            + "".join(f"\n  {name}: {n:,}" for name, n in sorted(self.failed.items())),
        ]
        lines += [f"input error: {message}" for message in self.input_errors]
        if self.not_media or self.unsupported or self.duplicates:
            other = [f"not media: {self.not_media:,}"]
            other += [f"{mime}: {n:,}" for mime, n in sorted(self.unsupported.items())]
            if self.duplicates:
                other.append(f"duplicate ids: {self.duplicates:,}")
            lines.append("files left out: " + ", ".join(other))
        counted = f"by {self.token_model}'s rule" if self.token_model else "OpenAI's estimate"
        estimate = (
            f"{self.estimated_tokens:,} input tokens ({self.media_tokens:,} media, {counted})"
        )
        if self.dry_run:
            lines.append(
                f"would send: {self.sent_bytes:,} bytes of requests for {self.source_bytes:,} "
                f"bytes of media, about {estimate}"
            )
        else:
            lines.append(
                f"requests: {self.requests:,}, retries: {self.retries:,} "
                f"(rate limited: {self.rate_limited:,})"
            )
            lines.append(
                f"tokens: {self.tokens:,} (prompt {self.prompt_tokens:,}, "
                f"completion {self.completion_tokens:,}); estimated before sending: {estimate}"
            )
        if self.out and not self.dry_run:
            lines.append(f"output: {self.out}")
        return "\n".join(lines)
