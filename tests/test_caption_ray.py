"""The Ray Data adapter on a local Ray (two CPUs) against the local server."""

from __future__ import annotations

import json
import logging
import os
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import make_images

import mmkit.caption as caption
from mmkit.errors import ConfigError
from mmkit.server import RunningServer

# On Linux, Ray takes "127.0.0.1" as a request for the machine's reachable address unless it is
# told it is not a cluster node; read when Ray is imported (by its workers too).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray listening on loopback only."""
    from ray._private import ray_constants

    with pytest.MonkeyPatch.context() as patch:  # in case Ray was imported before this module
        patch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            _node_ip_address="127.0.0.1",
        )
    try:
        yield
    finally:
        ray.shutdown()


def test_the_local_ray_listens_on_loopback_only(local_ray: None) -> None:
    (node,) = ray.nodes()
    assert node["NodeManagerAddress"] == "127.0.0.1"
    assert ray.get_runtime_context().gcs_address.startswith("127.0.0.1:")


def test_captioning_uses_ray_datas_current_arguments(local_ray: None) -> None:
    from mmkit.caption.ray import caption_dataset

    ds = ray.data.from_items([{"path": "a.jpg"}])  # Ray Data sets up its logging here
    said: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("ray.data")  # Ray Data's own logger (it does not propagate)
    logger.addHandler(handler)
    try:
        caption_dataset(ds, model="echo", actors=2)
        ds.map_batches(lambda batch: batch, concurrency=2)  # what a deprecated argument says
    finally:
        logger.removeHandler(handler)
    deprecated = [line for line in said if line.startswith("The argument ``concurrency``")]
    assert len(deprecated) == 1, said  # the test's own call, not caption_dataset's


def test_a_dataset_is_captioned_with_one_record_per_item(
    local_ray: None, tmp_path: Path, server: RunningServer
) -> None:
    from mmkit.caption.ray import caption_dataset

    folder = tmp_path / "imgs"
    make_images(folder, 12)
    (folder / "notes.txt").write_text("not media")
    ds = ray.data.read_binary_files(str(folder), include_paths=True)
    captioned = caption_dataset(
        ds,
        model="gemma-3",
        base_url=f"{server.base_url}/v1",
        concurrency=4,
        batch_size=5,
        num_cpus=0.5,  # two actors leave a CPU for the read and write tasks
    )
    captioned.write_parquet(str(tmp_path / "out"))  # Ray Data's own writer

    files = sorted((tmp_path / "out").glob("*.parquet"))
    rows = [row for file in files for row in pq.read_table(file).to_pylist()]
    by_source = {Path(r["source"]).name: r for r in rows}
    assert len(rows) == len(by_source) == 13
    for n in range(12):
        row = by_source[f"img{n:04d}.{'png' if n % 2 else 'jpg'}"]
        kind = "PNG" if n % 2 else "JPEG"
        assert row["caption"] == f'text "Describe this image in one sentence."; image 64×48 {kind}'
        assert row["error_type"] is None and row["attempts"] == 1
    # A file that is not media is skipped and counted, as `mmkit caption` does in a folder
    notes = by_source["notes.txt"]
    assert (notes["skipped"], notes["error_type"], notes["caption"]) == ("not media", None, None)
    summary = caption.run([str(folder)], model="echo", workers=0)
    assert (summary.done, summary.not_media, summary.failures) == (12, 1, 0)


# --- resuming: done= ---------------------------------------------------------------------------


def _caption(ds: Any, server: RunningServer, **options: Any) -> Any:
    from mmkit.caption.ray import caption_dataset

    return caption_dataset(
        ds,
        model="gemma-3",
        base_url=f"{server.base_url}/v1",
        concurrency=4,
        batch_size=3,
        num_cpus=0.5,
        **options,
    )


def _parquet_rows(folder: Path) -> list[dict[str, Any]]:
    return [row for f in sorted(folder.glob("*.parquet")) for row in pq.read_table(f).to_pylist()]


def _json_rows(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted(folder.glob("*.json")) for line in f.open()]


