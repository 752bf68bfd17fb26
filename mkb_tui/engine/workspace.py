"""Scratch workspaces: a copy of the pristine MNN tree with its own build dir, configured once, then rebuilt
incrementally per candidate. After each evaluation the whole tree and the build dirs are checked, and anything a
candidate's process added or changed is removed or put back, so nothing it wrote is read by a later evaluation."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from mkb_tui.device.base import remove_entry
from mkb_tui.engine import build as builder
from mkb_tui.engine import tree_guard as guard
from mkb_tui.engine.concurrency import acquire_flock, build_cpus
from mkb_tui.engine.mnn import MnnInfo
from mkb_tui.engine.prelude import ensure_prelude
from mkb_tui.engine.slots import workspace_seed_files
from mkb_tui.engine.toolchain import Target, converter_target
from mkb_tui.engine.types import BuildResult
from mkb_tui.paths import scratch_dir

LIB_TARGET = "MNN"


def write_file(path: Path, text: str) -> bool:
    """Replace a file without touching other links to its inode (workspaces must never alter pristine files).
    Returns whether it wrote: an unchanged file keeps its mtime, so ninja does not rebuild it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() or path.is_symlink():
        if not path.is_symlink() and path.is_file() and path.read_text(errors="replace") == text:
            return False
        remove_entry(path)
    path.write_text(text)
    return True


