"""No import circles among the captioning modules, counting imports inside functions (issue 18):
read from the source, so a late import that closes a circle is found before it bites."""

from __future__ import annotations

import ast
from pathlib import Path

import mmkit.caption

PACKAGE = Path(mmkit.caption.__file__).parent


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(tree: ast.Module, modules: set[str]) -> set[str]:
    """The modules of `modules` this source imports at run time (anywhere in it)."""
    found: set[str] = set()
    skip: set[int] = set()  # `if TYPE_CHECKING:` blocks never run
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            skip.update(id(child) for inner in node.body for child in ast.walk(inner))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & modules


def graph() -> dict[str, set[str]]:
    files = {f"mmkit.caption.{f.stem}": f for f in PACKAGE.glob("*.py") if f.stem != "__init__"}
    return {name: imported(ast.parse(f.read_text()), set(files)) for name, f in files.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle (its modules, the first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_cycle_finder_finds_a_late_import_circle() -> None:
    source = "from mmkit.caption.b import x\n"
    late = "def f():\n    from mmkit.caption import a\n"
    names = {"mmkit.caption.a", "mmkit.caption.b"}
    edges = {"mmkit.caption.a": imported(ast.parse(source), names)}
    edges["mmkit.caption.b"] = imported(ast.parse(late), names)
    assert cycle(edges) == ["mmkit.caption.a", "mmkit.caption.b", "mmkit.caption.a"]
    hidden = "if TYPE_CHECKING:\n    from mmkit.caption import a\n"
    edges["mmkit.caption.b"] = imported(ast.parse(hidden), names)
    assert cycle(edges) is None


def test_the_captioning_modules_import_one_another_without_a_circle() -> None:
    edges = graph()
    assert "mmkit.caption.store" in edges["mmkit.caption.parquet"]  # the graph is read at all
    assert cycle(edges) is None
