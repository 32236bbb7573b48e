"""The Ray Data adapter on a local Ray (two CPUs) against the local server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import make_images

from mmkit.server import RunningServer

ray = pytest.importorskip("ray", reason="the [ray] extra is not installed")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


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
    assert by_source["notes.txt"]["error_type"] == "InvalidMediaError"
    assert by_source["notes.txt"]["caption"] is None
