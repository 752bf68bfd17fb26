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


def scratch_dir(kind: str) -> Path:
    """Per-checkout scratch space under the cache (workspaces, device work dirs). MKB_SCRATCH_TAG keeps several
    checkouts' scratch apart while they share the pristine MNN tree and its builds."""
    tag = os.environ.get("MKB_SCRATCH_TAG", "")
    return cache_dir() / (f"{kind}-{tag}" if tag else kind)