def _names(rows: list[dict[str, Any]], *, ok: bool | None = None) -> list[str]:
    """The file names of the rows' ids (all rows, or only captioned / failed ones), sorted."""
    return sorted(Path(r["id"]).name for r in rows if ok is None or (r["error_type"] is None) == ok)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_second_pass_with_done_captions_only_the_failed_and_new_items(
    local_ray: None, tmp_path: Path, server: RunningServer
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 6)
    _truncate(folder / "img0003.png")  # a file still being copied when the first pass read it
    first = _caption(ray.data.read_binary_files(str(folder), include_paths=True), server)
    first.write_parquet(str(tmp_path / "out1"))
    rows1 = _parquet_rows(tmp_path / "out1")
    assert _names(rows1, ok=True) == [
        "img0000.jpg",
        "img0001.png",
        "img0002.jpg",
        "img0004.jpg",
        "img0005.png",
    ]
    assert _names(rows1, ok=False) == ["img0003.png"]

    make_images(folder, 1, start=3)  # the copy is complete now
    make_images(folder, 2, start=6)  # and two files are new
    second = _caption(
        ray.data.read_binary_files(str(folder), include_paths=True),
        server,
        done=tmp_path / "out1",
        retry_failed=True,
    )
    second.write_parquet(str(tmp_path / "out2"))
    rows2 = _parquet_rows(tmp_path / "out2")
    assert _names(rows2) == ["img0003.png", "img0006.jpg", "img0007.png"]
    assert all(r["error_type"] is None and r["caption"] for r in rows2)

    captioned = Counter(r["id"] for r in rows1 + rows2 if r["error_type"] is None)
    assert sorted(Path(i).name for i in captioned) == [
        "img0000.jpg",
        "img0001.png",
        "img0002.jpg",
        "img0003.png",
        "img0004.jpg",
        "img0005.png",
        "img0006.jpg",
        "img0007.png",
    ]
    assert set(captioned.values()) == {1}


def test_done_as_json_lines_skips_earlier_errors_unless_retry_failed(
    local_ray: None, tmp_path: Path, server: RunningServer
) -> None:
    folder = tmp_path / "imgs"
    make_images(folder, 4)
    _truncate(folder / "img0001.png")
    _caption(ray.data.read_binary_files(str(folder), include_paths=True), server).write_json(
        str(tmp_path / "out1")
    )
    rows1 = _json_rows(tmp_path / "out1")
    assert _names(rows1, ok=True) == ["img0000.jpg", "img0002.jpg", "img0003.png"]
    assert _names(rows1, ok=False) == ["img0001.png"]

    make_images(folder, 1, start=1)
    make_images(folder, 1, start=4)
    ds = ray.data.read_binary_files(str(folder), include_paths=True)
    # like `mmkit caption`: an error is a record, not tried again unless asked
    _caption(ds, server, done=str(tmp_path / "out1")).write_json(str(tmp_path / "skip"))
    assert _names(_json_rows(tmp_path / "skip")) == ["img0004.jpg"]
    _caption(ds, server, done=str(tmp_path / "out1"), retry_failed=True).write_json(
        str(tmp_path / "retry")
    )
    retried = _json_rows(tmp_path / "retry")
    assert _names(retried, ok=True) == ["img0001.png", "img0004.jpg"]
    assert _names(retried, ok=False) == []


def test_done_as_a_list_of_ids_leaves_those_rows_out(
    local_ray: None, tmp_path: Path, server: RunningServer
) -> None:
    paths = make_images(tmp_path / "imgs", 5)
    ds = ray.data.from_items([{"id": f"item{n}", "path": str(p)} for n, p in enumerate(paths)])
    rows = _caption(ds, server, done=["item1", "item3", "not-in-the-input"]).take_all()
    assert sorted(r["id"] for r in rows) == ["item0", "item2", "item4"]
    assert all(r["error_type"] is None for r in rows)


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed): connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_resume_captions_again_transient_failures_and_what_asked_another_question(
    local_ray: None, tmp_path: Path, server: RunningServer
) -> None:
    from mmkit.caption.ray import caption_dataset

    folder = tmp_path / "imgs"
    make_images(folder, 2)
    ds = ray.data.read_binary_files(str(folder), include_paths=True)
    # the server was down: every row failed for no fault of its own
    refused = f"http://127.0.0.1:{_closed_port()}/v1"
    down = caption_dataset(ds, model="gemma-3", base_url=refused, retries=0, num_cpus=0.5)
    down.write_json(str(tmp_path / "out1"))  # Ray Data's own writer
    rows1 = _json_rows(tmp_path / "out1")
    assert _names(rows1, ok=False) == ["img0000.jpg", "img0001.png"]
    assert [r["error_transient"] for r in rows1] == [True, True]
    (asked,) = {r["asked"] for r in rows1}
    assert asked.startswith("sha256:")

    # a plain rerun (no retry_failed) captions them: the failure said nothing about the items
    _caption(ds, server, done=tmp_path / "out1").write_parquet(str(tmp_path / "out2"))
    rows2 = _parquet_rows(tmp_path / "out2")
    assert _names(rows2, ok=True) == ["img0000.jpg", "img0001.png"]
    assert [(r["error_transient"], r["asked"]) for r in rows2] == [(None, asked)] * 2

    # the same question again: nothing left; another prompt: both captioned again
    assert _caption(ds, server, done=tmp_path / "out2").take_all() == []
    again = _caption(ds, server, done=tmp_path / "out2", prompt="Name the colours.").take_all()
    assert sorted((Path(r["id"]).name, r["caption"]) for r in again) == [
        ("img0000.jpg", 'text "Name the colours."; image 64×48 JPEG'),
        ("img0001.png", 'text "Name the colours."; image 64×48 PNG'),
    ]
    assert {r["asked"] for r in again} != {asked}


