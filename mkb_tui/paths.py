"""Where mkb-tui keeps things: the repo's tasks/prompts, and the user cache (MNN trees, builds, ONNX exports)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = REPO_ROOT / "tasks"
PROMPTS_DIR = REPO_ROOT / "prompts"
DEFAULT_DB = REPO_ROOT / "sessions" / "mkb.sqlite"


def cache_dir() -> Path:
    """User cache root; MKB_CACHE_DIR overrides it (tests and CI use this)."""
    override = os.environ.get("MKB_CACHE_DIR")
    if override:
        path = Path(override)
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("mkb-tui"))
    path.mkdir(parents=True, exist_ok=True)
    return path
