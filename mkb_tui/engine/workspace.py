"""Scratch workspaces: a copy of the pristine MNN tree with its own build dir, configured once, then rebuilt
incrementally per candidate. Files a candidate (or the harness) changed are restored from pristine first."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mkb_tui.engine import build as builder
from mkb_tui.engine.mnn import MnnInfo
from mkb_tui.engine.slots import workspace_seed_files
from mkb_tui.engine.toolchain import Target
from mkb_tui.engine.types import BuildResult
from mkb_tui.paths import scratch_dir

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
    _lock_fd: int | None = field(default=None, init=False, repr=False)

    async def lock(self, poll: float = 0.2) -> None:
        """Exclusive use across processes (the app and a batch run share the cache): wait while another holds it.
        Polls instead of blocking in a thread, so a cancelled wait never leaves a lock held."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                return
            except BlockingIOError:
                try:
                    await asyncio.sleep(poll)
                except BaseException:
                    os.close(fd)
                    raise

    def unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def build_dir(self) -> Path:
        return self.root / f"build-{self.target.name}"

    @property
    def state_file(self) -> Path:
        return self.root / "placed.json"

    @property
    def converter_dir(self) -> Path:
        return self.root / "build-converter"

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
            self._write_state([])
        if builder.needs_configure(self.target, self.src, self.build_dir):
            result = await builder.configure(self.target, self.src, self.build_dir)
            if not result.ok:
                return result
        return None

    def _write_state(self, placed: list[str]) -> None:
        # atomic: a kill -9 mid-write must not leave a truncated state that bricks the workspace
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(set(placed))))
        os.replace(tmp, self.state_file)

    def _read_state(self) -> list[str]:
        try:
            return list(json.loads(self.state_file.read_text())) if self.state_file.exists() else []
        except (ValueError, TypeError):
            return list(workspace_seed_files())  # unreadable (older non-atomic write): at least reset the slot files

    def restore(self) -> None:
        placed = self._read_state()
        seeds = workspace_seed_files()
        for rel in placed:
            pristine = self.mnn.root / rel
            if rel in seeds:
                write_file(self.src / rel, seeds[rel])
            elif pristine.exists():
                write_file(self.src / rel, pristine.read_text(errors="replace"))
            else:
                (self.src / rel).unlink(missing_ok=True)
        self._write_state([])

    def place(self, files: dict[str, str]) -> None:
        self.restore()
        self._write_state(list(files))  # intent first: a kill while the files are written still restores them next time
        for rel, text in files.items():
            target = (self.src / rel).resolve()
            if not str(target).startswith(str(self.src.resolve()) + "/"):
                raise ValueError(f"{rel}: outside the MNN tree")
            write_file(target, text)

    async def build_converter(self, timeout: float = 3600) -> BuildResult:
        """MNN's converter from this workspace's tree (combiner candidates live in it): incremental after the first."""
        from mkb_tui.engine.converter import build_converter

        failed = await self.ensure_ready()
        if failed is not None:
            return failed
        for rel, text in workspace_seed_files().items():  # workspaces made before combiner slots existed
            if not (self.src / rel).exists():
                write_file(self.src / rel, text)
        result = await build_converter(self.src, self.converter_dir, self.root, timeout=timeout)
        result.diagnostics = builder.relativize(result.diagnostics, self.src)
        return result

    async def build(self, timeout: float = 900) -> BuildResult:
        failed = await self.ensure_ready()
        if failed is not None:
            return failed
        result = await builder.ninja(self.build_dir, [LIB_TARGET], timeout=timeout, home=self.root)
        result.diagnostics = builder.relativize(result.diagnostics, self.src)
        return result


class WorkspacePool:
    """N workspaces per target: N candidates can build and run at once."""

    def __init__(self, mnn: MnnInfo, target: Target, size: int = 1, name: str = "") -> None:
        base = scratch_dir("workspaces") / mnn.ref / target.name
        self._queue: asyncio.Queue[Workspace] = asyncio.Queue()
        for i in range(size):
            self._queue.put_nowait(Workspace(base / f"{name}{i}", mnn, target))

    async def acquire(self) -> Workspace:
        ws = await self._queue.get()
        try:
            await ws.lock()
        except BaseException:
            self._queue.put_nowait(ws)
            raise
        return ws

    def release(self, ws: Workspace) -> None:
        ws.unlock()
        self._queue.put_nowait(ws)
