"""Resolve what a user holds (path, bytes, file, URL, data URI, base64 text) to bytes and an origin.

In-memory pixels and samples (PIL images, numpy arrays) belong to the media modules that know how
to encode them; this module only deals with byte-like inputs and names them for error messages.
"""

from __future__ import annotations

import binascii
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import pybase64

from mmkit.errors import BlockedURLError, InvalidMediaError, UnsupportedFormatError
from mmkit.media.sniff import normalize_mime, sniff

# Raw base64 as users paste it: the standard or URL-safe alphabet, padding, line breaks.
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/_\-=\s]+")
# Longer strings than this are never tried as paths (base64 payloads can be megabytes).
_MAX_PATH_LENGTH = 4096


@dataclass(frozen=True)
class Resolved:
    """Bytes (or a URL left for the target to fetch) plus where they came from."""

    data: bytes | None
    origin: str
    url: str | None = None
    declared_mime: str | None = None


def describe_bytes(data: bytes | bytearray | memoryview) -> str:
    return f"bytes ({len(data):,} bytes)"


def resolve(source: Any, what: str = "media") -> Resolved:
    """Turn a path, bytes, file object, URL, data URI or base64 text into a `Resolved`."""
    if isinstance(source, Resolved):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        origin = describe_bytes(source)
        return Resolved(_nonempty(bytes(source), origin, what), origin)
    if isinstance(source, os.PathLike):
        return _read_path(Path(os.fspath(source)), what)
    if isinstance(source, str):
        return _resolve_text(source, what)
    if hasattr(source, "read"):
        return _read_file(source, what)
    raise UnsupportedFormatError(
        f"cannot use {_shown(source)} (a {type(source).__name__}) as {what}: pass a path, "
        "bytes, a binary file "
        f"object, an http(s) URL, a data: URI or base64 text"
    )


def parse_data_uri(uri: str, what: str = "media") -> Resolved:
    """'data:image/png;base64,....' -> bytes and the declared type."""
    origin = f"data: URI ({len(uri):,} chars)"
    header, sep, payload = uri.partition(",")
    if not sep:
        raise InvalidMediaError(
            f"{what} {origin} has no ',' after its header; expected 'data:<type>;base64,<data>'"
        )
    fields = header[len("data:") :].split(";")
    declared = normalize_mime(fields[0]) if fields[0] else None
    if any(f.strip().lower() == "base64" for f in fields[1:]):
        data = decode_base64(payload, f"{what} {origin}")
    else:
        data = unquote_to_bytes(payload)
        if sniff(data) is None and _forgot_base64(payload):
            raise InvalidMediaError(
                f"{what} {origin} has no ';base64' in its header but its data is base64; "
                f"write it as 'data:{fields[0] or '<type>'};base64,<data>'"
            )
    return Resolved(_nonempty(data, origin, what), origin, declared_mime=declared)


def _forgot_base64(payload: str) -> bool:
    """Percent-encoded data that is really base64 of a known media type."""
    if len(payload) < 16 or not _BASE64_TEXT.fullmatch(payload):
        return False
    try:
        return sniff(decode_base64(payload[:64], "data")) is not None
    except InvalidMediaError:
        return False


def decode_base64(text: str, label: str) -> bytes:
    """Forgiving base64: line breaks, URL-safe alphabet and missing or extra padding are fixed."""
    compact = "".join(text.split()).replace("-", "+").replace("_", "/").rstrip("=")
    if len(compact) % 4 == 1:
        raise InvalidMediaError(
            f"{label} is not valid base64 (its length is impossible); "
            "check that the text was not cut off"
        )
    compact += "=" * (-len(compact) % 4)
    try:
        return pybase64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidMediaError(
            f"{label} is not valid base64 ({exc}); pass a path, bytes, a URL or a data: URI instead"
        ) from None


