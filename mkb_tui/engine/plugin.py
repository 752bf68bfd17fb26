"""The candidate as a plug-in: one shared object that the runner loads into a slot-able MNN library.

A stock libMNN cannot take one: a release build hides its symbols, and `CPUBackend::addCreator` refuses a second
creator for an op type. So, once per MNN release and target, the harness builds a slot-able library
(`SlotableLibrary`) in a copy of MNN's tree (the pristine tree is never written), with two same-line edits and one
file of its own:
- CMakeLists.txt: MNN_HIDDEN off, so the symbols a kernel uses are exported; -fno-semantic-interposition and
  -Bsymbolic-functions keep MNN's own calls as direct as in a hidden build;
- CPUBackend.cpp: every creator MNN registers passes through `mkbSlotWrap`;
- MKBSlotHost.cpp (plugin_src/mkb_slot_host.cpp): the slot, and the counters that prove a plug-in ran.
Both sides of a timing run on this one library, in the same process shape: the baseline with the slot empty, the
candidate with its plug-in in the slot.

A candidate's plug-in is its one source file, compiled in a `Lane` (a small directory with a build.ninja of two
edges: no copy of MNN, no CMake, no relink of libMNN) with exactly the flags MNN's CPU files get, the precompiled
prelude, and the compile sandbox, then linked against the slot-able library with -z defs (an unresolved name is a
compile error here, not a crash on the device). Its registration is rewritten into `mkb_plugin_creator`, the one
symbol the runner looks up. The judge reads a lane's build as it reads a workspace's: the translation unit
(-save-temps), the object, and the shared object's exports; and since the object is the candidate's alone, everything
it defines is the candidate's.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import shlex
from dataclasses import dataclass, replace
from pathlib import Path

from mkb_tui.device.base import remove_entry
from mkb_tui.device.local import run_limited
from mkb_tui.engine import build as builder
from mkb_tui.engine import core_table
from mkb_tui.engine import tree_guard as guard
from mkb_tui.engine.concurrency import SharedFiles, build_cpus
from mkb_tui.engine.mnn import MnnInfo
from mkb_tui.engine.prelude import _candidate_command, compile_flags, ensure_prelude
from mkb_tui.engine.slots import CANDIDATE_CPP, CANDIDATE_HPP, SUBTYPE_CHECK, Slot
from mkb_tui.engine.toolchain import Target
from mkb_tui.engine.types import BuildResult
from mkb_tui.engine.workspace import LIB_TARGET, Workspace
from mkb_tui.vocabulary.verdicts import KernelCandidate

SLOT_HOST_SRC = Path(__file__).resolve().parent / "plugin_src" / "mkb_slot_host.cpp"
SLOT_HOST = "source/backend/cpu/MKBSlotHost.cpp"
PLUGIN_NAME = "mkb_plugin.so"
PLUGIN_OBJECT = "obj/MKBCandidate.cpp.o"
_ADD_CREATOR = re.compile(r"^(bool CPUBackend::addCreator\(OpType t, Creator\* c\) \{)", re.M)
_HIDDEN = re.compile(r"^(\s*)set\(MNN_HIDDEN TRUE\)", re.M)
_REGISTER = r"REGISTER_CPU_OP_CREATOR\((\w+),\s*OpType_{op}\)\s*;?"


def available(target: Target) -> bool:
    """Plug-ins need a runner that can dlopen: the dynamic (host) one. Static targets keep the workspace path."""
    return not target.static


# ------------------------------------------------------------------------------------------ the slot-able library


def slotable_target(target: Target) -> Target:
    flags = dict(target.cmake_flags)
    flags["CMAKE_CXX_FLAGS"] = (flags.get("CMAKE_CXX_FLAGS", "") + " -fno-semantic-interposition").strip()
    flags["CMAKE_C_FLAGS"] = (flags.get("CMAKE_C_FLAGS", "") + " -fno-semantic-interposition").strip()
    # (the host target's flags already ask for no executable stack: tests/engine/test_plugin_path.py checks the library)
    flags["CMAKE_SHARED_LINKER_FLAGS"] = (flags.get("CMAKE_SHARED_LINKER_FLAGS", "") + " -Wl,-Bsymbolic-functions").strip()
    return replace(target, cmake_flags=flags)


def slotable_edits(mnn_root: Path) -> dict[str, str]:
    """The files of the slot-able copy that differ from MNN's (tree-relative path -> text); same-line edits, so MNN's
    line numbers hold in every diagnostic."""
    cmake = (mnn_root / "CMakeLists.txt").read_text(errors="replace")
    cmake, hidden = _HIDDEN.subn(r"\1set(MNN_HIDDEN FALSE)  # mkb-tui: the slot-able build exports its symbols", cmake, count=1)
    backend = (mnn_root / "source/backend/cpu/CPUBackend.cpp").read_text(errors="replace")
    hook = "CPUBackend::Creator* mkbSlotWrap(OpType type, CPUBackend::Creator* native); "
    backend, hooked = _ADD_CREATOR.subn(lambda m: hook + m.group(1) + " c = mkbSlotWrap(t, c);", backend, count=1)
    if hidden != 1 or hooked != 1:
        raise RuntimeError("this MNN tree cannot be made slot-able (CMakeLists.txt's MNN_HIDDEN or CPUBackend::addCreator changed)")
    return {"CMakeLists.txt": cmake, "source/backend/cpu/CPUBackend.cpp": backend, SLOT_HOST: SLOT_HOST_SRC.read_text()}


_slotable_locks: dict[str, asyncio.Lock] = {}


@dataclass
class SlotableLibrary:
    """The slot-able libMNN of one target, built once (later calls are a no-op ninja) and never written by a candidate:
    lanes read its tree and link against its library, runners load it."""

    mnn: MnnInfo
    target: Target

    def __post_init__(self) -> None:
        self.workspace = Workspace(self.mnn.home / f"slotable-{self.target.name}", self.mnn, slotable_target(self.target))
        # runs read this build dir and its prelude under `reading()`; a rebuild of either waits for them (RunSeal)
        self.shared = SharedFiles(self.root)

    @property
    def src(self) -> Path:
        return self.workspace.src

    @property
    def build_dir(self) -> Path:
        return self.workspace.build_dir

    @property
    def root(self) -> Path:
        return self.workspace.root

    @property
    def library(self) -> Path:
        return self.build_dir / "libMNN.so"

    def ready(self) -> bool:
        return self.library.exists() and (self.build_dir / "build.ninja").exists()

    async def ensure(self, timeout: float = 3600) -> BuildResult:
        # the common case, every evaluation after the first: nothing to build, so nothing to wait for (a rebuild waits
        # for every run in every process that reads this library, see SharedFiles)
        if await self._settled():
            return BuildResult(True, 0.0, "", [])
        lock = _slotable_locks.setdefault(str(self.root), asyncio.Lock())
        async with lock, self.shared.writing():
            await self.workspace.lock()  # other processes share this cache
            try:
                failed = await self.workspace.ensure_ready()
                if failed is not None:
                    return failed
                self.workspace.place(slotable_edits(self.mnn.root))
                built = await self.workspace.build(timeout=timeout)
                if built.ok and core_table.current(self.build_dir, self.library) is None:
                    # the traps need where the function tables point in this build (engine/core_table.py)
                    flags = await self.compile_command()
                    try:
                        if not flags:
                            raise RuntimeError("the slot-able MNN build has no CPU compile command to reuse")
                        await core_table.read_core_table(flags, self.src, self.build_dir, self.library)
                    except RuntimeError as exc:
                        return BuildResult(False, built.seconds, f"the slot-able library's function tables: {exc}", [])
                return built
            finally:
                self.workspace.unlock()

    async def _settled(self) -> bool:
        """Built from this release's edits, its function tables read, and ninja has nothing to do (a dry run: it
        writes nothing)."""
        if not self.ready() or core_table.current(self.build_dir, self.library) is None:
            return False
        for rel, text in slotable_edits(self.mnn.root).items():
            placed = self.src / rel
            if not placed.is_file() or placed.read_text(errors="replace") != text:
                return False
        proc = await run_limited(["ninja", "-n", LIB_TARGET], cwd=self.build_dir, timeout=60)
        return proc.returncode == 0 and "no work to do" in proc.stdout

    async def compile_command(self) -> list[str] | None:
        """The compiler and flags MNN's CPU files get in this build (its seed MKBCandidate.cpp's command)."""
        command = await _candidate_command(self.build_dir, self.src)
        return compile_flags(command) if command else None


# ------------------------------------------------------------------------------------------ a candidate's object


def plugin_registration_rewrite(text: str, op: str) -> tuple[str, bool]:
    """The candidate's registration of `op` becomes the plug-in's one exported function (same line)."""
    pattern = re.compile(r"^([ \t]*)" + _REGISTER.format(op=op), re.M)
    new, count = pattern.subn(
        lambda m: f'{m.group(1)}extern "C" void* mkb_plugin_creator() '
        f"{{ static {m.group(2)} mkb_creator; return static_cast<CPUBackend::Creator*>(&mkb_creator); }}",
        text,
        count=1,
    )
    return new, count == 1


def plugin_files(slot: Slot, candidate: KernelCandidate) -> dict[str, str]:
    """The lane's files for this candidate (lane-relative path -> text)."""
    text, ok = plugin_registration_rewrite(candidate.files.get(CANDIDATE_CPP, ""), slot.op_type)
    if not ok:  # the build then fails with this line, said on the candidate's file
        text += f'\n#error "mkb: register the creator with REGISTER_CPU_OP_CREATOR(YourCreator, OpType_{slot.op_type});"\n'
    return {CANDIDATE_CPP: text, CANDIDATE_HPP: candidate.files.get(CANDIDATE_HPP, "// (no header from the candidate)\n")}


