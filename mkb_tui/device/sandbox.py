"""Containment for every process that runs or reads a candidate's code (runner, compiler, preprocessor, converter).

Kept tools only: bubblewrap (mount, pid, net, ipc, uts namespaces), libseccomp (the syscall filter, compiled to BPF
through ctypes), a cpuset cgroup (v1 or v2) for the core, util-linux prlimit/setpriv/taskset for limits and the user.
`contain(argv, spec)` turns a command and a SandboxSpec into the contained command; `minimal_env` is the only
environment such a process gets; `status()` says which parts work on this machine (for doctor and verdict flags).

Inside a sandbox only /usr (the toolchain and system libraries), a few files of /etc, a private /proc, /dev and /tmp,
and the paths the spec names exist, at their own paths. No home, no cache, no other workspace, no network.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import functools
import os
import platform
import shlex
import shutil
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from mkb_tui.vocabulary.flags import Flag

NOBODY = 65534
SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSW", "CREDENTIAL", "AUTH", "COOKIE", "SESSION")
CGROUP_NAME = "mkb-tui"
_SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"
_LOCALE = ("LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES")


class Processes(str, Enum):
    """What the contained program may start (a seccomp filter; ANY = no filter)."""

    ANY = "any"  # compilers: the driver runs cc1plus and as
    THREADS = "threads"  # no new processes or sessions; threads (MNN's pool, qemu's own threads) allowed
    NONE = "none"  # no new processes, sessions or threads


@dataclass(frozen=True)
class Rlimits:
    cpu_seconds: int = 120
    address_space_bytes: int = 4 << 30
    file_size_bytes: int = 256 << 20

    def items(self) -> list[tuple[str, int]]:
        return [("cpu", self.cpu_seconds), ("as", self.address_space_bytes), ("fsize", self.file_size_bytes), ("core", 0)]


@dataclass(frozen=True)
class SandboxSpec:
    """What one contained process may see and do. Paths are bound at their own path, so arguments need no rewriting."""

    readable: tuple[Path, ...] = ()  # bound read-only
    writable: tuple[Path, ...] = ()  # bound read-write
    cwd: Path | None = None
    env: tuple[tuple[str, str], ...] = ()  # on top of minimal_env(); secret-looking names are dropped
    processes: Processes = Processes.ANY
    cpus: tuple[int, ...] | None = None  # a cpuset cgroup where one can be made, else an affinity mask
    limits: Rlimits | None = None
    as_nobody: bool = True  # the program runs as uid/gid 65534 with no capabilities
    keep_caps: tuple[str, ...] = ()  # a supervisor inside keeps these (e.g. CAP_SETUID to start programs as nobody)
    network: bool = False


@dataclass
class ContainedCommand:
    """The command to spawn, the descriptors it must inherit (the seccomp program), and what containment it got."""

    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()
    flags: tuple[Flag, ...] = ()  # degraded parts, for verdicts: e.g. CPU_PIN_AFFINITY

    def close(self) -> None:
        for fd in self.pass_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.pass_fds = ()


@dataclass(frozen=True)
class SandboxStatus:
    bwrap: str | None  # path, when usable
    privileged: bool  # root: programs run as the real nobody user; else in a user namespace as the caller
    seccomp: bool
    cpuset: str  # "cgroup v1", "cgroup v2" or "affinity (cgroups not writable)"
    problems: tuple[str, ...] = field(default=())

    @property
    def usable(self) -> bool:
        return self.bwrap is not None

    def describe(self) -> str:
        user = "user nobody" if self.privileged else "user namespace"
        return f"bubblewrap ({user}, mount/pid/net namespaces), seccomp {'on' if self.seccomp else 'off'}, one core by {self.cpuset}"


def secret_name(name: str) -> bool:
    upper = name.upper()
    return any(marker in upper for marker in SECRET_MARKERS)


def minimal_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a process that touches a candidate's code or text: a system PATH, the harness's locale
    (ccache hashes it: a different locale would miss every cached object) and the caller's extras. Never the rest of
    the harness's environment (provider keys, HOME, config), whatever the extras say."""
    env = {"PATH": _SYSTEM_PATH}
    env.update({k: os.environ[k] for k in _LOCALE if k in os.environ} or {"LANG": "C"})
    env.update({k: v for k, v in (extra or {}).items() if not secret_name(k)})
    return env