def _flat(rows: list[tuple[str, str | None]]) -> pa.Table:
    """A table shaped like caption_dataset's output: (id, error_type) rows."""
    return pa.table(
        {
            "id": [i for i, _ in rows],
            "caption": [None if e else f"caption of {i}" for i, e in rows],
            "error_type": pa.array([e for _, e in rows], pa.string()),
        }
    )


def test_done_ids_reads_every_file_and_a_success_anywhere_is_done(tmp_path: Path) -> None:
    from mmkit.caption.ray import done_ids

    out = tmp_path / "passes"
    (out / "pass2").mkdir(parents=True)
    pq.write_table(_flat([("x", None), ("y", None)]), out / "a.parquet")
    pq.write_table(_flat([("y", "ServerError"), ("z", "InvalidMediaError")]), out / "b.parquet")
    lines = [{"id": "w", "caption": "a cat", "error_type": None}, {"id": "v", "error_type": "E"}]
    (out / "pass2" / "part.json").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (out / "_SUCCESS").write_text("")
    (out / ".part-0.parquet").write_text("an unfinished file, not output (pyarrow skips it too)")

    assert done_ids(out) == {"v", "w", "x", "y", "z"}
    assert done_ids(out, retry_failed=True) == {"w", "x", "y"}
    assert done_ids(out.as_uri(), retry_failed=True) == {"w", "x", "y"}  # pyarrow.fs URIs
    assert done_ids(out / "b.parquet", retry_failed=True) == set()
    assert done_ids(iter([1, "2"])) == {"1", "2"}


def test_done_ids_reads_mmkit_caption_output(tmp_path: Path) -> None:
    from mmkit.caption.ray import done_ids

    out = tmp_path / "captions.jsonl"
    records = [
        {"id": "a.jpg", "source": "a.jpg", "caption": "a cat", "error": None},
        {"id": "b.jpg", "source": "b.jpg", "caption": None, "error": {"type": "E", "message": "m"}},
    ]
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert done_ids(out, retry_failed=True) == {"a.jpg"}
    assert done_ids(out) == {"a.jpg", "b.jpg"}


def _bad_done(kind: str, tmp_path: Path) -> tuple[Any, str, str]:
    """A bad done= value of one kind, what the error must say, and the path it must name."""
    folder = tmp_path / "out"
    if kind == "missing":
        return folder, "no such file or folder", str(folder)
    if kind == "not a path nor ids":
        return 42, "takes a path to earlier output or an iterable of ids; got int", ""
    folder.mkdir()
    if kind == "no output files":
        (folder / "notes.txt").write_text("not output")
        return folder, "holds no .parquet, .json or .jsonl files", str(folder)
    if kind == "not parquet":
        (folder / "part.parquet").write_bytes(b"PAR1 and then nothing")
        return folder, "not a readable Parquet file", str(folder / "part.parquet")
    if kind == "torn parquet":  # what a pass killed while writing leaves
        pq.write_table(_flat([("x", None)]), folder / "good.parquet")
        pq.write_table(_flat([("y", None)] * 100), folder / "torn.parquet")
        _truncate(folder / "torn.parquet")
        return folder, "not a readable Parquet file", str(folder / "torn.parquet")
    if kind == "damaged parquet":  # footer intact, pages overwritten: fails while reading
        pq.write_table(_flat([(f"id{n}", None) for n in range(100)]), folder / "part.parquet")
        data = bytearray((folder / "part.parquet").read_bytes())
        data[4:200] = b"\xab" * 196
        (folder / "part.parquet").write_bytes(bytes(data))
        return folder, "not a readable Parquet file", str(folder / "part.parquet")
    if kind == "parquet without id":
        pq.write_table(pa.table({"path": ["a.jpg"]}), folder / "part.parquet")
        return folder, "has no 'id' column", str(folder / "part.parquet")
    if kind == "torn json":
        (folder / "part.json").write_text('{"id": "a", "error_type": null}\n{"id": "b", "err')
        return folder, "not a readable JSON lines file", str(folder / "part.json")
    assert kind == "json without id"
    (folder / "part.json").write_text('{"path": "a.jpg"}\n')
    return folder, "has no 'id' column", str(folder / "part.json")


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "not a path nor ids",
        "no output files",
        "not parquet",
        "torn parquet",
        "damaged parquet",
        "parquet without id",
        "torn json",
        "json without id",
    ],
)
def test_a_bad_done_value_is_a_config_error_before_anything_runs(
    local_ray: None, tmp_path: Path, server: RunningServer, kind: str
) -> None:
    from mmkit.caption.ray import caption_dataset

    done, says, names = _bad_done(kind, tmp_path)
    ds = ray.data.from_items([{"path": str(tmp_path / "a.jpg")}])
    with pytest.raises(ConfigError) as caught:  # raised by the call: the dataset is lazy
        caption_dataset(ds, model="gemma-3", base_url=f"{server.base_url}/v1", done=done)
    assert says in str(caught.value)
    if names:
        assert f"done={names}" in str(caught.value)