def slot_env(slot: Slot) -> str:
    """MKB_SLOT for the runner: the op type, and the sub-type for the op types routed by one (as the workspace's
    dispatcher routes them)."""
    return f"{slot.op_type}/{slot.subtype}" if slot.subtype and slot.op_type in SUBTYPE_CHECK else slot.op_type


def _ninja_path(path: Path | str) -> str:
    return str(path).replace("$", "$$").replace(" ", "$ ").replace(":", "$:")


def _ninja_command(argv: list[str]) -> str:
    return shlex.join(argv).replace("$", "$$")


NINJA_STATE = ("build.ninja", ".ninja_log", ".ninja_deps")


@dataclass
class Lane:
    """One candidate's build at a time: source/backend/cpu/MKBCandidate.cpp (+ .hpp) and build/ (its object, the
    translation unit, the shared object). Held across processes by a flock while in use."""

    root: Path
    fd: int | None = None
    prelude_dir: Path | None = None  # the slot-able library's precompiled prelude this lane's last build read

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def plugin(self) -> Path:
        return self.build_dir / PLUGIN_NAME

    def place(self, files: dict[str, str]) -> None:
        """The lane's sources become exactly `files`: anything else in src/ (a header another candidate's run planted
        here, had its containment failed) is removed before the compile could read it."""
        wanted = {Path(rel).parts[: i + 1] for rel in files for i in range(len(Path(rel).parts))}
        for entry in sorted(self.src.rglob("*"), reverse=True) if self.src.is_dir() else ():
            if entry.relative_to(self.src).parts not in wanted:
                remove_entry(entry)
        for rel, text in files.items():
            path = self.src / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(errors="replace") != text:
                tmp = path.with_name(f".{path.name}.tmp")
                tmp.write_text(text)
                os.replace(tmp, path)

    def write_ninja(self, flags: list[str], lib: SlotableLibrary, target: Target) -> None:
        """Two edges: the candidate's object (through the guarded launcher: its sandbox, -save-temps and the prelude),
        then the shared object. Rewritten only when it changes, so ninja's own record of the compile stays."""
        source = self.src / CANDIDATE_CPP
        compile_argv = [str(builder.stable_launcher()), *flags, "-iquote", str(lib.src / "source/backend/cpu")]
        linker = [f for f in target.cmake_flags.get("CMAKE_SHARED_LINKER_FLAGS", "").split() if f.startswith("-fuse-ld=")]
        # no executable stack, whatever the object's notes ask (glibc would make every stack executable at dlopen)
        link_argv = [target.compiler, "-shared", *linker, "-Wl,-Bsymbolic", "-Wl,-z,relro,-z,now", "-Wl,-z,defs", "-Wl,-z,noexecstack",
                     f"-L{lib.build_dir}", "-lMNN"]  # fmt: skip
        text = "\n".join([
            "# generated by mkb-tui (engine/plugin.py): one candidate's plug-in",
            "rule CXX_COMPILER__mkb_plugin",
            f"  command = {_ninja_command(compile_argv)} -MD -MT $out -MF $DEP_FILE -o $out -c $in",
            "  depfile = $DEP_FILE",
            "  deps = gcc",
            "  description = compile $in",
            "rule LINK__mkb_plugin",
            f"  command = {_ninja_command(link_argv[:1])} -o $out $in {_ninja_command(link_argv[1:])}",
            "  description = link $out",
            f"build {PLUGIN_OBJECT}: CXX_COMPILER__mkb_plugin {_ninja_path(source)}",
            f"  DEP_FILE = {PLUGIN_OBJECT}.d",
            f"build {PLUGIN_NAME}: LINK__mkb_plugin {PLUGIN_OBJECT} | {_ninja_path(lib.library)}",
            "",
        ])  # fmt: skip
        self.build_dir.mkdir(parents=True, exist_ok=True)
        ninja = self.build_dir / "build.ninja"
        if not ninja.exists() or ninja.read_text() != text:
            ninja.write_text(text)

    async def build(self, lib: SlotableLibrary, target: Target, env: dict[str, str], timeout: float) -> BuildResult:
        flags = await lib.compile_command()
        if not flags:
            return BuildResult(False, 0.0, "the slot-able MNN build has no CPU compile command to reuse", [])
        self.write_ninja(flags, lib, target)
        # every output is made anew from the placed source: never a stale or planted object, unit or plug-in
        for entry in self.build_dir.iterdir():
            if entry.name not in NINJA_STATE:
                remove_entry(entry)
        prelude = await ensure_prelude(lib.root, lib.build_dir, lib.src, lib.shared)
        sandboxed = builder.compile_sandbox(self.src, self.build_dir, [self.src / CANDIDATE_CPP],
                                            readable=(lib.src, *((prelude.parent,) if prelude else ())))  # fmt: skip
        if prelude is not None:
            sandboxed["MKB_CANDIDATE_PRELUDE"] = str(prelude)
        self.prelude_dir = prelude.parent if prelude is not None else None
        result = await builder.ninja(self.build_dir, [PLUGIN_NAME], timeout=timeout, home=self.root,
                                     env={**env, **sandboxed}, cpus=build_cpus())  # fmt: skip
        result.diagnostics = builder.relativize(builder.relativize(result.diagnostics, self.src), lib.src)
        return result


