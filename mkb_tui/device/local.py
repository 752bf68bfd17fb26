"""The local device: runs the host build on this machine, in a work dir, under resource limits."""

from __future__ import annotations

import asyncio
import errno
import os
import platform
import resource
import shutil
import signal
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.device.base import ContentHashes, Device, DeviceInfo, ProcResult, named_files, named_in, remove_entry
from mkb_tui.device.sandbox import NOBODY, Processes, Rlimits, SandboxSpec, contain, minimal_env, status
from mkb_tui.vocabulary.flags import Flag


@dataclass(frozen=True)
class Limits:
    """Resource limits for untrusted code: set by util-linux wrappers that exec the program, or in the child before exec."""

    cpu_seconds: int = 120
    address_space_bytes: int = 4 << 30
    file_size_bytes: int = 256 << 20
    processes: int | None = None  # RLIMIT_NPROC; ignored for root by the kernel, so also enforced statically
    cpus: tuple[int, ...] | None = None  # pin to these cores: unpinned runs of tiny ops are bimodal (8.5 vs 13.5 us)

    def command_prefix(self) -> list[str] | None:
        """These limits as util-linux commands that set them and exec the program (same pid, so signals and the
        process group are the program's). Python then spawns without preexec_fn: a preexec_fn forks the whole harness
        (torch loaded), 11 ms per process against 2.6 ms with the prefix (measured), and an evaluation starts ~80
        runner processes. None where the tools are missing (not Linux): `apply` runs in the child instead."""
        if _TOOLS is None:
            return None
        prefix = [_TOOLS["prlimit"], *(f"--{name}={value}:{value}" for name, value in self._rlimits())]
        prefix += [_TOOLS["setpriv"], "--pdeathsig", "KILL"]  # as PR_SET_PDEATHSIG in apply()
        if self.cpus:
            prefix += [_TOOLS["taskset"], "--cpu-list", ",".join(str(c) for c in self.cpus)]
        return prefix

    def rlimits(self) -> Rlimits:
        return Rlimits(self.cpu_seconds, self.address_space_bytes, self.file_size_bytes)

    def _rlimits(self) -> list[tuple[str, int]]:
        limits = [("cpu", self.cpu_seconds), ("as", self.address_space_bytes), ("fsize", self.file_size_bytes), ("core", 0)]
        return limits + ([("nproc", self.processes)] if self.processes is not None else [])

    def apply(self) -> None:
        for name, value in self._rlimits():
            resource.setrlimit(getattr(resource, f"RLIMIT_{name.upper()}"), (value, value))
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)
        if _PRCTL is not None:
            # Linux: SIGKILL this child when the harness dies (kill -9 included), so no orphaned build or run
            # keeps changing a workspace that a resumed session is about to use
            _PRCTL(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def _load_prctl():
    """libc's prctl, looked up in the parent (a forked child of a threaded process should not dlopen)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: a killed harness may leave its last build running


_PRCTL = _load_prctl() if platform.system() == "Linux" else None


def _find_tools() -> dict[str, str] | None:
    tools = {name: shutil.which(name) for name in ("prlimit", "setpriv", "taskset")}
    return tools if platform.system() == "Linux" and all(tools.values()) else None  # type: ignore[return-value]


_TOOLS = _find_tools()


async def run_limited(
    argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None, limits: Limits | None = None,
    stdin: bytes | None = None,
) -> ProcResult:
    """Run argv with limits and a wall-clock timeout; kill the whole process group on timeout."""
    limits = limits or Limits()
    prefix = limits.command_prefix()
    return await _spawn(
        [*(prefix or []), *argv], cwd=cwd, timeout=timeout, env=minimal_env(env),  # never the harness's own environment
        preexec_fn=None if prefix is not None else limits.apply, stdin=stdin,
    )  # fmt: skip


async def run_contained(argv: list[str], spec: SandboxSpec, *, timeout: float) -> ProcResult:
    """Run argv in its own sandbox (one bwrap for this process: for occasional programs such as the converter; a
    device's many runs go through its supervisor instead)."""
    cmd = contain(argv, spec)
    try:
        return await _spawn(cmd.argv, cwd=spec.cwd or Path("/"), timeout=timeout, env=cmd.env, pass_fds=cmd.pass_fds)
    finally:
        cmd.close()


async def _spawn(argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str], preexec_fn=None,
                 pass_fds: tuple[int, ...] = (), stdin: bytes | None = None) -> ProcResult:  # fmt: skip
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        start_new_session=True,  # own process group so a timeout kills every descendant
        preexec_fn=preexec_fn,
        pass_fds=pass_fds,
    )
    timed_out = False
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError) as exc:
        timed_out = isinstance(exc, asyncio.TimeoutError)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = await proc.communicate()
        if not timed_out:
            raise
    rc = proc.returncode
    return ProcResult(
        returncode=rc,
        stdout=out.decode(errors="replace"),
        stderr=err.decode(errors="replace"),
        seconds=time.monotonic() - started,
        timed_out=timed_out,
        signal=-rc if rc is not None and rc < 0 else None,
    )


