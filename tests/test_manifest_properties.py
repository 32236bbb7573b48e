"""Property tests for captioning manifests (JSONL, CSV, Parquet): any rows read back the same from
each format; the media column falls back source -> path -> url; a path is read iff it stays inside
the manifest root, and nothing outside it is ever opened; any bytes named as a manifest give items,
problems or an MmkitError, never another exception."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import make_images
from hypothesis import example, given, settings
from hypothesis import strategies as st

import mmkit.caption as caption
from mmkit.caption import manifest
from mmkit.caption.inputs import Problem, Tally, expand
from mmkit.caption.items import Item
from mmkit.errors import ConfigError, MmkitError
from mmkit.server import RunningServer

FAST = settings(max_examples=50, deadline=None)
FORMATS = (".jsonl", ".csv", ".parquet")
SOURCE_COLUMNS = ("source", "path", "url")  # the order the module docstring names them in

# Text a manifest cell can hold: any character (no lone surrogates: UTF-8 cannot carry them), with
# the ones CSV and JSON must quote or escape drawn often.
CHARS = st.one_of(st.sampled_from(",\"'\n\r\t \\;|\x00\ufeff"), st.characters(codec="utf-8"))
TEXT = st.text(CHARS, max_size=16)
FILLED = TEXT.filter(lambda s: s.strip() != "")  # a value that is not blank
BLANK = st.sampled_from(["", " ", "\t", " \n "])


def cleaned(value: str | None) -> str | None:
    """A cell as a reader gives it: trimmed, and None when nothing is left."""
    if value is None or not value.strip():
        return None
    return value.strip()


# --- writing manifests the way other tools do (json, csv, pyarrow), not through mmkit -----------


def write_jsonl(
    path: Path, rows: list[dict[str, Any]], blank_before: list[bool] | None = None
) -> None:
    lines = []
    for n, row in enumerate(rows):
        if blank_before is not None and blank_before[n]:
            lines.append("\n")
        lines.append(json.dumps(row) + "\n")
    path.write_text("".join(lines), encoding="utf-8")


def write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str | None]],
    encoding: str = "utf-8",
) -> None:
    with path.open("w", newline="", encoding=encoding) as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)  # None is written as an empty cell


def write_parquet(path: Path, columns: Mapping[str, list[Any]]) -> None:
    pq.write_table(pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}), path)


def read(path: Path) -> list[tuple[str | None, str | None, str | None]]:
    return [(row.id, row.prompt, row.source) for row in manifest.rows(path)]


def write_rows(path: Path, rows: list[dict[str, str | None]], columns: tuple[str, ...]) -> None:
    """`rows` (all with the same keys `columns`) in the format `path`'s suffix names."""
    if path.suffix == ".jsonl":
        write_jsonl(path, [dict(row) for row in rows])
    elif path.suffix == ".csv":
        write_csv(path, list(columns), [[row[c] for c in columns] for row in rows])
    else:
        write_parquet(path, {c: [row[c] for row in rows] for c in columns})


# --- 1. round trip ------------------------------------------------------------------------------

ROWS = st.lists(
    st.fixed_dictionaries({"id": st.none() | TEXT, "prompt": st.none() | TEXT, "source": FILLED}),
    max_size=8,
)


