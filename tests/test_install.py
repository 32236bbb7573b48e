"""The package as a user gets it: the built wheel, installed by its name with `[server]` into a
fresh virtualenv outside the repository, runs the README's first example from another folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image as PILImage
from project import project

ROOT = Path(__file__).resolve().parent.parent
# Building, a fresh venv and installing the dependencies (from pip's cache when it has them).
SLOW = 600


def _first_example() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r"```python\n(.*?)```", readme, flags=re.DOTALL)
    assert match is not None
    return match.group(1)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=SLOW, check=False
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_distribution_name_is_ours_and_the_import_name_stays() -> None:
    ours = project()
    assert ours["name"] == "mmkit-chat"  # "mmkit" on PyPI is someone else's project
    extras = ours["optional-dependencies"]
    assert "mmkit-chat[parquet]" in extras["ray"]  # self-references name it too
    assert extras["dev"][0] == "mmkit-chat[server,testing,cli,parquet,ray]"
    assert "mmkit[" not in (ROOT / "pyproject.toml").read_text()
    assert ours["scripts"] == {"mmkit": "mmkit.cli:main"}  # the command keeps its name


@pytest.mark.timeout(3 * SLOW)
def test_the_built_wheel_installs_by_its_name_and_runs_the_first_example(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = tmp_path_factory.mktemp("install")
    assert ROOT not in home.parents  # outside the repository
    # no PYTHONPATH: the checkout must not be what gets imported
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    dist = home / "dist"
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)], home, env)
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == "mmkit_chat-0.1.0-py3-none-any.whl"

    venv = home / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], home, env)
    python = str(venv / "bin" / "python")
    install = [python, "-m", "pip", "install", "-q", "--find-links", str(dist)]
    _run([*install, "mmkit-chat[server]"], home, env)

    work = home / "elsewhere"
    work.mkdir()
    PILImage.new("RGB", (320, 240), (200, 120, 40)).save(work / "cat.jpg")
    (work / "example.py").write_text(_first_example())
    done = _run([python, "example.py"], work, env)
    assert done.stdout == 'text "What is in this picture?"; image 320×240 JPEG\n'

    where = _run(
        [python, "-c", "import importlib.metadata as m, mmkit; print(m.version('mmkit-chat'))"],
        work,
        env,
    )
    assert where.stdout == "0.1.0\n"
    site = _run([python, "-c", "import mmkit; print(mmkit.__file__)"], work, env).stdout
    assert site.startswith(str(venv)), site  # the installed copy, not the checkout
