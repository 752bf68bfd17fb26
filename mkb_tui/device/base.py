"""One interface for every device: local host, qemu-aarch64, an adb phone."""

from __future__ import annotations

import hashlib
import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ProcResult:
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    signal: int | None = None  # set when the process died of a signal
    survivors: int = 0  # processes the run left behind (a contained run's are killed when it ends)
    # a plan-2 run (the channel): what the supervisor measured and kept, out of the run's reach (see
    # device/_supervisor_main.py): {"layout", "runs": [[cpu_ns, wall_ns, gap_ns, sha256]...], "kept", "total_cpu_ns", "error"}
    channel: dict | None = None


@dataclass
class DeviceInfo:
    name: str
    target: str  # "host" | "aarch64": which MNN build it runs
    emulated: bool
    details: dict[str, str] = field(default_factory=dict)  # model, SoC, ABI, Android version, cores...


class Device(ABC):
    """Runs the MNN runner somewhere. Paths given to `run` are relative to the device work dir."""

    name: str
    target: str
    emulated: bool = False
    threads: int = 1  # threads the programs it runs may start (the runner's --threads); more is refused where it can be

    def containment_flags(self) -> list[str]:
        """Verdict flags for the parts of containment this device lacks (e.g. an affinity mask instead of a cpuset)."""
        return []

    @abstractmethod
    async def info(self) -> DeviceInfo: ...

    @abstractmethod
    async def push(self, files: dict[str, Path]) -> None:
        """Copy local files to device-relative names (skip unchanged ones)."""

    @abstractmethod
    async def run(self, argv: list[str], *, timeout: float, env: dict[str, str] | None = None, stdin: bytes | None = None) -> ProcResult:
        """Run argv[0] (device-relative) with the device work dir as cwd; `stdin` is fed to it (the runner's plan)."""

    @abstractmethod
    async def pull(self, remote: str, local: Path) -> None: ...

    # A device whose runs a supervisor outside the runner's address space starts (local, qemu) takes plan-2 runs:
    # input sets handed over just in time from host files under `sealed_root()`, each run timed by the supervisor.
    channel = False

    def sealed_root(self) -> Path | None:
        """The host folder the supervisor reads input sets from (never visible to a run), or None."""
        return None

    async def run_channel(self, argv: list[str], *, timeout: float, stdin: bytes, sets: list[str], keep: list[int],
                          max_out: int, env: dict[str, str] | None = None) -> ProcResult:
        """Run argv on a plan-2 plan: run i gets input set `sets[i]` (relative to `sealed_root()`) just in time; the
        outputs of the runs in `keep` come back in `ProcResult.channel`."""
        raise NotImplementedError(f"{type(self).__name__} has no supervisor to hand inputs over")

    async def remove(self, remotes: list[str]) -> None:
        """Delete device files (missing ones are fine): outputs go before a run, so a stale one is never read."""
        raise NotImplementedError(f"{type(self).__name__} cannot remove files")

    async def end_runs(self) -> None:
        """After an evaluation: nothing its runs started may outlive its verdict (a contained device ends its sandbox)."""
        return None

    async def close(self) -> None:
        return None


def named_in(stdin: bytes | None) -> list[str]:
    """The words of a run's stdin (the runner's plan names the model and inputs it reads), to check like argv."""
    return stdin.decode(errors="replace").split() if stdin else []


def named_files(argv: Iterable[str], known: Iterable[str]) -> list[str]:
    """The device-relative files among `known` that a command line names (whole arguments, or items of
    comma-separated lists: the runner takes its inputs so)."""
    known = set(known)
    found: list[str] = []
    for arg in argv:
        for item in arg.split(","):
            if item in known and item not in found:
                found.append(item)
    return found


class ContentHashes:
    """sha256 of files, remembered against their stat (size, mtime, ctime, inode) in this process's memory, so a
    file is read again only when its stat moved. ctime is set by the kernel on every write and cannot be put back,
    so a copy rewritten with its size and mtime kept is still read again. Kept in memory, not on disk: nothing a
    candidate can write tells the harness what a file holds."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, int, int, int], str]] = {}

    @staticmethod
    def _key(st: os.stat_result) -> tuple[int, int, int, int]:
        return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)

    def digest(self, path: Path) -> str | None:
        """The file's sha256, or None when it is missing or not a regular file (a symlink is never trusted)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return None
        if not (st.st_mode & 0o170000 == 0o100000):
            return None
        key = self._key(st)
        known = self._known.get(str(path))
        if known and known[0] == key:
            return known[1]
        with open(path, "rb") as f:
            value = hashlib.file_digest(f, "sha256").hexdigest()
        if self._key(os.lstat(path)) == key:  # not written while it was read
            self._known[str(path)] = (key, value)
        return value

    source = digest  # the harness's own files: the same cache

    def holds(self, path: Path, want: str | None) -> bool:
        return want is not None and self.digest(path) == want

    def record(self, path: Path, value: str) -> None:
        """`path` was just written with content `value`."""
        self._known[str(path)] = (self._key(os.lstat(path)), value)


def remove_entry(path: Path) -> None:
    """Remove a file, link or directory tree, also one a candidate made unwritable; OSError when it stays."""
    def writable(function, name, _exc) -> None:
        os.chmod(os.path.dirname(name), 0o755)
        if os.path.isdir(name) and not os.path.islink(name):
            os.chmod(name, 0o755)
        function(name)

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=writable)
    else:
        try:
            path.unlink(missing_ok=True)
        except PermissionError:
            os.chmod(path.parent, 0o755)
            path.unlink(missing_ok=True)
    if os.path.lexists(path):
        raise OSError(f"cannot remove {path}")
