"""Scratch workspaces: a copy of the pristine MNN tree with its own build dir, configured once, then rebuilt
incrementally per candidate. Files a candidate (or the harness) changed are restored from pristine first."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.engine import build as builder
from mkb_tui.engine.mnn import MnnInfo
from mkb_tui.engine.slots import workspace_seed_files
from mkb_tui.engine.toolchain import Target
from mkb_tui.engine.types import BuildResult
from mkb_tui.paths import cache_dir

LIB_TARGET = "MNN"


def write_file(path: Path, text: str) -> None:
    """Replace a file without touching other links to its inode (workspaces must never alter pristine files)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        if path.read_text(errors="replace") == text:
            return  # unchanged: keep the mtime so ninja does not rebuild it
        path.unlink()
    path.write_text(text)


@dataclass
class Workspace:
    root: Path
    mnn: MnnInfo
    target: Target

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def build_dir(self) -> Path:
        return self.root / f"build-{self.target.name}"

    @property
    def state_file(self) -> Path:
        return self.root / "placed.json"

    def lib_dir(self) -> Path:
        return self.build_dir

    async def ensure_ready(self) -> BuildResult | None:
        """Copy and configure on first use; returns the configure result when it failed."""
        if not (self.build_dir / "build.ninja").exists():
            if self.src.exists():
                shutil.rmtree(self.src)
            await asyncio.to_thread(shutil.copytree, self.mnn.root, self.src, symlinks=True)
            for rel, text in workspace_seed_files().items():
                write_file(self.src / rel, text)
            self.state_file.write_text("[]")
            result = await builder.configure(self.target, self.src, self.build_dir)
            if not result.ok:
                return result
        return None

    def restore(self) -> None:
        placed = json.loads(self.state_file.read_text()) if self.state_file.exists() else []
        seeds = workspace_seed_files()
        for rel in placed:
            pristine = self.mnn.root / rel
            if rel in seeds:
                write_file(self.src / rel, seeds[rel])
            elif pristine.exists():
                write_file(self.src / rel, pristine.read_text(errors="replace"))
            else:
                (self.src / rel).unlink(missing_ok=True)
        self.state_file.write_text("[]")

    def place(self, files: dict[str, str]) -> None:
        self.restore()
        for rel, text in files.items():
            target = (self.src / rel).resolve()
            if not str(target).startswith(str(self.src.resolve()) + "/"):
                raise ValueError(f"{rel}: outside the MNN tree")
            write_file(target, text)
        self.state_file.write_text(json.dumps(sorted(files)))

    async def build(self, timeout: float = 900) -> BuildResult:
        failed = await self.ensure_ready()
        if failed is not None:
            return failed
        result = await builder.ninja(self.build_dir, [LIB_TARGET], timeout=timeout, home=self.root)
        result.diagnostics = builder.relativize(result.diagnostics, self.src)
        return result


class WorkspacePool:
    """N workspaces per target: N candidates can build and run at once."""

    def __init__(self, mnn: MnnInfo, target: Target, size: int = 1) -> None:
        base = cache_dir() / "workspaces" / mnn.ref / target.name
        self._queue: asyncio.Queue[Workspace] = asyncio.Queue()
        for i in range(size):
            self._queue.put_nowait(Workspace(base / str(i), mnn, target))

    async def acquire(self) -> Workspace:
        return await self._queue.get()

    def release(self, ws: Workspace) -> None:
        self._queue.put_nowait(ws)
