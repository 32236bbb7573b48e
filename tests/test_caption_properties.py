"""Property tests for the captioning output file: whatever was written, and wherever a crash cut
it, reopening keeps exactly the whole records (the last one per id) and leaves valid JSONL."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.caption.records import Record
from mmkit.caption.store import JsonlStore

TEXT = st.text(max_size=40)  # newlines, quotes, any unicode: JSON must carry them on one line


@st.composite
def records(draw: st.DrawFn) -> Record:
    item_id = draw(st.sampled_from(["a.jpg", "b.png", "dir/c.mp3", "d é.mp4"]))  # repeats
    failed = draw(st.booleans())
    return Record(
        id=item_id,
        source=item_id,
        # short ones kept as written; full sha256 ones held as bytes by the index
        hash="sha256:" + draw(st.sampled_from(["00", "11", "ab" * 32, "0f9e" * 16, "zz" * 32])),
        model="echo",
        prompt=draw(TEXT),
        caption=None if failed else draw(TEXT),
        attempts=draw(st.integers(0, 5)),
        error={"type": "InvalidMediaError", "message": draw(TEXT)} if failed else None,
    )


def last_per_id(written: list[Record]) -> list[dict[str, object]]:
    """The last record of each id, in the order those last records were written."""
    last = {record.id: index for index, record in enumerate(written)}
    return [written[index].to_json() for index in sorted(last.values())]


def lines_of(path: Path) -> list[dict[str, object]]:
    data = path.read_bytes()
    assert data == b"" or data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


@settings(max_examples=60, deadline=None)
@given(st.lists(records(), max_size=12))
def test_a_closed_file_holds_the_last_record_of_each_id(written: list[Record]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "captions.jsonl"
        store = JsonlStore(path)
        for record in written:
            store.append(record)
        last = {record.id: record for record in written}
        for item_id, record in last.items():  # what the run consults while it writes
            assert store.status(item_id) == (record.ok, record.hash)
        store.close()

        assert lines_of(path) == last_per_id(written)
        again = JsonlStore(path, read_only=True)
        assert [r.to_json() for r in again.records()] == last_per_id(written)
        for item_id, record in last.items():  # what a rerun consults to skip done items
            assert again.status(item_id) == (record.ok, record.hash)


@settings(max_examples=80, deadline=None)
@given(st.lists(records(), min_size=1, max_size=10), st.data())
def test_a_crash_anywhere_loses_only_the_torn_line(
    written: list[Record], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "captions.jsonl"
        store = JsonlStore(path)
        for record in written:
            store.append(record)
        assert store._fd is not None
        os.close(store._fd)  # a kill -9: the file is left as written, no closing rewrite
        full = path.read_bytes()
        cut = data.draw(st.integers(0, len(full)), label="cut")
        path.write_bytes(full[:cut])
        whole = full[:cut].count(b"\n")  # lines that reached the file entire

        reopened = JsonlStore(path)
        reopened.close()

        assert lines_of(path) == last_per_id(written[:whole])
