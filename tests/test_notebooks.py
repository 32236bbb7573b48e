"""The notebooks run top to bottom, as a user would run them (code cells in one namespace)."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the notebooks name fixtures relative to the repository root
    namespace: dict[str, object] = {}
    cells = json.loads(path.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        name = f"{path.name}[{index}]"
        tree = ast.parse("".join(cell["source"]), name)
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        assert last is None or isinstance(last, ast.Expr)
        exec(compile(tree, name, "exec"), namespace)
        if last is None:
            continue
        # The last expression is what the notebook shows: it must evaluate, and render if it can.
        shown = eval(compile(ast.Expression(last.value), name, "eval"), namespace)
        if hasattr(shown, "_repr_html_"):
            assert "<" in shown._repr_html_()
    assert os.getcwd() == str(ROOT)
