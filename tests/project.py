"""The checkout's pyproject.toml, read as data (the venv's installed metadata may be another
checkout's: an editable install of an older branch, or the distribution's older name)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 reads TOML with tomli, when it is there
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent


def project() -> dict[str, Any]:
    """The `[project]` table."""
    table: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return table


def requirements(extra: str) -> list[str]:
    """An extra's requirements with its `mmkit-chat[...]` self-references expanded, as pip does."""
    extras: dict[str, list[str]] = project()["optional-dependencies"]
    out = []
    for requirement in extras[extra]:
        if requirement.startswith("mmkit-chat["):
            for name in requirement[len("mmkit-chat[") : -1].split(","):
                out += requirements(name)
        else:
            out.append(requirement)
    return out
