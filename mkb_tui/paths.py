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


def id_file_name(value: str) -> str:
    """A stored id (task, session) as one file name: ids are data, never paths (issue 18). Anything but letters, digits,
    '.', '_' and '-' becomes '_', no leading dot, at most 100 characters; a changed id gets a short digest so two ids
    never share a name."""
    import hashlib
    import re

    value = str(value)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", value).lstrip(".")[:100] or "_"
    if name != value:
        name += "-" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return name


def inside(root: Path, path: Path) -> Path:
    """`path`, checked to resolve inside `root` (symlinks followed); ConfigError otherwise."""
    from mkb_tui.errors import ConfigError

    if not path.resolve().is_relative_to(root.resolve()):
        raise ConfigError(f"refusing to write {path}: outside {root} (a stored id or file name tried to leave it)")
    return path