@dataclass
class Workspace:
    """A scratch MNN tree and its build dirs. Its whole source tree is held to a manifest (taken when it was made,
    updated by every write of the harness), and its build dirs to the state they had when candidate code started
    to run (`seal`); `check` finds and undoes anything else (see tree_guard). Placement writes only the files whose
    content changes, so ninja rebuilds only those."""

    root: Path
    mnn: MnnInfo
    target: Target
    _lock_fd: int | None = field(default=None, init=False, repr=False)
    _manifest: dict[str, guard.Entry] | None = field(default=None, init=False, repr=False)
    untrusted: tuple[str, ...] = field(default=(), init=False)  # tree-relative files the candidate wrote

    async def lock(self, poll: float = 0.2) -> None:
        """Exclusive use across processes (the app and a batch run share the cache): wait while another holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock_fd = await acquire_flock(self.root / ".lock", poll)
        self._manifest = None  # another process may have placed and recorded since: read it again

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
    def manifest_file(self) -> Path:
        return self.root / "manifest-src.json"

    @property
    def converter_dir(self) -> Path:
        return self.root / "build-converter"

    def lib_dir(self) -> Path:
        return self.build_dir

    @property
    def fresh(self) -> bool:
        """Never configured: its first use copies MNN, configures and builds it (from ccache)."""
        return not (self.build_dir / "build.ninja").exists()

    async def ensure_ready(self) -> BuildResult | None:
        """Copy and configure on first use; returns the configure result when it failed."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # other workspaces' programs (contained, as nobody) cannot read this one
        if not (self.build_dir / "build.ninja").exists():
            await asyncio.to_thread(self._copy_tree)
        if builder.needs_configure(self.target, self.src, self.build_dir):
            result = await builder.configure(self.target, self.src, self.build_dir)
            if not result.ok:
                return result
            self._record_all()  # what configure wrote into the tree (nothing today) is the harness's
        return None

    # ------------------------------------------------------------------ what the tree should hold

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

    def _baseline_text(self, rel: str) -> str | None:
        """What a file holds when no candidate is placed: the seed, the pristine file, or nothing."""
        seeds = workspace_seed_files()
        if rel in seeds:
            return seeds[rel]
        pristine = self.mnn.root / rel
        return pristine.read_text(errors="replace") if pristine.is_file() else None

    def _record(self, rels: list[str]) -> None:
        """The harness wrote these paths (and their new parent dirs): their state is the expected one."""
        manifest = self._load()
        for rel in rels:
            parts = rel.split("/")
            for depth in range(1, len(parts) + 1):
                sub = "/".join(parts[:depth])
                try:
                    manifest[sub] = guard.entry_of(os.lstat(self.src / sub))
                except FileNotFoundError:
                    manifest.pop(sub, None)
        guard.save_manifest(self.manifest_file, manifest)

    def _record_all(self) -> None:
        self._manifest = guard.snapshot(self.src)
        guard.save_manifest(self.manifest_file, self._manifest)

    def _load(self) -> dict[str, guard.Entry]:
        if self._manifest is None:
            loaded = guard.load_manifest(self.manifest_file)
            self._manifest = loaded[0] if loaded else self._audit()
        return self._manifest

    def _audit(self) -> dict[str, guard.Entry]:
        """No usable manifest (a workspace from before manifests, or a damaged one): compare every file with what it
        should hold, content against content, put back what differs, and record the result."""
        placed = set(self._read_state())
        expected = {rel for rel in guard.snapshot(self.mnn.root)} | set(workspace_seed_files())
        for rel, entry in sorted(guard.snapshot(self.src).items()):
            if rel not in expected:
                remove_entry(self.src / rel)
            elif entry[0] == "f" and rel not in placed:
                want = self._baseline_text(rel)
                pristine = self.mnn.root / rel
                same = guard.file_digest(self.src / rel) == (guard.file_digest(pristine) if rel not in workspace_seed_files()
                                                              else guard.text_digest(want or ""))  # fmt: skip
                if not same:
                    self._put_back(rel)
        for rel in sorted(expected):
            if not os.path.lexists(self.src / rel):
                self._put_back(rel)
        manifest = guard.snapshot(self.src)
        guard.save_manifest(self.manifest_file, manifest)
        return manifest

    def _put_back(self, rel: str) -> None:
        """Restore one path to its baseline: the seed text, or a copy of the pristine entry (its mtime kept, so
        what was built from the pristine file is not rebuilt), or nothing."""
        path = self.src / rel
        seeds = workspace_seed_files()
        pristine = self.mnn.root / rel
        if os.path.lexists(path):
            remove_entry(path)
        if rel in seeds:
            write_file(path, seeds[rel])
        elif pristine.is_symlink():
            path.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(pristine), path)
        elif pristine.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, stat.S_IMODE(pristine.stat().st_mode))
        elif pristine.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(pristine, path)

    def check(self) -> guard.TreeReport:
        """See _check; a tree that cannot be put right (an entry that will not go) is copied again from pristine."""
        try:
            return self._check()
        except OSError as exc:
            self._copy_tree()
            return guard.TreeReport(removed=[f"(the whole tree: {exc}; copied again from pristine)"])

    def _copy_tree(self) -> None:
        """A fresh copy of the pristine tree with the seed files (pristine mtimes: what was built stays built)."""
        if os.path.lexists(self.src):
            remove_entry(self.src)
        shutil.copytree(self.mnn.root, self.src, symlinks=True)
        for rel, text in workspace_seed_files().items():
            write_file(self.src / rel, text)
        self._write_state([])
        self._record_all()

    def _check(self) -> guard.TreeReport:
        """Hold the whole source tree to the manifest and the build dirs to their sealed state: remove what was
        added, put back what changed or went missing (a placed file that changed goes back to its baseline; the next
        placement writes it again), drop changed build outputs so ninja makes them again."""
        manifest = self._load()
        report = guard.TreeReport()
        added, changed, missing = guard.diff(manifest, guard.snapshot(self.src))
        for rel in added:
            remove_entry(self.src / rel)
            report.removed.append(rel)
        placed = set(self._read_state())
        for rel in sorted(changed + missing):  # parents before children
            was, path = manifest[rel], self.src / rel
            if was[0] == "d" and path.is_dir() and not path.is_symlink():
                # a directory whose permissions changed (its files are held one by one): the pristine permissions
                pristine = self.mnn.root / rel
                os.chmod(path, stat.S_IMODE(pristine.stat().st_mode) if pristine.is_dir() else 0o755)
                report.restored.append(rel)
                continue
            if was[0] == "f" and rel not in placed and path.is_file() and not path.is_symlink():
                want = self._baseline_text(rel) if rel in workspace_seed_files() else None
                digest = guard.text_digest(want) if want is not None else guard.file_digest(self.mnn.root / rel)
                same_mode = want is not None or os.stat(path).st_mode == os.stat(self.mnn.root / rel).st_mode
                if same_mode and guard.file_digest(path) == digest:
                    report.touched.append(rel)  # same content (e.g. touched): only its times moved
                    continue
            self._put_back(rel)
            report.restored.append(rel)
        if report.restored or report.touched or report.removed:
            self._record(report.restored + report.touched)
        for path in sorted(self.root.glob("sealed-*.json")):  # sealed by this process, or by one killed mid-run
            loaded = guard.load_manifest(path)
            build_dir = self.root / path.stem.removeprefix("sealed-")  # never a path read from the file
            if loaded is not None and build_dir.name.startswith("build-") and build_dir.is_dir():
                self._check_build(build_dir, loaded[0], report)
            path.unlink(missing_ok=True)
        return report

    def _check_build(self, build_dir: Path, sealed: dict[str, guard.Entry], report: guard.TreeReport) -> None:
        added, changed, missing = guard.diff(sealed, guard.snapshot(build_dir))
        for rel in added + changed:
            remove_entry(build_dir / rel)  # an output that is gone is made again by the next build
            (report.removed if rel in added else report.restored).append(f"{build_dir.name}/{rel}")
        report.restored += [f"{build_dir.name}/{rel}" for rel in missing]
        if added or changed or missing:
            (build_dir / "mkb-configure.json").unlink(missing_ok=True)  # configure again: CMake's own files may be hit

    def seal(self, *build_dirs: Path) -> None:
        """Candidate code is about to run (runner, converter): remember the build dirs as they are now."""
        for build_dir in build_dirs or (self.build_dir,):
            guard.save_manifest(self.root / f"sealed-{build_dir.name}.json", guard.snapshot(build_dir))

    # ------------------------------------------------------------------ placing candidates

    def restore(self) -> None:
        """Every placed file back to its baseline."""
        self.place({})

    def place(self, files: dict[str, str]) -> None:
        """Make the tree hold `files` on top of the baseline. Only files whose content changes are written."""
        # checked before every placement too, not only after each evaluation: a process killed mid-evaluation, or one
        # that outlived its evaluation, may have written since
        self.check()
        src = self.src.resolve()
        for rel in files:
            if not str((self.src / rel).resolve()).startswith(str(src) + "/"):
                raise ValueError(f"{rel}: outside the MNN tree")
        previous = self._read_state()
        self._write_state(previous + list(files))  # intent first: a kill while the files are written still restores them
        written = []
        for rel in previous:
            if rel not in files:
                text = self._baseline_text(rel)
                if text is None:
                    if os.path.lexists(self.src / rel):
                        remove_entry(self.src / rel)
                        written.append(rel)
                elif write_file(self.src / rel, text):
                    written.append(rel)
        for rel, text in files.items():
            if write_file(self.src / rel, text):
                written.append(rel)
        if written:
            self._record(written)
        self._write_state(list(files))

    def compile_sandbox(self, build_dir: Path) -> dict[str, str]:
        """The environment under which this workspace's compiles run contained (see build.compile_sandbox); the
        candidate's own files (`untrusted`, set with each placement) get the strict limits and never ccache."""
        return builder.compile_sandbox(self.src, build_dir, [self.src / rel for rel in self.untrusted])

    async def build_converter(self, timeout: float = 3600, env: dict[str, str] | None = None) -> BuildResult:
        """MNN's converter from this workspace's tree (combiner candidates live in it): incremental after the first."""
        from mkb_tui.engine.converter import build_converter

        failed = await self.ensure_ready()
        if failed is not None:
            return failed
        added = []
        for rel, text in workspace_seed_files().items():  # workspaces made before combiner slots existed
            if not (self.src / rel).exists():
                write_file(self.src / rel, text)
                added.append(rel)
        if added:
            self._record(added)
        configuring = builder.needs_configure(converter_target(), self.src, self.converter_dir)
        # off the timing core, like the library's builds: a combiner's converter builds while others are timed
        result = await build_converter(self.src, self.converter_dir, self.root, timeout=timeout, cpus=build_cpus(),
                                       env={**(env or {}), **self.compile_sandbox(self.converter_dir)})  # fmt: skip
        if configuring:
            self._record_all()  # what CMake's first configure of the converter wrote into the tree is the harness's
        result.diagnostics = builder.relativize(result.diagnostics, self.src)
        return result

    async def build(self, timeout: float = 900, env: dict[str, str] | None = None) -> BuildResult:
        failed = await self.ensure_ready()
        if failed is not None:
            return failed
        prelude = await ensure_prelude(self.root, self.build_dir, self.src)  # MNN's headers, parsed once per workspace
        sandboxed = builder.compile_sandbox(self.src, self.build_dir, [self.src / rel for rel in self.untrusted],
                                            readable=(prelude.parent,) if prelude else ())  # fmt: skip
        if prelude is not None:
            sandboxed["MKB_CANDIDATE_PRELUDE"] = str(prelude)
        # off the timing core: a candidate's build never disturbs another's timing
        result = await builder.ninja(self.build_dir, [LIB_TARGET], timeout=timeout, home=self.root,
                                     env={**(env or {}), **sandboxed}, cpus=build_cpus())  # fmt: skip
        result.diagnostics = builder.relativize(result.diagnostics, self.src)
        return result