# ---------------------------------------------------------------------------------------------------- seccomp

_DENIED = (
    # new processes and sessions (clone is handled apart: threads may be allowed)
    "fork", "vfork", "setsid",
    # other processes' memory and the kernel's own
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "perf_event_open", "bpf", "userfaultfd",
    # the core it was given
    "sched_setaffinity",
    # the file system view
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "name_to_handle_at", "open_by_handle_at", "mknod", "mknodat",
    # the machine
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff",
    "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "quotactl", "keyctl", "add_key",
    "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register",
    # the network (already a private, empty namespace)
    "socket", "socketpair", "connect",
    # state that outlives the run: the sandbox's IPC namespace is one for every run of a device (System V shared
    # memory, queues, semaphores; POSIX queues), so a run could leave a memo there for the next
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop",
    "semctl", "ipc", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # ... or in the metadata of what it may write (out/): extended attributes, times, modes
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "utimensat", "utimes",
    "utime", "futimesat", "chmod", "fchmod", "fchmodat", "fchmodat2",
    # timers: a signal later, when the runner reports (a line of its own after the runner's), or times nothing
    "setitimer", "alarm", "timer_create", "timer_settime", "timerfd_create", "timerfd_settime",
)  # fmt: skip
_CLONE_THREAD = 0x00010000
_ACT_ALLOW = 0x7FFF0000
_CMP_MASKED_EQ = 7


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


@functools.lru_cache(maxsize=1)
def _libseccomp():
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


@functools.lru_cache(maxsize=4)
def seccomp_program(processes: Processes) -> bytes | None:
    """The BPF program (struct sock_filter[]) for a policy, compiled by libseccomp for this machine's architecture;
    None for ANY or where libseccomp is missing. Denied calls fail with EPERM (clone3 with ENOSYS, so glibc falls
    back to clone, whose flags a filter can see); other architectures' calls kill the process."""
    lib = _libseccomp()
    if processes is Processes.ANY or lib is None:
        return None
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        return None
    try:

        def deny(name: str, code: int = errno.EPERM, *cmps: _ArgCmp) -> None:
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0:
                return  # not a call on this architecture (fork on aarch64)
            array = (_ArgCmp * len(cmps))(*cmps) if cmps else None
            rc = lib.seccomp_rule_add_array(ctx, _act_errno(code), nr, len(cmps), array)
            if rc < 0:
                raise OSError(-rc, f"seccomp rule for {name}")

        for name in _DENIED:
            deny(name)
        deny("clone3", errno.ENOSYS)
        if processes is Processes.NONE:
            deny("clone")
        else:  # a clone without CLONE_THREAD is a new process
            deny("clone", errno.EPERM, _ArgCmp(0, _CMP_MASKED_EQ, _CLONE_THREAD, 0))
        read_fd, write_fd = os.pipe()
        try:
            rc = lib.seccomp_export_bpf(ctx, write_fd)
            os.close(write_fd)
            write_fd = -1
            if rc < 0:
                return None
            chunks = []
            while chunk := os.read(read_fd, 65536):
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            os.close(read_fd)
            if write_fd >= 0:
                os.close(write_fd)
    finally:
        lib.seccomp_release(ctx)


def _program_fd(program: bytes) -> int:
    """A readable descriptor holding the program (bwrap --seccomp FD reads it to the end)."""
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, program)  # a few hundred bytes: well within a pipe's buffer
    finally:
        os.close(write_fd)
    return read_fd


# ---------------------------------------------------------------------------------------------------- cpuset


def _cpuset_v1_root() -> Path | None:
    root = Path("/sys/fs/cgroup/cpuset")
    return root if (root / "cpuset.cpus").exists() else None


