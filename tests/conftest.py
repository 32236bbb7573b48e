"""Shared test fixtures."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Tests run against the checkout even when mmkit is not installed into the venv.
if importlib.util.find_spec("mmkit") is None:
    sys.path.insert(0, str(ROOT))

from mmkit.server import RunningServer, ServerOptions, serve_in_thread  # noqa: E402


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    """The folder of small real media files made by fixtures/make_fixtures.py."""
    return ROOT / "fixtures"


@pytest.fixture(autouse=True)
def _no_ambient_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the keys of the shell that runs it."""
    monkeypatch.delenv("BYTEZ_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    """The local conformance server with default options, on a free loopback port."""
    with serve_in_thread(ServerOptions()) as running:
        yield running


@pytest.fixture
def fresh_memo() -> Iterator[None]:
    """Nothing remembered from other tests (mmkit.formats.memo), before or after."""
    from mmkit.formats import memo

    memo.forget()
    yield
    memo.forget()