class WorkspacePool:
    """Up to `size` workspaces per target, made when first needed (a copy of MNN, configured, built from ccache: the
    first-time cost) and reused across tasks, the most recently released first (its build is the warmest)."""

    def __init__(self, mnn: MnnInfo, target: Target, size: int = 1, name: str = "") -> None:
        self.base = scratch_dir("workspaces") / mnn.ref / target.name
        self.mnn, self.target, self.name = mnn, target, name
        self.size = max(1, size)
        self.made = 0
        self._free: asyncio.LifoQueue[Workspace] = asyncio.LifoQueue()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _queue(self) -> asyncio.LifoQueue[Workspace]:
        """The free list, for the running event loop (a queue is bound to the loop it first waited in)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            free = []
            while not self._free.empty():
                free.append(self._free.get_nowait())
            self._free, self._loop = asyncio.LifoQueue(), loop
            for ws in reversed(free):
                self._free.put_nowait(ws)
        return self._free

    async def acquire(self) -> Workspace:
        free = self._queue()
        if free.empty() and self.made < self.size:
            ws = Workspace(self.base / f"{self.name}{self.made}", self.mnn, self.target)
            self.made += 1
        else:
            ws = await free.get()
        try:
            await ws.lock()
        except BaseException:
            free.put_nowait(ws)
            raise
        return ws

    def release(self, ws: Workspace) -> None:
        ws.unlock()
        self._queue().put_nowait(ws)
