"""What the README promises runs: its mmkit.testing example, its set-up commands, its extras."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from project import project, requirements

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def _code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def _example_tests() -> dict[str, Callable[[], Any]]:
    (code,) = _code_blocks(_section("Property-testing your own code"), "python")
    namespace: dict[str, Any] = {"__name__": "readme_example"}
    exec(compile(code, "README.md (mmkit.testing example)", "exec"), namespace)
    return {name: value for name, value in namespace.items() if name.startswith("test_")}


def test_the_property_testing_example_has_tests() -> None:
    assert sorted(_example_tests()) == [
        "test_bad_files_fail_with_an_mmkit_error_only",
        "test_every_image_goes_out_inline",
    ]


@pytest.mark.parametrize("name", sorted(_example_tests()))
def test_the_property_testing_example_passes(name: str) -> None:
    _example_tests()[name]()  # Hypothesis runs its examples; a failure raises


def test_the_property_testing_example_catches_a_broken_encoder() -> None:
    tests = _example_tests()
    example = tests["test_bad_files_fail_with_an_mmkit_error_only"]
    namespace = example.hypothesis.inner_test.__globals__  # type: ignore[attr-defined]
    working = namespace["to_my_api"]

    def broken(messages: Any) -> str:  # an encoder that lets a raw error escape
        raise ValueError("not an mmkit error")

    namespace["to_my_api"] = broken
    try:
        with pytest.raises(ValueError, match="not an mmkit error"):
            example()
    finally:
        namespace["to_my_api"] = working


def test_the_two_set_up_commands_are_the_ones_ci_runs() -> None:
    (commands,) = _code_blocks(_section("Set-up of this repository"), "sh")
    assert commands.split("\n")[:2] == ["make demo", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().endswith("\nmake test")


def test_every_extra_in_the_table_exists_and_dev_pulls_in_testing() -> None:
    extras = set(project()["optional-dependencies"])
    table = _section("Install it in your project")
    assert set(re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)) == extras
    for extra in ("testing", "dev"):
        assert any(r.startswith("hypothesis") for r in requirements(extra))
    assert any(r.startswith("uvicorn") for r in requirements("dev"))


def test_every_install_line_names_the_distribution_that_is_ours() -> None:
    """`pip install mmkit` installs an unrelated project from PyPI."""
    texts = {"README.md": README}
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        texts[notebook.name] = notebook.read_text()
    names = [
        (source, name)
        for source, text in texts.items()
        for name in re.findall(r"pip install\s+[\"'`]?([\w.-]+)", text)
    ]
    assert len(names) >= 3  # the README's two in its install section and the testing extra
    assert [n for n in names if n[1] != "mmkit-chat"] == []
