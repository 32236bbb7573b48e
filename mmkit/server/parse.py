"""Check a chat body the way a strict server does and plan what to decode.

`plan_openai` / `plan_bytez` walk the messages on the event loop (cheap structural checks, text
token counts) and leave each inline media part as a `MediaJob`; `Plan.decode` runs those jobs
(base64, magic bytes, the real decoders) and belongs in a worker thread. Every refusal is a
`Rejection` naming the part, e.g. "messages[1].content[2]: image is corrupt or truncated".

Token counts (`Plan.prompt_tokens`): whitespace-separated words in every text part of every
message, plus 85 per image, 50 per audio and 200 per video part (inline or URL); files count 0.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import pybase64

from mmkit.errors import MmkitError
from mmkit.media.sniff import normalize_mime, short_name, sniff
from mmkit.server.answer import describe_text
from mmkit.server.inspect import describe_audio, describe_image, describe_video
from mmkit.server.replies import Rejection

Kind = Literal["image", "audio", "video", "file"]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Roles whose content may be null or absent (tool calls, function results).
_NULLABLE_ROLES = frozenset({"assistant", "tool", "function"})
TOKENS_PER = {"image": 85, "audio": 50, "video": 200, "file": 0}
OPENAI_PART_TYPES = ("text", "image_url", "input_audio", "video_url", "audio_url", "file")
BYTEZ_PART_TYPES = ("text", "image", "audio", "video")
# What OpenAI's own API decodes; anything else is "an unsupported image".
OPENAI_IMAGE_MIMES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_INPUT_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg"}
_DETAILS = frozenset({"auto", "low", "high"})
# Containers whose MIME major type is a matter of taste (an m4a is often brand "isom").
_EITHER_MAJOR = frozenset({"mp4", "webm", "ogg", "3gpp", "quicktime"})
_DESCRIBERS: dict[str, Callable[[bytes, str], str]] = {
    "image": describe_image,
    "audio": describe_audio,
    "video": describe_video,
}


@dataclass
class MediaJob:
    """One inline media part still to decode: base64 text, and what its sender claimed."""

    kind: Kind
    where: str
    payload: str
    declared: str | None = None
    expected: str | None = None  # input_audio's `format`, as a MIME type
    allowed: frozenset[str] | None = None  # image types the API accepts (None: any)
    filename: str | None = None

    def run(self) -> str:
        data = _strict_base64(self.payload, self.where)
        mime = sniff(data)
        if self.kind == "file":
            return self._describe_file(data, mime)
        self._check_type(mime)
        try:
            return _DESCRIBERS[self.kind](data, self.where)
        except MmkitError as exc:
            raise Rejection(400, str(exc), "invalid_media") from None

    def _check_type(self, mime: str | None) -> None:
        what = self.kind
        if mime is None:
            raise Rejection(
                400, f"{self.where}: the bytes are not a known {what} format", f"invalid_{what}"
            )
        if self.declared and not same_type(self.declared, mime):
            raise Rejection(
                400,
                f"{self.where}: declared {self.declared} but the bytes are {mime}",
                "mime_type_mismatch",
            )
        if self.expected and not same_type(self.expected, mime):
            raise Rejection(
                400,
                f"{self.where}: input_audio.format is {short_name(self.expected)!r} but the "
                f"bytes are {short_name(mime)}",
                "invalid_value",
            )
        major = mime.split("/", 1)[0]
        fits = major == what or (what == "audio" and major == "video")
        if not fits:
            raise Rejection(400, f"{self.where}: {what} part holds {mime}", f"invalid_{what}")
        if self.allowed is not None and mime not in self.allowed:
            names = sorted(short_name(m) for m in self.allowed)
            raise Rejection(
                400,
                f"{self.where}: you uploaded an unsupported image ({short_name(mime)}); "
                f"use one of {names}",
                "invalid_image_format",
            )

    def _describe_file(self, data: bytes, mime: str | None) -> str:
        if self.declared and mime and not same_type(self.declared, mime):
            raise Rejection(
                400,
                f"{self.where}: declared {self.declared} but the bytes are {mime}",
                "mime_type_mismatch",
            )
        kind = mime.split("/", 1)[0] if mime else ""
        if kind in _DESCRIBERS:
            try:
                return _DESCRIBERS[kind](data, self.where)
            except MmkitError as exc:
                raise Rejection(400, str(exc), "invalid_media") from None
        name = f' "{self.filename}"' if self.filename else ""
        return f"file{name} {len(data):,} bytes"


@dataclass
class Plan:
    """What a request holds: descriptions so far, jobs to decode, and token counts."""

    items: list[str | MediaJob] = field(default_factory=list)
    last_user: range = range(0)
    prompt_tokens: int = 0

    @property
    def jobs(self) -> list[MediaJob]:
        return [item for item in self.items if isinstance(item, MediaJob)]

    def decode(self) -> None:
        """Decode every job (CPU-bound: run in a thread); items become descriptions."""
        for index, item in enumerate(self.items):
            if isinstance(item, MediaJob):
                self.items[index] = item.run()

    def descriptions(self) -> list[str]:
        """The last user message, part by part (after `decode`)."""
        return [
            item
            for item in self.items[self.last_user.start : self.last_user.stop]
            if isinstance(item, str)
        ]


# --- OpenAI ------------------------------------------------------------------------------------


def plan_openai(body: Mapping[str, Any]) -> Plan:
    return _plan(body, _openai_part)


def _openai_part(part: Mapping[str, Any], kind: str, where: str, plan: Plan) -> str | MediaJob:
    if kind == "text":
        return _text(part.get("text"), where, plan)
    if kind == "image_url":
        spec = _url_spec(part, "image_url", where)
        detail = spec.get("detail")
        if detail is not None and (not isinstance(detail, str) or detail not in _DETAILS):
            raise Rejection(
                400, f"{where}.image_url.detail must be 'auto', 'low' or 'high'", "invalid_value"
            )
        return _url_item("image", spec["url"], where, plan, OPENAI_IMAGE_MIMES)
    if kind in ("video_url", "audio_url"):
        spec = _url_spec(part, kind, where)
        return _url_item("video" if kind == "video_url" else "audio", spec["url"], where, plan)
    if kind == "input_audio":
        audio = part.get("input_audio")
        if not isinstance(audio, Mapping) or not isinstance(audio.get("data"), str):
            raise Rejection(
                400, f"{where}.input_audio needs a 'data' string (raw base64)", "invalid_value"
            )
        fmt = audio.get("format")
        if not isinstance(fmt, str) or fmt not in _INPUT_AUDIO_FORMATS:
            raise Rejection(
                400,
                f"{where}.input_audio.format is {fmt!r}; it must be 'wav' or 'mp3' (the short "
                "name, not a MIME type)",
                "invalid_value",
            )
        plan.prompt_tokens += TOKENS_PER["audio"]
        return MediaJob("audio", where, audio["data"], expected=_INPUT_AUDIO_FORMATS[fmt])
    if kind == "file":
        return _file_part(part, where)
    raise AssertionError(kind)  # _plan only passes known types


def _file_part(part: Mapping[str, Any], where: str) -> str | MediaJob:
    spec = part.get("file")
    if not isinstance(spec, Mapping):
        raise Rejection(400, f"{where}.file must be an object", "invalid_value")
    filename = spec.get("filename")
    filename = filename if isinstance(filename, str) else None
    file_data = spec.get("file_data")
    if isinstance(file_data, str):
        declared, payload = _split_data_uri(file_data, f"{where}.file.file_data")
        return MediaJob("file", where, payload, declared=declared, filename=filename)
    file_id = spec.get("file_id")
    if isinstance(file_id, str):
        return f'file id "{file_id[:40]}"'
    raise Rejection(
        400, f"{where}.file needs 'file_data' (a data URI) or 'file_id'", "invalid_value"
    )


def _url_spec(part: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    spec = part.get(key)
    if isinstance(spec, str):  # the older shorthand {"image_url": "https://…"}
        spec = {"url": spec}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("url"), str):
        raise Rejection(400, f"{where}.{key} needs a 'url' string", "invalid_value")
    return spec


# --- Bytez -------------------------------------------------------------------------------------


def plan_bytez(body: Mapping[str, Any]) -> Plan:
    return _plan(body, _bytez_part, known=BYTEZ_PART_TYPES)


def _bytez_part(part: Mapping[str, Any], kind: str, where: str, plan: Plan) -> str | MediaJob:
    if kind == "text":
        return _text(part.get("text"), where, plan)
    media: Kind = "image" if kind == "image" else "audio" if kind == "audio" else "video"
    url, inline = part.get("url"), part.get("base64")
    if isinstance(inline, str):
        if inline[:5].lower() == "data:":
            return _url_item(media, inline, where, plan)
        plan.prompt_tokens += TOKENS_PER[media]
        return MediaJob(media, where, inline)  # raw base64: the bytes decide the type
    if isinstance(url, str):
        return _url_item(media, url, where, plan)
    raise Rejection(400, f"{where}: a {kind} part needs a 'url' or 'base64' string")


# --- shared ------------------------------------------------------------------------------------

PartReader = Callable[[Mapping[str, Any], str, str, Plan], "str | MediaJob"]


def _plan(
    body: Mapping[str, Any], read_part: PartReader, known: tuple[str, ...] = OPENAI_PART_TYPES
) -> Plan:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise Rejection(400, "'messages' is required and must be an array", "invalid_value")
    if not messages:
        raise Rejection(400, "'messages' must not be empty", "invalid_value")
    plan = Plan()
    for m, message in enumerate(messages):
        where = f"messages[{m}]"
        if not isinstance(message, Mapping):
            raise Rejection(400, f"{where} must be an object", "invalid_value")
        role = message.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise Rejection(
                400, f"{where}.role is {role!r}; use one of {sorted(ROLES)}", "invalid_value"
            )
        start = len(plan.items)
        content = message.get("content")
        if isinstance(content, str):
            plan.items.append(_text(content, f"{where}.content", plan))
        elif isinstance(content, list):
            if not content:
                raise Rejection(
                    400,
                    f"{where}.content is an empty array; send at least one part",
                    "invalid_value",
                )
            for p, part in enumerate(content):
                plan.items.append(_part(part, f"{where}.content[{p}]", plan, read_part, known))
        elif content is not None:
            raise Rejection(
                400,
                f"{where}.content must be a string, an array of parts or null, not "
                f"{_json_type(content)}",
                "invalid_value",
            )
        elif role not in _NULLABLE_ROLES:
            raise Rejection(400, f"{where}.content is required for role {role!r}", "invalid_value")
        if role == "user":
            plan.last_user = range(start, len(plan.items))
    return plan


def _part(
    part: Any, where: str, plan: Plan, read_part: PartReader, known: tuple[str, ...]
) -> str | MediaJob:
    if not isinstance(part, Mapping):
        raise Rejection(400, f"{where} must be an object with a 'type'", "invalid_value")
    kind = part.get("type")
    if kind not in known:
        raise Rejection(
            400,
            f"{where}: unknown part type {kind!r}; known types are {', '.join(known)}",
            "invalid_value",
        )
    return read_part(part, kind, where, plan)


def _text(text: Any, where: str, plan: Plan) -> str:
    if not isinstance(text, str):
        raise Rejection(400, f"{where}: text must be a string", "invalid_value")
    plan.prompt_tokens += len(text.split())
    return describe_text(text)


def _url_item(
    kind: Kind, url: str, where: str, plan: Plan, allowed: frozenset[str] | None = None
) -> str | MediaJob:
    """A data URI becomes a job; an http(s) URL is described, never fetched (offline)."""
    plan.prompt_tokens += TOKENS_PER[kind]
    head = url[:8].lower()
    if head.startswith("data:"):
        declared, payload = _split_data_uri(url, where)
        return MediaJob(kind, where, payload, declared=declared, allowed=allowed)
    if head.startswith(("http://", "https://")):
        return f"{kind} URL {_without_query(url, where)}"
    raise Rejection(
        400, f"{where}: the {kind} URL must be http(s) or a base64 data: URI", "invalid_url"
    )


def _split_data_uri(uri: str, where: str) -> tuple[str | None, str]:
    header, sep, payload = uri.partition(",")
    fields = header[5:].split(";")
    if not sep or len(fields) < 2 or fields[-1].strip().lower() != "base64":
        raise Rejection(
            400, f"{where}: a data URI must look like 'data:<type>;base64,<data>'", "invalid_url"
        )
    return normalize_mime(fields[0]), payload


def _strict_base64(payload: str, where: str) -> bytes:
    """Strict like a real server: no whitespace, URL-safe letters or missing padding."""
    try:
        data = pybase64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Rejection(400, f"{where}: invalid base64 ({exc})", "invalid_base64") from None
    if not data:
        raise Rejection(400, f"{where}: the media is empty", "invalid_base64")
    return data


def _without_query(url: str, where: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise Rejection(400, f"{where}: the URL cannot be parsed", "invalid_url") from None
    if not host:
        raise Rejection(400, f"{where}: the URL has no host", "invalid_url")
    host = f"[{host}]" if ":" in host else host
    return urlunsplit((parts.scheme.lower(), host + port, parts.path, "", ""))


def same_type(declared: str, actual: str) -> bool:
    """Equal MIME types, or the same container under audio/ and video/ (audio/mp4, video/mp4)."""
    if declared == actual:
        return True
    d_major, _, d_sub = declared.partition("/")
    a_major, _, a_sub = actual.partition("/")
    return d_sub == a_sub and d_sub in _EITHER_MAJOR and {d_major, a_major} <= {"audio", "video"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__
