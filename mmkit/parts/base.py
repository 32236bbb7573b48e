"""What every media part shares: bytes, a file or a URL, where it came from, the header probe's
facts, the guarded fetch of a URL on first need, and one encoding per target cached with every
change it made recorded. A new kind of part, or an option every kind takes, is written here once.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from mmkit.errors import InvalidOptionError, MmkitError
from mmkit.media.source import check_wire_url
from mmkit.offload import needs_work

if TYPE_CHECKING:
    from typing_extensions import Self

    from mmkit.media.fetch import FetchPolicy


class _Encoding(Protocol):
    @property
    def conversions(self) -> tuple[str, ...]: ...


E = TypeVar("E", bound=_Encoding)


def options_error(kind: str, exc: ValidationError) -> InvalidOptionError:
    """Pydantic's complaint about a part's options, as mmkit's own error naming each option."""
    problems = "; ".join(
        f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return InvalidOptionError(f"{kind} options are invalid: {problems}")


def refuse_unknown(
    kind: str, fields: dict[str, Any], options: Sequence[str], known: Sequence[str] | None = None
) -> None:
    """`Image("cat.jpg", maxside=64)` must not be silently ignored: name the keyword and, when
    one is close, the right one. `known` is every name accepted (defaults to `options`)."""
    names = list(known or options)
    unknown = [name for name in fields if name not in names]
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}=?" if close else f"; options are {', '.join(options)}"
    raise InvalidOptionError(f"{kind} got an unknown keyword {name}={fields[name]!r}{hint}")


def check_number(
    where: str,
    name: str,
    value: float | None,
    *,
    above: float | None = None,
    least: float | None = None,
    most: float | None = None,
    whole: bool = False,
) -> None:
    """Refuse a numeric argument that is not finite, not a whole number when one is wanted, or
    out of range (> `above`, ≥ `least`, ≤ `most`), naming it: `frames(fps=nan)` must not reach
    arithmetic that raises ValueError or OverflowError, or loops for ever."""
    if value is None:
        return
    wanted = "a whole number" if whole else "a finite number"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOptionError(f"{where}: {name} must be {wanted}, not {value!r}")
    if not math.isfinite(value) or (whole and value != int(value)):
        raise InvalidOptionError(f"{where}: {name} must be {wanted}, not {value!r}")
    bounds = []
    if above is not None and not value > above:
        bounds.append(f"> {above:g}")
    if least is not None and not value >= least:
        bounds.append(f"≥ {least:g}")
    if most is not None and not value <= most:
        bounds.append(f"≤ {most:,g}")
    if bounds:
        raise InvalidOptionError(f"{where}: {name} must be {' and '.join(bounds)}, not {value!r}")