@FAST
@given(
    rows=ROWS,
    csv_encoding=st.sampled_from(["utf-8", "utf-8-sig"]),  # utf-8-sig: Excel's "CSV UTF-8"
    blank_lines=st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_rows_read_back_the_same_in_order_from_jsonl_csv_and_parquet(
    rows: list[dict[str, str | None]], csv_encoding: str, blank_lines: list[bool]
) -> None:
    expected = [(cleaned(r["id"]), cleaned(r["prompt"]), cleaned(r["source"])) for r in rows]
    with tempfile.TemporaryDirectory() as folder:
        jsonl, table, parquet = (Path(folder) / f"m{suffix}" for suffix in FORMATS)
        write_jsonl(jsonl, [dict(r) for r in rows], blank_lines)
        header = ["id", "prompt", "source"]
        write_csv(table, header, [[r[c] for c in header] for r in rows], csv_encoding)
        write_parquet(parquet, {c: [r[c] for r in rows] for c in header})

        assert read(jsonl) == expected
        assert read(table) == expected
        assert read(parquet) == expected

        # where each row is, for messages: the JSONL line (blank lines count), the CSV row as a
        # spreadsheet numbers it (the header is row 1), the Parquet row counted from 1
        lines, line = [], 0
        for n in range(len(rows)):
            line += 2 if blank_lines[n] else 1
            lines.append(line)
        assert [row.number for row in manifest.rows(jsonl)] == lines
        assert [row.number for row in manifest.rows(table)] == list(range(2, len(rows) + 2))
        assert [row.number for row in manifest.rows(parquet)] == list(range(1, len(rows) + 1))


# --- 2. which column is the source --------------------------------------------------------------

CELL = st.none() | BLANK | FILLED
SOURCE_CELLS = st.fixed_dictionaries(
    {"id": st.just("x")}, optional={c: CELL for c in SOURCE_COLUMNS}
)


@FAST
@given(
    rows=st.lists(SOURCE_CELLS, min_size=1, max_size=6),
    order=st.permutations(["id", *SOURCE_COLUMNS]),
    spelling=st.fixed_dictionaries(
        {c: st.sampled_from([c, c.upper(), c.title(), f" {c} "]) for c in SOURCE_COLUMNS}
    ),
)
def test_the_source_is_the_first_nonblank_of_source_path_url(
    rows: list[dict[str, str | None]], order: list[str], spelling: dict[str, str]
) -> None:
    def first_filled(row: Mapping[str, str | None]) -> str | None:
        for column in ("source", "path", "url"):
            value = row.get(column)
            if value is not None and value.strip():
                return value.strip()
        return None

    expected = [first_filled(row) for row in rows]
    present = [c for c in order if any(c in row for row in rows)]  # columns some row has
    with tempfile.TemporaryDirectory() as folder:
        jsonl, table, parquet = (Path(folder) / f"m{suffix}" for suffix in FORMATS)
        write_jsonl(jsonl, [dict(row) for row in rows])  # a missing key is missing, None is null
        header = [spelling.get(c, c) for c in present]  # CSV headers: any case, padded
        write_csv(table, header, [[row.get(c) for c in present] for row in rows])
        write_parquet(parquet, {c: [row.get(c) for row in rows] for c in present})

        assert [row.source for row in manifest.rows(jsonl)] == expected
        if set(present) & set(SOURCE_COLUMNS):
            assert [row.source for row in manifest.rows(table)] == expected
            assert [row.source for row in manifest.rows(parquet)] == expected
        else:  # a table without any of the three columns is refused whole
            for path in (table, parquet):
                with pytest.raises(ConfigError, match="has no column named source, path, url"):
                    list(manifest.rows(path))


# --- 3. every row becomes one item or one problem -----------------------------------------------

NAME = st.text("abcdefgh_-", min_size=1, max_size=6)
SCHEMES = ["ftp://host/a.jpg", "file:///etc/passwd", "s3://bucket/key.png", "data:image/png,AAAA"]


@dataclass(frozen=True)
class Case:
    """One manifest row and what its user must get: an Item (`kind` None for a URL) or a Problem
    of `type` whose message says `says`."""

    source: str | None
    id: str | None
    prompt: str | None
    outcome: str  # "item" or a Problem type
    says: str = ""
    kind: str | None = None


@st.composite
def cases(draw: st.DrawFn) -> Case:
    row_id = draw(st.none() | BLANK | FILLED)
    prompt = draw(st.none() | FILLED)
    pad = draw(st.sampled_from(["", " ", "\t"]))
    what = draw(
        st.sampled_from(["url", "scheme", "file", "missing", "dotdot", "absolute", "nul", "blank"])
    )
    if what == "blank":
        return Case(draw(st.none() | BLANK), row_id, prompt, "InvalidOptionError", "no source")
    if what == "url":
        source = "https://example.com/" + draw(st.text("abc/?#=&", max_size=8))
        return Case(pad + source + pad, row_id, prompt, "item")
    if what == "scheme":
        source = draw(st.sampled_from(SCHEMES))
        return Case(source, row_id, prompt, "UnsupportedFormatError", "neither a path nor")
    if what == "file":  # the one image in the manifest's folder
        return Case(pad + "img0000.jpg", row_id, prompt, "item", kind="image")
    if what == "missing":
        source = draw(NAME) + "/" + draw(NAME) + ".jpg"
        return Case(source, row_id, prompt, "FileNotFoundError", "no such file")
    if what == "dotdot":
        source = "../" * draw(st.integers(1, 3)) + draw(NAME) + ".jpg"
        return Case(source, row_id, prompt, "PermissionError", "must stay in")
    if what == "absolute":
        source = "/" + draw(NAME) + "/img0000.jpg"
        return Case(source, row_id, prompt, "PermissionError", "must stay in")
    source = draw(NAME) + "\x00" + draw(NAME)  # no file name can hold a NUL byte
    return Case(source, row_id, prompt, "InvalidOptionError", "NUL")


@FAST
@given(suffix=st.sampled_from(FORMATS), rows=st.lists(cases(), max_size=8))
@example(suffix=".jsonl", rows=[Case("a\x00b", "n", None, "InvalidOptionError", "NUL")])
def test_every_row_becomes_one_item_or_problem_in_order(suffix: str, rows: list[Case]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        make_images(Path(folder), 1)  # img0000.jpg
        path = Path(folder) / f"list{suffix}"
        columns = ("id", "prompt", "path")
        write_rows(
            path, [{"id": r.id, "prompt": r.prompt, "path": r.source} for r in rows], columns
        )
        first = 2 if suffix == ".csv" else 1  # the number of the first row, as in test 1

        entries = list(expand([str(path)], Tally()))

        assert len(entries) == len(rows)
        for n, (case, entry) in enumerate(zip(rows, entries, strict=True), first):
            assert entry.id == (cleaned(case.id) or cleaned(case.source) or f"{path} row {n}")
            if case.outcome == "item":
                assert isinstance(entry, Item), entry
                assert entry.kind == case.kind
                assert entry.prompt == cleaned(case.prompt)
                if case.kind is None:
                    assert entry.source == cleaned(case.source)
                else:
                    assert os.path.samefile(entry.source, Path(folder) / "img0000.jpg")
            else:
                assert isinstance(entry, Problem), entry
                assert entry.type == case.outcome
                assert case.says in entry.message
                assert f"{path} row {n}" in entry.message  # the message says which row


# --- 4. the trust rule --------------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    base: str  # holds root/ and, outside it, outside/ and rootx/ (a sibling sharing root's prefix)
    links: dict[str, str]  # link path -> its target, as written into the link


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    """base/root/{img0000.jpg, sub/{img0000.jpg, deeper/}} inside, base/{outside,rootx}/img0000.jpg
    outside, and symlinks in root pointing in and out, absolute and relative."""
    base = os.path.realpath(tmp_path_factory.mktemp("trust"))  # no link above the tree
    root = f"{base}/root"
    for folder in (root, f"{root}/sub", f"{base}/outside", f"{base}/rootx"):
        make_images(Path(folder), 1)
    os.mkdir(f"{root}/sub/deeper")
    links = {
        f"{root}/out": f"{base}/outside",  # out
        f"{root}/up": "..",  # out: base
        f"{root}/in": f"{root}/sub",  # in
        f"{root}/outimg.jpg": f"{base}/outside/img0000.jpg",  # out
        f"{root}/dangling": f"{base}/outside/missing.jpg",  # out, and not there
        f"{root}/sub/up": "..",  # root: in when the root is root, out when it is root/sub
        f"{root}/sub/inimg.jpg": "../img0000.jpg",  # the same
        f"{root}/sub/out": "../../rootx",  # out
    }
    for link, target in links.items():
        os.symlink(target, link)
    return Tree(base, links)


def lands_on(folder: str, written: str, links: Mapping[str, str]) -> str:
    """Where `written` leads from `folder`: '..' drops the last name, and a name that is one of
    the tree's links is replaced by where the link leads before the next name (as the kernel
    does). With no link in the way this is os.path.normpath(os.path.join(folder, written))."""
    names = [] if written.startswith("/") else [n for n in folder.split("/") if n]
    for name in written.split("/"):
        if name in ("", "."):
            continue
        if name == "..":
            names = names[:-1]
            continue
        names.append(name)
        here = "/" + "/".join(names)
        if here in links:
            names = [n for n in lands_on(os.path.dirname(here), links[here], links).split("/") if n]
    return "/" + "/".join(names)


SEGMENTS = ["..", "..", ".", "", "sub", "deeper", "img0000.jpg", "root", "rootx", "outside"]
SEGMENTS += ["out", "in", "up", "outimg.jpg", "inimg.jpg", "dangling", "missing", "~"]
LAST = [
    s for s in SEGMENTS if s not in ("", ".")
]  # "a/" and "a/." name "a" once pathlib reads them
STARTS = ["", "", "", "", "{root}/", "{root}/sub/", "{base}/", "{base}/outside/", "{base}/rootx/"]


@st.composite
def written_paths(draw: st.DrawFn) -> str:
    start = draw(st.sampled_from(STARTS))
    middle = draw(st.lists(st.sampled_from(SEGMENTS), max_size=5))
    return start + "/".join([*middle, draw(st.sampled_from(LAST))])


_watched: tuple[int, list[str]] | None = None  # (thread, paths it opened) while watching
_hooked = False


def _on_audit(event: str, args: tuple[Any, ...]) -> None:
    watched = _watched
    if event != "open" or watched is None or threading.get_ident() != watched[0]:
        return
    if isinstance(args[0], (str, bytes, os.PathLike)):  # not a file descriptor
        watched[1].append(os.fsdecode(args[0]))


@contextlib.contextmanager
def files_opened() -> Iterator[list[str]]:
    """Every file this thread opens inside the block (an audit hook sees every open())."""
    global _watched, _hooked
    if not _hooked:
        sys.addaudithook(_on_audit)
        _hooked = True
    opened: list[str] = []
    _watched = (threading.get_ident(), opened)
    try:
        yield opened
    finally:
        _watched = None


@FAST
@given(
    written=st.lists(written_paths(), min_size=1, max_size=8),
    in_sub=st.booleans(),
    root_given=st.booleans(),
)
@example(written=["../rootx/img0000.jpg"], in_sub=False, root_given=False)  # shares root's prefix
@example(
    written=["outimg.jpg", "out/img0000.jpg", "up/root/img0000.jpg"], in_sub=False, root_given=True
)
@example(written=["in/../img0000.jpg", "sub/up/img0000.jpg"], in_sub=False, root_given=False)
@example(written=["~", "~/img0000.jpg"], in_sub=False, root_given=False)  # a name, not $HOME
@example(written=["up/img0000.jpg", "../img0000.jpg"], in_sub=True, root_given=True)  # root wider
def test_a_path_is_read_iff_it_stays_inside_the_root(
    tree: Tree, written: list[str], in_sub: bool, root_given: bool
) -> None:
    root = f"{tree.base}/root"
    folder = f"{root}/sub" if in_sub else root  # where the manifest is
    trusted = root if root_given else folder  # manifest_root=, else the manifest's own folder
    written = [w.format(root=root, base=tree.base) for w in written]
    path = Path(folder) / "manifest.jsonl"
    write_jsonl(path, [{"id": f"r{n}", "path": w} for n, w in enumerate(written)])
    try:
        with files_opened() as opened:
            entries = list(expand([str(path)], Tally(), root if root_given else None))
    finally:
        path.unlink()

    assert len(entries) == len(written)
    for n, (w, entry) in enumerate(zip(written, entries, strict=True)):
        lands = lands_on(folder, w, tree.links)
        inside = lands == trusted or lands.startswith(trusted + "/")
        assert entry.id == f"r{n}"
        if not inside:
            assert isinstance(entry, Problem) and entry.type == "PermissionError", (w, entry)
            assert "the folder this manifest's paths must stay in" in entry.message
            with pytest.raises(PermissionError):
                manifest.resolve_path(w, Path(folder), Path(trusted))
        elif os.path.isfile(os.path.join(folder, w)):
            assert isinstance(entry, Item) and entry.kind == "image", (w, entry)
            assert os.path.samefile(entry.source, os.path.join(folder, w))
        else:
            assert isinstance(entry, Problem) and entry.type == "FileNotFoundError", (w, entry)
    for file in opened:  # in the tree: the manifest itself, then only files inside the root
        real = os.path.realpath(file)
        if real.startswith(tree.base + "/"):
            assert real == trusted or real.startswith(trusted + "/"), f"{file} was opened"


# --- 5. garbage ---------------------------------------------------------------------------------


def utf8(*texts: str | None) -> bool:
    """Whether each text can go into the UTF-8 output file (a lone surrogate cannot)."""
    try:
        for text in texts:
            if text is not None:
                text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def outcome_of(path: Path) -> None:
    """Reads `path` as a manifest through both doors (rows, and the captioning inputs); each must
    give rows / items and problems whose text the output file can hold, or an MmkitError that
    names the file."""
    try:
        for row in manifest.rows(path):
            assert all(v is None or isinstance(v, str) for v in (row.id, row.prompt, row.source))
            assert utf8(row.id, row.prompt, row.source), row
    except MmkitError as exc:
        assert str(path) in str(exc)
    try:  # rows' paths resolve in the manifest's folder, which holds only the manifest
        for entry in expand([str(path)], Tally()):
            assert isinstance(entry, (Item, Problem))
            if isinstance(entry, Item):
                assert utf8(entry.id, entry.source, entry.prompt), entry
            else:
                assert utf8(entry.id, entry.source, entry.type, entry.message), entry
    except MmkitError as exc:
        assert str(path) in str(exc)


def garbled(data: bytes, draw: st.DrawFn) -> bytes:
    """`data` cut short, or with a few bytes changed, or left whole."""
    how = draw(st.sampled_from(["cut", "flip", "whole"]))
    if how == "cut" or not data:
        return data[: draw(st.integers(0, len(data)))]
    if how == "flip":
        changed = bytearray(data)
        for _ in range(draw(st.integers(1, 4))):
            changed[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(changed)
    return data


ANY_CHAR = st.one_of(CHARS, st.characters(categories=["Cs"]))  # lone surrogates: JSON can escape
KEYS = st.sampled_from(["id", "prompt", *SOURCE_COLUMNS, "other"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(ANY_CHAR, max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=8,
)


@st.composite
def jsonl_garbage(draw: st.DrawFn) -> bytes:
    lines = draw(
        st.lists(
            st.dictionaries(KEYS, JSON, max_size=5).map(lambda v: json.dumps(v).encode())
            | JSON.map(lambda v: json.dumps(v).encode())
            | st.binary(max_size=30),
            max_size=6,
        )
    )
    return garbled(b"\n".join(lines), draw)


@FAST
@given(data=jsonl_garbage() | st.binary(max_size=200))
@example(data=b'{"path": "a\\u0000b"}\n')  # a NUL byte: no file name can hold one
@example(data=b'{"id": "a\\ud800", "url": "https://example.com/a.jpg"}\n')  # a lone surrogate
@example(data=b"[" * 100_000 + b"\n")  # nested deeper than the parser recurses
def test_any_bytes_named_x_jsonl_give_rows_or_an_mmkit_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.jsonl"
        path.write_bytes(data)
        outcome_of(path)


@st.composite
def csv_garbage(draw: st.DrawFn) -> bytes:
    header = draw(st.lists(KEYS | TEXT, max_size=4))
    cells = st.text(ANY_CHAR, max_size=12)
    body = draw(st.lists(st.lists(cells, max_size=5), max_size=5))
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(body)
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"]))
    # surrogates become invalid UTF-8, characters the code page lacks become "?"
    data = text.getvalue().encode("utf-8", "surrogatepass")
    if encoding != "utf-8":
        data = data.decode("utf-8", "replace").encode(encoding, "replace")
    return garbled(data, draw)


@FAST
@given(data=csv_garbage() | st.binary(max_size=200))
@example(data="path,id\ncafé.jpg,a\n".encode("latin-1"))  # saved by a tool that is not UTF-8
@example(data=b"path\na\x00b.jpg\n")  # a NUL byte in a path
@example(data=b'path\n"' + b"x" * 200_000 + b'"\n')  # a field over csv's limit
def test_any_bytes_named_x_csv_give_rows_or_an_mmkit_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.csv"
        path.write_bytes(data)
        outcome_of(path)


PARQUET_TYPES = {
    "string": (pa.string(), st.text(CHARS, max_size=12)),
    "int": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "float": (pa.float64(), st.floats()),
    "binary": (pa.binary(), st.binary(max_size=12)),
    "list": (pa.list_(pa.string()), st.lists(st.text(CHARS, max_size=4), max_size=3)),
}


@st.composite
def parquet_garbage(draw: st.DrawFn) -> bytes:
    """A real Parquet file (columns of any type, named like a manifest's or not), then garbled."""
    count = draw(st.integers(0, 6))
    columns = {}
    for name in draw(st.lists(KEYS, min_size=1, max_size=4, unique=True)):
        kind, values = PARQUET_TYPES[draw(st.sampled_from(sorted(PARQUET_TYPES)))]
        cells = draw(st.lists(st.none() | values, min_size=count, max_size=count))
        columns[name] = pa.array(cells, kind)
    out = io.BytesIO()
    pq.write_table(pa.table(columns), out, compression=draw(st.sampled_from(["snappy", "none"])))
    return garbled(out.getvalue(), draw)


def unreadable_page() -> bytes:
    """A Parquet manifest whose footer reads but whose first value claims 2 GiB: the error comes
    while the rows are read, not when the file is opened."""
    out = io.BytesIO()
    pq.write_table(pa.table({"path": ["a.jpg", "b.jpg"]}), out, compression="none")
    data = out.getvalue()
    at = data.index(b"a.jpg")
    assert data[at - 4 : at] == (5).to_bytes(4, "little")  # PLAIN strings: length, then bytes
    return data[: at - 4] + b"\xff\xff\xff\x7f" + data[at:]


@FAST
@given(data=parquet_garbage() | st.binary(max_size=200))
@example(data=unreadable_page())
def test_any_bytes_named_x_parquet_give_rows_or_an_mmkit_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.parquet"
        path.write_bytes(data)
        outcome_of(path)


# --- what a run does with a manifest it cannot read ---------------------------------------------


@pytest.mark.timeout(60)
def test_a_manifest_that_cannot_be_read_gives_the_run_an_error_record_and_an_end(
    tmp_path: Path, server: RunningServer
) -> None:
    listed = tmp_path / "list.csv"
    listed.write_bytes("path,id\ncafé.jpg,a\n".encode("latin-1"))  # an old spreadsheet's CSV
    out = tmp_path / "captions.jsonl"

    summary = caption.run(
        [str(listed)], model="gemma-3", base_url=f"{server.base_url}/v1", out=out, workers=1
    )

    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["id"] == "inputs"
    assert record["error"]["type"] == "ConfigError"
    assert f"manifest {listed} is not UTF-8 text" in record["error"]["message"]
    assert summary.failed == {"ConfigError": 1}
