"""done_ids: which earlier records make an id done for a Ray resume, read from hand-written
output files of both kinds (caption_dataset's flat rows, `mmkit caption --out` records). No Ray.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow", reason="the [ray] extra is not installed")
pq = pytest.importorskip("pyarrow.parquet")

from mmkit.caption.ray import done_ids  # noqa: E402
from mmkit.caption.records import Record  # noqa: E402
from mmkit.caption.stores import open_store  # noqa: E402

THIS, OTHER = "sha256:" + "a" * 64, "sha256:" + "b" * 64  # two runs' questions

# (id, what happened, what the record asked); None: written before records kept `asked`
EARLIER = [
    ("ok", "captioned", THIS),
    ("ok-old", "captioned", None),
    ("ok-other", "captioned", OTHER),
    ("bad", "permanent", THIS),
    ("bad-other", "permanent", OTHER),
    ("flaky", "transient", THIS),
    ("flaky-old", "transient", None),
]


def _record(item_id: str, happened: str, asked: str | None) -> Record:
    record = Record(item_id, f"/data/{item_id}.jpg", "sha256:" + "c" * 64, "gemma-3", None)
    record.asked = asked
    if happened == "captioned":
        record.caption, record.attempts = f"a caption of {item_id}", 1
    else:
        transient = happened == "transient"
        kind, message = ("ServerError", "503 after 6 tries") if transient else ("E", "bad media")
        record.error = {"type": kind, "message": message, "transient": transient}
    return record


def _flat_row(item_id: str, happened: str, asked: str | None) -> dict[str, Any]:
    """A row as caption_dataset writes it (its flat columns)."""
    failed = happened != "captioned"
    return {
        "id": item_id,
        "caption": None if failed else f"a caption of {item_id}",
        "error_type": ("ServerError" if happened == "transient" else "E") if failed else None,
        "error_message": "why" if failed else None,
        "error_transient": (happened == "transient") if failed else None,
        "asked": asked,
    }


def _write(kind: str, folder: Path) -> Path:
    """EARLIER written as `kind` of output, in `folder`; the path to pass as done=."""
    folder.mkdir()
    if kind in ("mmkit caption jsonl", "mmkit caption parquet"):
        suffix = "jsonl" if kind.endswith("jsonl") else "parquet"
        path = folder / f"captions.{suffix}"
        store = open_store(path)  # what `mmkit caption --out` writes with
        for row in EARLIER:
            store.append(_record(*row))
        store.close()
        return path
    rows = [_flat_row(*row) for row in EARLIER]
    if kind == "ray parquet":
        pq.write_table(pa.Table.from_pylist(rows), folder / "part-0.parquet")
    else:
        (folder / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


KINDS = ["ray parquet", "ray json", "mmkit caption jsonl", "mmkit caption parquet"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_transient_failure_is_never_done_a_permanent_one_is_unless_retry_failed(
    kind: str, tmp_path: Path
) -> None:
    done = _write(kind, tmp_path / "out")
    # without the run's question, what each record asked is not compared
    assert done_ids(done) == {"ok", "ok-old", "ok-other", "bad", "bad-other"}
    assert done_ids(done, retry_failed=True) == {"ok", "ok-old", "ok-other"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_record_that_asked_another_question_is_not_done(kind: str, tmp_path: Path) -> None:
    done = _write(kind, tmp_path / "out")
    assert done_ids(done, asked=THIS) == {"ok", "ok-old", "bad"}
    assert done_ids(done, asked=THIS, retry_failed=True) == {"ok", "ok-old"}
    assert done_ids(done, asked=OTHER) == {"ok-old", "ok-other", "bad-other"}


def test_a_success_in_one_pass_is_done_whatever_another_pass_said(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "pass2").mkdir(parents=True)
    first = [_flat_row("x", "transient", THIS), _flat_row("y", "captioned", OTHER)]
    pq.write_table(pa.Table.from_pylist(first), out / "part-0.parquet")
    second = [_flat_row("x", "captioned", THIS), _flat_row("y", "transient", THIS)]
    (out / "pass2" / "part-0.json").write_text("".join(json.dumps(r) + "\n" for r in second))
    assert done_ids(out, asked=THIS) == {"x"}
    assert done_ids(out) == {"x", "y"}


def test_records_from_before_the_flags_were_written_count_as_before(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    # caption_dataset's output before error_transient and asked: an error counts as permanent
    old = {"id": ["p", "q"], "caption": ["a cat", None], "error_type": pa.array([None, "E"])}
    pq.write_table(pa.table(old), out / "part-0.parquet")
    # mmkit caption's before `transient`: likewise; a column of nulls only is read too
    lines = [
        {"id": "r", "caption": None, "error": {"type": "E", "message": "m"}},
        {"id": "s", "caption": "a dog", "error": None, "error_transient": None, "asked": None},
    ]
    (out / "part-1.json").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert done_ids(out, asked=THIS) == {"p", "q", "r", "s"}
    assert done_ids(out, asked=THIS, retry_failed=True) == {"p", "s"}