def _resolve_text(text: str, what: str) -> Resolved:
    if not text.strip():
        raise InvalidMediaError(
            f"{what} is an empty or blank string; pass a path, an http(s) "
            "URL, a data: URI or base64 text"
        )
    head = text[:16].lower()
    if head.startswith(("http://", "https://")):
        _check_url(text, what)
        return Resolved(None, _redact(text), url=text)
    if head.startswith("data:"):
        return parse_data_uri(text, what)
    if "://" in text[:32]:
        raise UnsupportedFormatError(
            f"{what} URL {_redact(text)} has a scheme mmkit does not fetch; use http(s), a "
            "data: URI, or download it and pass the path"
        )
    if len(text) <= _MAX_PATH_LENGTH and "\x00" not in text:
        try:
            path = Path(text).expanduser()
            if path.exists():
                return _read_path(path, what)
        except (OSError, RuntimeError):  # RuntimeError: '~name' where no such user exists
            pass
    if len(text) >= 16 and _BASE64_TEXT.fullmatch(text):
        label = f"base64 text ({len(text):,} chars)"
        return Resolved(_nonempty(decode_base64(text, f"{what} {label}"), label, what), label)
    shown = text if len(text) <= 80 else text[:77] + "..."
    raise InvalidMediaError(
        f"{what} {shown!r} is not an existing file, an http(s) URL, a data: URI or base64 "
        "text; check the path (relative to the working directory " + repr(os.getcwd()) + ")"
    )


