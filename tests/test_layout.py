"""The layout stays an architecture: no import circles among mmkit's modules (counting imports
inside functions; type-only imports excepted, they never run), and one module a media part on
one shared base."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import mmkit
from mmkit import Audio, Image, Video
from mmkit.parts.base import MediaPart

PACKAGE = Path(mmkit.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_only(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
    return name == "TYPE_CHECKING"


def import_graph() -> dict[str, set[str]]:
    """Module → the mmkit modules it imports anywhere in its text (top level or in a function).
    `from pkg import sub` counts as importing pkg.sub when sub is a module, else pkg."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    packages = {name for name, path in files.items() if path.name == "__init__.py"}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = {
            id(inner)
            for node in ast.walk(tree)
            if _type_only(node)
            for stmt in node.body  # type: ignore[attr-defined]
            for inner in ast.walk(stmt)
        }
        here = name if name in packages else name.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in files else base)
            graph[name].update(t for t in targets if t in files and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of modules that import each other, directly or around a loop (Tarjan's
    strongly connected components of more than one module)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return found


def test_the_walk_sees_imports_inside_functions() -> None:
    graph = import_graph()
    # parts/base.py imports the guarded fetch only inside a method (HTTP only when needed)
    assert "mmkit.media.fetch" in graph["mmkit.parts.base"]
    assert "mmkit.display" in graph["mmkit.parts.image"]
    # and a circle made of such imports is found
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles_among_mmkit_modules() -> None:
    assert cycles(import_graph()) == []


def test_display_imports_no_part_and_no_message() -> None:
    imported = import_graph()["mmkit.display"]
    assert not {m for m in imported if m.startswith(("mmkit.parts", "mmkit.message"))}


def test_each_media_part_has_a_module_of_its_own_on_one_base() -> None:
    modules = {kind: inspect.getmodule(kind).__name__ for kind in (Image, Audio, Video)}  # type: ignore[union-attr]
    assert modules == {
        Image: "mmkit.parts.image",
        Audio: "mmkit.parts.audio",
        Video: "mmkit.parts.video",
    }
    assert all(issubclass(kind, MediaPart) for kind in (Image, Audio, Video))