class MediaPart(BaseModel):
    """The base of Image, Audio and Video: a source (bytes, a URL; a Video also a file or a list
    of frames), the probe's facts, and its encodings, one per target, each recording what it
    changed."""

    model_config = ConfigDict(
        extra="forbid",
        ser_json_bytes="base64",
        val_json_bytes="base64",
        validate_default=False,
        allow_inf_nan=False,  # every numeric option finite: nan and inf are refused by name
    )

    data: bytes | None = Field(default=None, repr=False)
    url: str | None = None
    mime: str | None = None
    origin: str = ""
    inline: bool | None = None
    # The model the part is sent to (mmkit.models): encoded at its processor's size; an id mmkit
    # has no rule for changes nothing.
    model: str | None = None
    # What was changed at construction (a declared type corrected by the bytes, ...).
    notes: list[str] = Field(default_factory=list)

    _info: Any = PrivateAttr(default=None)  # the media module's header facts
    _encoded: dict[Any, Any] = PrivateAttr(default_factory=dict)
    _conversions: dict[str, None] = PrivateAttr(default_factory=dict)  # ordered set
    # Each target's latest encoding: name -> (cache key, its changes); "" for an unnamed caller.
    # Kept per target so one target's resize is never reported as done for another; the last
    # entry is the latest encoding.
    _sent: dict[str, tuple[Any, tuple[str, ...]]] = PrivateAttr(default_factory=dict)
    _fetched: bytes | None = PrivateAttr(default=None)

    kind: ClassVar[str] = "media"  # "image", "audio", "video": the word errors and messages use
    sources: ClassVar[str] = "a path, bytes or URL"  # what "needs a source" lists

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, url: str | None) -> str | None:
        # mmkit's own JSON is data too: no file://, javascript: or other schemes reach a receiver
        return None if url is None else check_wire_url(url, cls.kind)

    @model_validator(mode="after")
    def _named(self) -> Self:
        if not self.origin and self.url is not None:  # rebuilt from JSON that had no origin
            from mmkit.media.fetch import redact_url

            self.origin = redact_url(self.url)
        return self

    # --- building ------------------------------------------------------------------------------

    def _validate(self, fields: dict[str, Any]) -> None:
        try:
            super().__init__(**fields)
        except ValidationError as exc:
            raise options_error(type(self).__name__, exc) from None

    def _init_fields(self, fields: dict[str, Any]) -> None:
        self._validate(fields)
        self._check_source()

    def _check_source(self) -> None:
        if self._held() is None and self.url is None:
            raise InvalidOptionError(f"{type(self).__name__} needs a source: {self.sources}")

    # --- what a user reads ---------------------------------------------------------------------

    @property
    def nbytes(self) -> int | None:
        """Size of the source bytes (None for a URL not fetched yet)."""
        return None if self.data is None else len(self.data)

    @property
    def conversions(self) -> list[str]:
        """What changed on the way out: construction notes, then the latest encoding's changes,
        each prefixed by the target it was for ("to openai: resized 4000×3000 → 2048×1536")."""
        latest = next(reversed(self._sent), None)
        return [*self.notes, *self._conversions, *self._changes_for(latest)]

    @property
    def encodings(self) -> dict[str, list[str]]:
        """Each target this part was encoded for, oldest first, with what its encoding changed
        (an empty list: sent as it is)."""
        return {name: list(changes) for name, (_, changes) in self._sent.items() if name}

    def conversions_for(self, target: str) -> list[str]:
        """What changed in what one target received: construction notes, then that target's
        latest encoding's changes (unprefixed: the target is the one asked about)."""
        if target not in self._sent:
            done = ", ".join(name for name in self._sent if name) or "none yet"
            raise InvalidOptionError(
                f"{self.kind} {self.origin} was not encoded for {target!r} (encoded for: {done}); "
                "convert a message holding it for that target first"
            )
        return [*self.notes, *self._conversions, *self._sent[target][1]]

    def describe(self) -> str:
        """One line saying what the part holds."""
        raise NotImplementedError

    def tokens(self, model: str | None = None, fetch: FetchPolicy | None = None) -> int:
        """What this part costs `model` (default: its own `model=`) in tokens, counted on what
        mmkit sends it; UnknownModelError for a model mmkit has no rule for (nothing guessed)."""
        raise NotImplementedError

    def _model_for(self, model: str | None) -> str:
        chosen = model or self.model
        if chosen is None:
            raise InvalidOptionError(
                f"{self.kind} {self.origin}: tokens for which model? pass tokens(model=...) or "
                f"build the part with model=..."
            )
        from mmkit.models.plan import family_of

        family_of(chosen)  # an unknown model is said at once
        return chosen

    def _token_note(self) -> str | None:
        """'≈ 256 tokens for google/gemma-3-4b-it' for the notebook view of a part built with
        model=, when its cost is known without a download (never a fetch in a repr)."""
        if self.model is None or self._held() is None:
            return None
        try:
            return f"{self.tokens():,} tokens for {self.model}"
        except MmkitError:
            return None

    def fetch(self, policy: FetchPolicy | None = None) -> Self:
        """Download a URL part now through the guarded fetch (bytes cached on the part)."""
        self._source_and_info(policy)
        return self

    # --- what each kind says about itself ------------------------------------------------------

    def _held(self) -> Any:
        """The source in hand (bytes; a Video's file), or None for a URL not fetched yet."""
        return self.data if self.data is not None else self._fetched

    def _probe(self, source: Any) -> Any:
        """The media module's header probe of `source`."""
        raise NotImplementedError

    def _learn(self, info: Any) -> None:
        """Copy the probe's facts onto the fields a user reads."""
        raise NotImplementedError

    # --- shared machinery ----------------------------------------------------------------------

    def _know(self, info: Any) -> None:
        self._info = info
        self._learn(info)

    def _source_and_info(self, policy: FetchPolicy | None) -> tuple[Any, Any]:
        """The source (fetched through the guarded fetch on first need) and its probe."""
        source = self._held()
        if source is None:
            assert self.url is not None
            from mmkit.media.fetch import FetchPolicy, fetch  # HTTP only when a URL is inlined

            source = fetch(self.url, policy or FetchPolicy()).data
            self._info = None
            self._fetched = source
        if self._info is None:
            self._know(self._probe(source))
        return source, self._info

    def _encoded_once(
        self, key: Any, make: Callable[[], E], target: str | None = None, record: bool = True
    ) -> E:
        """`make()` once per key (a target's limits and the part's options), its changes recorded
        as what `target` (a wire format's name) received; `record=False` for an estimate (the
        tokens an encoding would cost), which nothing received."""
        found: E | None = self._encoded.get(key)
        if found is None:
            needs_work()
            found = make()
            self._encoded[key] = found
        if not record:
            return found
        if target is None and any(seen == key for seen, _ in self._sent.values()):
            return found  # a caller re-reading an encoding a target already received
        name = target or ""
        self._sent.pop(name, None)  # re-inserted: the order says which was encoded last
        self._sent[name] = (key, tuple(found.conversions))
        return found

    def _shown(self) -> list[str]:
        """What the notebook view lists: construction notes, then every target's encoding, each
        named ("to bytez: sent as it is" when it changed nothing)."""
        out = [*self.notes, *self._conversions]
        for name in self._sent:
            named = self._changes_for(name)
            out.extend(named if named or not name else [f"to {name}: sent as it is"])
        return out

    def _changes_for(self, name: str | None) -> list[str]:
        if name is None or name not in self._sent:
            return []
        prefix = f"to {name}: " if name else ""
        return [prefix + change for change in self._sent[name][1]]

    def _note(self, text: str) -> None:
        self._conversions[text] = None

    # --- values --------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    def __str__(self) -> str:
        return repr(self)

    __hash__ = None  # type: ignore[assignment]  # mutable caches: not hashable