def _check_url(url: str, what: str) -> None:
    """Refuse an http(s) URL no receiver could fetch: unparseable, no host, or a bad port."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number 0-65535
    except ValueError:
        host = None
    if not host:
        raise InvalidMediaError(
            f"{what} URL {_redact(url)} is not a valid http(s) URL (no host, or a malformed "
            "host or port); check the URL"
        )


def _read_path(path: Path, what: str) -> Resolved:
    origin = str(path)
    try:
        if path.is_char_device() or path.is_block_device() or path.is_fifo() or path.is_socket():
            # /dev/zero, /dev/stdin, a named pipe: reading may never end
            raise InvalidMediaError(
                f"{what} {origin} is a device, pipe or socket, not a regular file; pass a file"
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidMediaError(f"{what} file {origin} does not exist; check the path") from None
    except IsADirectoryError:
        raise InvalidMediaError(f"{what} {origin} is a folder, not a file; pass one file") from None
    except PermissionError:
        raise InvalidMediaError(f"{what} file {origin} cannot be read: permission denied") from None
    except OSError as exc:
        raise InvalidMediaError(f"{what} file {origin} cannot be read: {exc.strerror}") from None
    return Resolved(_nonempty(data, origin, what), origin)


def _read_file(handle: Any, what: str) -> Resolved:
    name = getattr(handle, "name", None)
    origin = f"file {name}" if isinstance(name, str) else f"file object {type(handle).__name__}"
    try:
        data = handle.read()
    except Exception as exc:  # any reader can fail in its own way: report it as ours
        raise InvalidMediaError(f"{what} {origin} could not be read: {exc}") from exc
    if isinstance(data, str):
        raise InvalidMediaError(f"{what} {origin} was opened in text mode; open it with 'rb'")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidMediaError(f"{what} {origin}.read() returned {type(data).__name__}, not bytes")
    return Resolved(_nonempty(bytes(data), origin, what), origin)


def _nonempty(data: bytes, origin: str, what: str) -> bytes:
    if not data:
        raise InvalidMediaError(f"{what} {origin} is empty; pass a file with content")
    return data


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --- values from the wire ----------------------------------------------------------------------

LOCAL_FILES_OPTION = "local_files=True"


def resolve_wire(
    value: Any,
    what: str,
    *,
    local_files: bool = False,
    base64_field: bool = False,
    opt_in: str = LOCAL_FILES_OPTION,
) -> Any:
    """A media source found in a dict (OpenAI/Bytez/HF messages, mmkit's own JSON, a manifest).

    This is the one trust gate for data. Code is trusted, data is not: `Image("cat.jpg")` reads
    the file because the user wrote it, but a dict may come from a request, a dataset or a model,
    so by default its value never touches the file system. What a dict may name:

    - an http(s) URL (left as a URL: the receiver or the guarded fetch takes it) or a data: URI;
    - raw base64 text, only when the field itself is a base64 field (`base64_field=True`: Bytez
      and HF `base64`, OpenAI `input_audio.data`);
    - bytes, or an in-memory object (a PIL image, numpy samples) which is returned as is for the
      part's constructor to judge: nothing is read from disk for them.

    Anything else (a path, `~/...`, `file://`, `javascript:`, an unknown scheme, a path-like or a
    file object) raises `BlockedURLError` naming `opt_in` and never looks at the disk first, so
    the error says nothing about which paths exist. With `local_files=True` (the caller vouches
    for the dicts, e.g. its own HF dataset naming paths) the value is resolved as a builder
    argument would be, paths and `file://` URLs included.

    Returns a `Resolved` for text and bytes (which every part constructor accepts as its source),
    else the in-memory object unchanged. Audio and Video parts parse through the same call.
    """
    if local_files:
        if isinstance(value, str) and value[:7].lower() == "file://":
            return _read_path(Path(unquote_to_bytes(urlsplit(value).path).decode()), what)
        return value if not isinstance(value, (str, bytes, os.PathLike)) else resolve(value, what)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return resolve(value, what)
    if isinstance(value, str):
        head = value[:16].lower().lstrip()
        if head.startswith(("http://", "https://", "data:")):
            return resolve(value.strip(), what)
        if base64_field and len(value) >= 16 and _BASE64_TEXT.fullmatch(value):
            label = f"base64 text ({len(value):,} chars)"  # decoded here: never tried as a path
            return Resolved(_nonempty(decode_base64(value, f"{what} {label}"), label, what), label)
        raise BlockedURLError(
            f"{what} {_wire_shown(value)} is not an http(s) URL or a data: URI"
            + (" or base64 text" if base64_field else "")
            + "; a message given as a dict never reads local files. If you trust these dicts "
            f"to name files, pass {opt_in} (mmkit.from_openai/from_bytez/from_hf or "
            f"to_openai/to_bytez/to_hf), or build the part in code (e.g. "
            f"{what.capitalize()}(path))"
        )
    if isinstance(value, os.PathLike) or hasattr(value, "read"):
        raise BlockedURLError(
            f"{what} {type(value).__name__} in a dict names a local file; a message given as a "
            f"dict never reads local files. If you trust these dicts, pass {opt_in} "
            f"(mmkit.from_openai/from_bytez/from_hf or to_openai/to_bytez/to_hf), or build the "
            f"part in code (e.g. {what.capitalize()}(path))"
        )
    return value


def check_wire_url(url: str, what: str) -> str:
    """An URL held in mmkit's own JSON shape (a part's `url` field): http(s) with a host only."""
    if not isinstance(url, str) or not url[:8].lower().startswith(("http://", "https://")):
        raise BlockedURLError(
            f"{what} url {_wire_shown(url)} is not an http(s) URL; a part's url field takes "
            "http(s) only (put images from files or data: URIs in the data field, or build the "
            "part in code)"
        )
    _check_url(url, what)
    return url


def _redact(url: str) -> str:
    """`fetch.redact_url`: the guarded fetch (sockets, address checks) loads on first need, not
    at `import mmkit`."""
    from mmkit.media.fetch import redact_url

    return redact_url(url)


def _wire_shown(value: Any) -> str:
    """A value from a dict, shown short and with any URL's query and credentials removed."""
    text = str(value)
    if "://" in text[:32]:
        text = _redact(text)
    return repr(text if len(text) <= 60 else text[:57] + "...")