@dataclass(frozen=True)
class RunSeal:
    """What a candidate's run could write if its containment failed, as it was before the run: the lane (the object,
    the unit, the plug-in), the shared precompiled prelude and the slot-able library's build dir (its source tree has its
    own check). Held in this process's memory, not in a file another process could seal over; nothing in them changes
    while a runner runs."""

    roots: tuple[Path, ...]
    entries: tuple[dict, ...]

    @classmethod
    def of(cls, *roots: Path | None) -> RunSeal:
        kept = tuple(r for r in roots if r is not None)
        return cls(kept, tuple(_state(r) for r in kept))

    def broken(self) -> dict[str, Path]:
        """The entries added, changed or gone since the seal ("root-name/relative" -> path). The lock's file and
        ninja's own state are not read by any compile or run (another process's no-op build may rewrite its log)."""
        found: dict[str, Path] = {}
        for root, was in zip(self.roots, self.entries):
            added, changed, missing = guard.diff(was, _state(root))
            for rel in added + changed + missing:
                if Path(rel).name not in (".lock", *NINJA_STATE[1:]):
                    found[f"{root.name}/{rel}"] = root / rel
        return found

    @staticmethod
    def discard(broken: dict[str, Path]) -> None:
        """Remove what `broken` found changed or added: the next build makes it again from trusted inputs."""
        for path in broken.values():
            if os.path.lexists(path):
                remove_entry(path)


def _state(root: Path) -> dict:
    return guard.snapshot(root) if root.is_dir() and not root.is_symlink() else {}


class Lanes:
    """As many lanes as candidates compile at once (made when needed: a lane costs two small files), shared by every
    process on this cache through one flock each."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def acquire(self) -> Lane:
        self.root.mkdir(parents=True, exist_ok=True)
        for i in range(1024):
            lane = Lane(self.root / f"lane-{i}")
            lane.root.mkdir(exist_ok=True)
            fd = os.open(lane.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            lane.fd = fd
            return lane
        raise RuntimeError("no free plug-in lane (1024 in use)")

    @staticmethod
    def release(lane: Lane) -> None:
        if lane.fd is not None:
            os.close(lane.fd)
            lane.fd = None