def _cpuset_v2_root() -> Path | None:
    root = Path("/sys/fs/cgroup")
    try:
        return root if "cpuset" in (root / "cgroup.controllers").read_text().split() else None
    except OSError:
        return None


def _write(path: Path, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


@functools.lru_cache(maxsize=8)
def cpuset_cgroup(cpus: tuple[int, ...]) -> tuple[Path | None, str]:
    """A cgroup that holds its processes on these cores (made once, shared by every run on them), and how: the
    cgroup's process list to join, or None and why not. A process in it cannot leave the cores by sched_setaffinity."""
    cpu_list = ",".join(str(c) for c in sorted(cpus))
    try:
        if (root := _cpuset_v1_root()) is not None:
            parent = root / CGROUP_NAME
            parent.mkdir(exist_ok=True)
            mems = (root / "cpuset.mems").read_text().strip()
            if not (parent / "cpuset.cpus").read_text().strip():  # v1: a child needs its parent's cpus and mems set
                _write(parent / "cpuset.cpus", (root / "cpuset.cpus").read_text().strip())
                _write(parent / "cpuset.mems", mems)
            group = parent / f"cpu{cpu_list.replace(',', '_')}"
            group.mkdir(exist_ok=True)
            _write(group / "cpuset.cpus", cpu_list)
            _write(group / "cpuset.mems", mems)
            return group / "cgroup.procs", "cgroup v1"
        if (root := _cpuset_v2_root()) is not None:
            parent = root / CGROUP_NAME
            parent.mkdir(exist_ok=True)
            if "cpuset" not in (root / "cgroup.subtree_control").read_text().split():
                _write(root / "cgroup.subtree_control", "+cpuset")
            if "cpuset" not in (parent / "cgroup.subtree_control").read_text().split():
                _write(parent / "cgroup.subtree_control", "+cpuset")
            group = parent / f"cpu{cpu_list.replace(',', '_')}"
            group.mkdir(exist_ok=True)
            _write(group / "cpuset.cpus", cpu_list)
            return group / "cgroup.procs", "cgroup v2"
    except OSError as exc:
        return None, f"affinity (cgroups not writable: {exc.strerror or exc})"
    return None, "affinity (no cpuset cgroup on this machine)"


# ---------------------------------------------------------------------------------------------------- bwrap


@functools.lru_cache(maxsize=1)
def _bwrap() -> str | None:
    return shutil.which("bwrap") if platform.system() == "Linux" else None


def _privileged() -> bool:
    return os.geteuid() == 0


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(top):  # merged /usr: keep the symlink
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    # what the dynamic loader and the compilers' alternatives need from /etc, nothing else (no passwd, no shadow)
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def contain(argv: list[str], spec: SandboxSpec) -> ContainedCommand:
    """argv, contained as `spec` says. Raises SandboxUnavailable where bubblewrap is missing (not Linux): callers
    then decide whether an uncontained run is acceptable (it never is for candidate code, see `status`)."""
    bwrap = _bwrap()
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    flags: list[str] = []
    prefix: list[str] = []
    inner: list[str] = []
    if spec.cpus:
        procs, how = cpuset_cgroup(tuple(spec.cpus))
        if procs is not None:
            # join the cgroup, then exec: everything below (bwrap, the program, its threads) is held on the cores
            prefix += ["/bin/sh", "-c", f'echo $$ > {shlex.quote(str(procs))} && exec "$@"', "mkb-cpuset"]
        else:
            # an affinity mask set outside; the seccomp filter then keeps the program from changing it
            flags.append(Flag.CPU_PIN_AFFINITY)
            prefix += [shutil.which("taskset") or "taskset", "--cpu-list", ",".join(str(c) for c in spec.cpus)]
    if spec.limits is not None:
        prefix += [shutil.which("prlimit") or "prlimit", *(f"--{name}={value}:{value}" for name, value in spec.limits.items())]
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if not spec.network:
        args.append("--unshare-net")
    privileged = _privileged()
    if privileged:
        caps = set(spec.keep_caps) | ({"CAP_SETUID", "CAP_SETGID"} if spec.as_nobody else set())
        args += ["--cap-drop", "ALL", *[a for cap in sorted(caps) for a in ("--cap-add", cap)]]
        if spec.as_nobody:
            inner = [shutil.which("setpriv") or "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *inner]
    else:
        args += ["--unshare-user", *(["--uid", str(NOBODY), "--gid", str(NOBODY)] if spec.as_nobody else [])]
        flags.append(Flag.SANDBOX_USERNS)
    args += _system_binds()
    # /proc read-only: writing /proc/self/mem goes past every page protection (the kernel's FOLL_FORCE), which put MNN's
    # trapped native code back in a candidate's process (a red-team kernel); on a read-only mount that open is EROFS
    args += ["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    # bwrap makes a bound path's missing parents 0700: make them traversable, so that nobody reaches what is bound
    bound = [*spec.readable, *spec.writable]
    parents = sorted({p for path in bound for p in Path(path).parents if str(p) != "/"} - set(map(Path, bound)), key=lambda p: len(p.parts))
    for parent in parents:
        if parent.parts[1] not in ("usr", "proc", "dev") and parent != Path("/tmp"):
            args += ["--perms", "0755", "--dir", str(parent)]
    for path in spec.readable:
        args += ["--ro-bind", str(path), str(path)]
    for path in spec.writable:
        args += ["--bind", str(path), str(path)]
    if spec.cwd is not None:
        args += ["--chdir", str(spec.cwd)]
    env = minimal_env(dict(spec.env))
    args.append("--clearenv")
    for key, value in env.items():
        args += ["--setenv", key, value]
    pass_fds: tuple[int, ...] = ()
    program = seccomp_program(spec.processes)
    if program is not None:
        fd = _program_fd(program)
        pass_fds = (fd,)
        args += ["--seccomp", str(fd)]
    elif spec.processes is not Processes.ANY:
        flags.append(Flag.SECCOMP_OFF)
    return ContainedCommand([*prefix, *args, "--", *inner, *argv], env, pass_fds, tuple(flags))


def wrapper_script(spec: SandboxSpec) -> str:
    """A /bin/sh script that runs its arguments contained (for build tools that take a command prefix, e.g. a
    compiler launcher or ccache's prefix_command). Only for Processes.ANY: a script cannot hand over a seccomp fd."""
    if spec.processes is not Processes.ANY:
        raise ValueError("a wrapper script cannot carry a seccomp program")
    marker = "@MKB-ARGS@"
    command = contain([marker], spec)
    text = shlex.join(command.argv).replace(shlex.quote(marker), '"$@"')
    return f"#!/bin/sh\n# generated by mkb-tui: runs its arguments inside the sandbox\nexec {text}\n"


class SandboxUnavailable(RuntimeError):
    pass


@functools.lru_cache(maxsize=1)
def status() -> SandboxStatus:
    """Which parts of the sandbox work here (bwrap, the user, seccomp, the cpuset), tried for real once."""
    import subprocess

    problems: list[str] = []
    bwrap = _bwrap()
    if bwrap is None:
        problems.append("bubblewrap missing (apt-get install bubblewrap)")
    program = seccomp_program(Processes.NONE)
    if program is None:
        problems.append("libseccomp missing (apt-get install libseccomp2)")
    _, how = cpuset_cgroup((max(0, (os.cpu_count() or 1) - 1),))
    if bwrap is not None:
        try:
            cmd = contain(["/bin/true"], SandboxSpec(processes=Processes.NONE))
            try:
                proc = subprocess.run(cmd.argv, env=cmd.env, pass_fds=cmd.pass_fds, capture_output=True, timeout=30)
            finally:
                cmd.close()
            if proc.returncode != 0:
                problems.append(f"bwrap fails here: {proc.stderr.decode(errors='replace').strip()[:200]}")
                bwrap = None
        except (OSError, subprocess.SubprocessError) as exc:
            problems.append(f"bwrap fails here: {exc}")
            bwrap = None
    return SandboxStatus(bwrap, _privileged(), program is not None, how, tuple(problems))
