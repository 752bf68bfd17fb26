"""Shared fixtures. Per-concern fixtures live in tests/<concern>/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mnn_fixtures import mnn, pipeline  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(autouse=True)
def _no_llm_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never reach a real LLM: drop any keys from the environment."""
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(key, raising=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that reaches MNN (through any fixture) carries the `mnn` marker, so `make check` can leave it out."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"mnn", "pipeline"}:
            item.add_marker(pytest.mark.mnn)