def timing_core() -> int:
    """The core the runner is pinned to (the last this process may use): timing owns it, builds stay off it."""
    try:
        return max(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return (os.cpu_count() or 1) - 1


class LocalDevice(Device):
    """Runs in `workdir`. Contained (where bubblewrap works): each run sees only the work dir (read-only) and its out/
    (writable), runs as nobody under seccomp, on its core's cpuset, and everything it started ends with it. Paths
    given to `run` must therefore be in the work dir (push them) or the system's /usr."""

    name = "local"
    target = "host"
    emulated = False
    channel = True
    # the supervisor copies each run's input and outputs into and out of the runner's session tensors (an emulator's
    # guest addresses are not its process's: qemu keeps the runner's copies)
    direct_channel = True

    def __init__(self, workdir: Path, limits: Limits | None = None, *, contained: bool | None = None, sealed: Path | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        # the runner gets the last core to itself as far as we can arrange
        self.limits = limits or Limits(cpus=(timing_core(),))
        self.hashes = ContentHashes()
        self._pushed: dict[str, Path] = {}  # device-relative name -> the local file it must hold
        self._outputs: set[str] = set()  # names runs write (the harness removes them before each run)
        self.restored: list[str] = []  # device copies found damaged before a run and put back
        self.contained = status().usable if contained is None else contained
        self._supervisor = None
        self.sealed = sealed
        self.out_dir = self.workdir / "out"
        self.out_dir.mkdir(exist_ok=True)
        if self.contained and os.geteuid() == 0:
            os.chmod(self.workdir, 0o755)  # nobody reads its own work dir in the sandbox (bound at this path)
            for path in (self.out_dir, *self.out_dir.rglob("*")):
                os.chown(path, NOBODY, NOBODY)  # the run writes its outputs as nobody

    def processes(self) -> Processes:
        """What a run may start: with one thread nothing at all; with more, threads (MNN's pool) but no processes."""
        return Processes.NONE if self.threads <= 1 else Processes.THREADS

    def containment_flags(self) -> list[str]:
        if not self.contained:
            return [Flag.UNCONTAINED]
        return list(self._supervisor.flags) if self._supervisor is not None else []

    async def info(self) -> DeviceInfo:
        return DeviceInfo(
            name=self.name,
            target=self.target,
            emulated=False,
            details={"machine": platform.machine(), "cores": str(os.cpu_count()), "system": platform.platform()},
        )

    async def push(self, files: dict[str, Path]) -> None:
        """Copy each file unless the device copy already holds the same bytes (by content hash), and remove what no
        push accounts for beside them (left by an earlier evaluation's last run)."""
        for remote, local in files.items():
            self._ensure(remote, Path(local))
        self.sweep(list(files))

    def _ensure(self, remote: str, local: Path) -> bool:
        """Make the device copy hold `local`'s bytes; True when it had to be (re)written."""
        want = self.hashes.source(local)
        dest = self.workdir / remote
        if self.hashes.holds(dest, want):
            self._pushed[remote] = local
            return False
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.mkb-tmp")
        shutil.copy2(local, tmp)
        os.replace(tmp, dest)  # a new inode: a hard link the candidate made to the old copy is left alone
        self.hashes.record(dest, want)
        self._pushed[remote] = local
        return True

    def check_inputs(self, argv: list[str]) -> list[str]:
        """Before and after a run: every pushed file the command names (the runner, the model, the inputs), and every
        pushed file in the writable out/ (which no command names, but a run could replace there and read again in the
        next), still holds what was pushed, or is restored now. Returns the names that had to be restored."""
        names = dict.fromkeys([*named_files(argv, self._pushed), *(r for r in self._pushed if r.startswith("out/"))])
        return [remote for remote in names if self._ensure(remote, self._pushed[remote])]

    async def remove(self, remotes: list[str]) -> None:
        for remote in remotes:
            self._outputs.add(remote)  # a name the harness lets runs write
            remove_entry(self.workdir / remote)  # whatever a run made of the name: a file, a link, a directory tree

    def sweep(self, names: list[str]) -> list[str]:
        """Before a run: remove what no harness push or output name accounts for, in the work dir, its out/ and the
        folders of the files the run names (e.g. a memo an earlier process left for later ones). Returns them."""
        keep = set(self._pushed) | self._outputs
        parents = {str(Path(name).parent) for name in keep} | {"."}
        ancestors = {str(p) for name in keep for p in Path(name).parents} | {"out"}  # out/ is bound into the sandbox
        found = []
        for folder in sorted(parents & ({".", "out"} | {str(Path(n).parent) for n in names})):
            try:
                entries = list(os.scandir(self.workdir / folder))
            except FileNotFoundError:
                continue
            for entry in entries:
                rel = entry.name if folder == "." else f"{folder}/{entry.name}"
                if rel in keep and entry.is_file(follow_symlinks=False):
                    continue  # a harness name, still a plain file (a link or directory under it goes)
                if rel in ancestors and rel not in keep and entry.is_dir(follow_symlinks=False):
                    continue
                remove_entry(Path(entry.path))
                found.append(rel)
        return found

    def sealed_root(self) -> Path:
        """Input sets live in the host's reference cache, which no sandbox mounts: the supervisor reads them through
        a descriptor opened outside."""
        if self.sealed is None:
            from mkb_tui.paths import cache_dir

            self.sealed = cache_dir() / "refs"
        return self.sealed

    async def run_channel(self, argv: list[str], *, timeout: float, stdin: bytes, sets: list[str], keep: list[int],
                          max_out: int, env: dict[str, str] | None = None) -> ProcResult:
        channel = {"sets": sets, "keep": keep, "max_out": max_out, "direct": self.direct_channel}
        return await self.run(argv, timeout=timeout, env=env, stdin=stdin, channel=channel)

    async def run(self, argv: list[str], *, timeout: float, env: dict[str, str] | None = None, stdin: bytes | None = None,
                  channel: dict | None = None) -> ProcResult:
        names = argv + named_in(stdin)
        self.restored += self.check_inputs(names) + self.sweep(names)
        others = sorted(self._outputs - set(names))  # output names of other runs: pulled already, none of this run's
        for name in others:
            remove_entry(self.workdir / name)
        try:
            return await self._run(argv, timeout=timeout, env=env, stdin=stdin, channel=channel)
        finally:
            # and after it: what the run changed or left is put back now, before the harness pulls its outputs or
            # starts the next run (and counted against this run's evaluation, not the next one's); an output name
            # this run was not given (another run's record) holds what the run left for a later one
            self.restored += self.check_inputs(names) + self.sweep(names)
            for name in others:
                if os.path.lexists(self.workdir / name):
                    remove_entry(self.workdir / name)
                    self.restored.append(name)

    async def _run(self, argv: list[str], *, timeout: float, env: dict[str, str] | None, stdin: bytes | None,
                   channel: dict | None = None) -> ProcResult:
        exe = argv[0] if os.path.isabs(argv[0]) else str(self.workdir / argv[0])
        if not self.contained and channel is None:
            return await run_limited([exe, *argv[1:]], cwd=self.workdir, timeout=timeout, env=env, limits=self.limits, stdin=stdin)
        if self._supervisor is not None and self._supervisor.contained != self.contained:
            await self._supervisor.close()  # containment changed (set up again): never run under the other kind
            self._supervisor = None
        if self._supervisor is None:
            from mkb_tui.device.supervisor import Supervisor

            spec = SandboxSpec(readable=(self.workdir,), writable=(self.out_dir,), cwd=self.workdir, cpus=self.limits.cpus)
            # uncontained (no bubblewrap): the supervisor still hands inputs over and keeps the clock
            self._supervisor = Supervisor(spec, self.sealed_root(), contained=self.contained)
        return await self._supervisor.run([exe, *argv[1:]], cwd=self.workdir, env=minimal_env(env), timeout=timeout,
                                          limits=self.limits.rlimits(), processes=self.processes(), cpus=self.limits.cpus,
                                          stdin=stdin, channel=channel)  # fmt: skip

    async def pull(self, remote: str, local: Path) -> None:
        """Copy a file a run wrote: a plain file only, never followed through a link a run made (which could name
        any host file, or /dev/zero)."""
        local.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.workdir / remote, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, f"{remote} is not a plain file")
            with os.fdopen(os.dup(fd), "rb") as source, open(local, "wb") as dest:
                shutil.copyfileobj(source, dest)
        finally:
            os.close(fd)

    async def end_runs(self) -> None:
        if self._supervisor is not None:
            await self._supervisor.close()  # the sandbox's pid namespace ends, with anything still in it

    async def close(self) -> None:
        await self.end_runs()
