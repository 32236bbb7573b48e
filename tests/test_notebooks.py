"""The notebooks run as a user runs them: a real Jupyter kernel started in the notebook's folder.

Every notebook in notebooks/ is picked up; each is executed top to bottom by nbclient in an
ipykernel running this venv's Python, with the working directory Jupyter would give it.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "python3"  # the kernel the notebooks name in their metadata


def _kernel_manager(home: Path) -> KernelManager:
    """A kernel of this venv's Python, whatever kernelspecs the machine has installed."""
    spec_dir = home / "kernels" / KERNEL
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (mmkit tests)",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(home / "kernels")], ensure_native_kernel=False)
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)


def run_notebook(path: Path, home: Path) -> nbformat.NotebookNode:
    """Execute `path` from its own folder, as Jupyter does; a failing cell raises."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        km=_kernel_manager(home),
        timeout=60,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(path.parent)}},  # the kernel's working directory
    )
    executed: nbformat.NotebookNode = client.execute()
    return executed


@functools.cache
def _executed(path: Path, home: Path) -> nbformat.NotebookNode:
    return run_notebook(path, home)


@pytest.fixture(scope="module")
def kernel_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jupyter")


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_runs_in_jupyter_from_its_folder(path: Path, kernel_home: Path) -> None:
    notebook = _executed(path, kernel_home)
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == KERNEL
    dirty = [
        index
        for index, cell in enumerate(notebook["cells"])
        if cell["cell_type"] == "code" and (cell["outputs"] or cell["execution_count"] is not None)
    ]
    assert dirty == [], f"{path.name}: clear the outputs of cells {dirty} before committing"


def test_quickstart_shows_the_message_with_a_thumbnail(kernel_home: Path) -> None:
    notebook = _executed(ROOT / "notebooks" / "quickstart.ipynb", kernel_home)
    (shown,) = notebook.cells[2].outputs  # `msg` at the end of the cell that builds it
    assert shown.output_type == "execute_result"
    html = shown.data["text/html"]
    assert "What is in this picture?" in html
    assert "<img" in html and "data:image/" in html


def test_a_failing_cell_fails_the_run(tmp_path: Path, kernel_home: Path) -> None:
    notebook = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": KERNEL, "display_name": "Python 3", "language": "python"}}
    )
    notebook.cells = [
        nbformat.v4.new_code_cell("import os\nhere = os.getcwd()"),
        nbformat.v4.new_code_cell('open("missing.jpg", "rb")'),
        nbformat.v4.new_code_cell("never = True"),
    ]
    path = tmp_path / "broken.ipynb"
    nbformat.write(notebook, path)
    with pytest.raises(CellExecutionError, match="FileNotFoundError"):
        run_notebook(path, kernel_home)


def test_the_kernel_starts_in_the_notebooks_folder(tmp_path: Path, kernel_home: Path) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    (folder / "beside.txt").write_text("found")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("import sys\nopen('beside.txt').read(), sys.executable")
    ]
    path = folder / "where.ipynb"
    nbformat.write(notebook, path)
    (shown,) = run_notebook(path, kernel_home).cells[0].outputs
    assert shown.data["text/plain"] == repr(("found", sys.executable))


def test_quickstart_plays_audio_and_says_what_the_server_heard(kernel_home: Path) -> None:
    notebook = _executed(ROOT / "notebooks" / "quickstart.ipynb", kernel_home)
    cells = {
        cell.source.split("\n")[0]: cell for cell in notebook.cells if cell.cell_type == "code"
    }
    (player,) = cells["from mmkit import Audio"].outputs
    assert '<audio controls preload="none" src="data:audio/mpeg;base64,' in player.data["text/html"]
    assert "AAC 1.0 s 44.1 kHz stereo" in player.data["text/html"]
    (heard,) = cells['with mmkit.Client("echo") as client:'].outputs
    assert heard.data["text/plain"] == "'text \"Transcribe\"; audio 1.0 s 44.1 kHz stereo'"
