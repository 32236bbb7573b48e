"""Shared test fixtures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Tests run against the checkout even when mmkit is not installed into the venv.
if importlib.util.find_spec("mmkit") is None:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of small real media files made by fixtures/make_fixtures.py."""
    return ROOT / "fixtures"
