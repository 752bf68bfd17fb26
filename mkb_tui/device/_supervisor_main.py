"""The supervisor that starts a device's runs inside its sandbox (run as `python -I -S` there: stdlib only, no mkb_tui).

One bubblewrap sandbox per device, started once, because bwrap costs ~5-9 ms per process and an evaluation starts ~80
runner processes. The supervisor keeps CAP_SETUID/SETGID/KILL only; each run is forked from it, limited (rlimits, the
nobody user, no new privileges, the seccomp program), then exec'd. After each run every other process in the sandbox's
pid namespace is killed, and counted: nothing a run started outlives its result.

Protocol, one JSON object per line: first the config {"uid", "programs": {name: base64 BPF}, "max_output",
"sealed_fd": int|null}; then requests {"argv", "cwd", "env", "timeout", "rlimits": {name: value}, "program": name|null,
"cpus": [..]|null, "stdin": base64|null, "channel": {...}|null}, each answered with {"returncode", "stdout", "stderr",
"seconds", "timed_out", "survivors", "channel": {...}|null} or {"error"}.

The channel (a runner on plan 2, mkb_runner.cpp): the supervisor is the clock that decides, and the only holder of the
inputs. Input sets are read from `sealed_fd`, a directory the host opened outside the sandbox and that is mounted
nowhere inside it, so no run can name it; this process is not dumpable, so no run can reach its memory or its
descriptors through /proc either. Each run's input set is written into the runner's input memory file only when that
run starts, after the previous run's time was taken. Per run the supervisor takes its own monotonic clock and the
kernel's account of the runner's CPU time (all its threads, read through the process CPU clock) when it hands the
input over and when the runner says the outputs are in place; between the two, with runner and supervisor on one
core, the runner's code is the only thing that ran on its behalf. It hashes every run's outputs itself and keeps the
bytes of the runs the host asked for. Request {"sets": [path per run, relative to sealed_fd], "keep": [run, ...],
"max_out": bytes}; answer {"layout": the runner's output layout line, "runs": [[cpu_ns, wall_ns, gap_ns, sha256], ...],
"kept": {run: base64}, "total_cpu_ns", "error": str|null}.
"""

import base64
import ctypes
import hashlib
import json
import os
import resource
import select
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _child(req, program, uid, out_w, err_w, libc, stdin_fd, channel_fds=()):
    """In the forked child: never returns (exec or _exit). `channel_fds` become descriptors 3, 4, 5, ... in order."""
    try:
        high = [os.dup(fd) for fd in (stdin_fd if stdin_fd is not None else os.open("/dev/null", os.O_RDONLY), out_w, err_w, *channel_fds)]
        high = [fcntl_dupfd(fd, 100 + i) for i, fd in enumerate(high)]  # out of the way of 0..2+len(channel_fds)
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        os.closerange(3 + len(channel_fds), 65536)
        if not req.get("namespace", True):
            os.setsid()  # a session of its own: what the run starts is told apart from the host's processes
        os.chdir(req["cwd"])
        for name, value in req["rlimits"].items():
            resource.setrlimit(getattr(resource, "RLIMIT_" + name.upper()), (value, value))
        if req.get("cpus"):
            os.sched_setaffinity(0, req["cpus"])  # where no cpuset cgroup holds the sandbox; seccomp keeps it
        if uid is not None:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
        if program is not None:
            buf = ctypes.create_string_buffer(program, len(program))
            prog = _Fprog(len(program) // 8, ctypes.addressof(buf))
            if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "seccomp filter")
        os.execve(req["argv"][0], req["argv"], req["env"])
    except BaseException as exc:  # noqa: BLE001 - report anything, then leave without Python's cleanup
        try:
            os.write(2, f"mkb-supervisor: cannot start {req['argv'][0]}: {exc}\n".encode())
        finally:
            os._exit(127)


def fcntl_dupfd(fd: int, lowest: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD, lowest)


def _others(session: int | None = None) -> list[int]:
    """Live processes in this pid namespace other than its init (1) and this supervisor; with `session`, only those
    of that session (an uncontained supervisor shares the host's namespace: only what its run started is its own)."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] not in ("Z", "X") and (session is None or int(fields[3]) == session):
                found.append(int(name))
    return found


MAX_LAYOUT = 8192  # bytes of the runner's output layout line
POISON = b"\xad\xde\xc0\x7f"  # a quiet NaN: what the output memory file holds where a run wrote nothing


def _mkbt_data(fd: int) -> bytes:
    """The tensors' bytes of an MKBT file (the harness's own file: the host wrote it), one after another."""
    with os.fdopen(fd, "rb") as f:
        raw = f.read()
    if raw[:4] != b"MKBT":
        raise ValueError("not an MKBT file")
    count = int.from_bytes(raw[8:12], "little")
    at, parts = 12, []
    for _ in range(count):
        name_len = int.from_bytes(raw[at:at + 4], "little")
        at += 4 + name_len + 4  # name, dtype
        ndim = int.from_bytes(raw[at:at + 4], "little")
        at += 4 + 8 * ndim
        nbytes = int.from_bytes(raw[at:at + 8], "little")
        at += 8
        parts.append(raw[at:at + nbytes])
        at += nbytes
    return b"".join(parts)


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_LIBC = ctypes.CDLL(None, use_errno=True)
MAX_REGIONS = 64  # tensors a runner may announce each way


def _vm(pid: int, address: int, buf, size: int, write: bool) -> bool:
    """Copies `size` bytes between this process's `buf` and the runner's memory at `address` (process_vm_writev /
    readv: the kernel's copy, on this process's clock, never the runner's)."""
    local = _Iovec(ctypes.cast(buf, ctypes.c_void_p), size)
    remote = _Iovec(address, size)
    call = _LIBC.process_vm_writev if write else _LIBC.process_vm_readv
    call.restype = ctypes.c_ssize_t
    return call(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) == size


class _Channel:
    """The supervisor's side of one plan-2 run: hands each run its input, times it, hashes and keeps its outputs.

    Direct runs (local devices, `direct` in the spec): the runner announces where the session's own input and output
    tensors are; the supervisor writes each input there and reads each output from there itself, so the runner copies
    nothing and no copy is subtracted from a run's charge (a kernel that answered the channel itself skipped the
    runner's copies and was credited for them). Where the kernel refuses the copy (another user, qemu's guest
    addresses), the runner copies from and to the memory files as before ('G' instead of 'H')."""

    def __init__(self, spec: dict, sealed_fd: int | None) -> None:
        if sealed_fd is None:
            raise ValueError("this supervisor holds no input sets")
        self.sets_per_run: list[str] = list(spec["sets"])
        self.keep = {int(r) for r in spec.get("keep") or ()}
        self.max_out = int(spec.get("max_out") or (1 << 30))
        data = {}
        for name in dict.fromkeys(self.sets_per_run):
            if name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"input set {name!r} is not inside the sealed directory")
            data[name] = _mkbt_data(os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=sealed_fd))
        self.data = data
        sizes = {len(v) for v in data.values()}
        if len(sizes) != 1:
            raise ValueError("the input sets of one process differ in size")
        self.in_bytes = sizes.pop()
        self.inputs = os.memfd_create("mkb-inputs", os.MFD_CLOEXEC)
        os.ftruncate(self.inputs, self.in_bytes)
        self.inputs_ro = os.open(f"/proc/self/fd/{self.inputs}", os.O_RDONLY | os.O_CLOEXEC)  # the runner's: read-only
        self.outputs = os.memfd_create("mkb-outputs", os.MFD_CLOEXEC)
        self.go_r, self.go_w = os.pipe()
        self.ctl_r, self.ctl_w = os.pipe()
        self.pid = None
        self.buffer = bytearray()
        self.layout = None
        self.ready = False  # the first input went out
        self.out_bytes = 0
        self.poison = b""
        self.run = 0  # the run whose 'D' is awaited (or whose input goes next)
        self.started_cpu = self.started_wall = 0
        self.last_done_cpu = None
        self.runs: list[list] = []
        self.kept: dict[int, str] = {}
        self.error = None
        self.finished = False
        self.direct_allowed = bool(spec.get("direct"))
        self.regions_in: list[tuple[int, int, int]] = []  # (offset in the input set, runner address, bytes)
        self.regions_out: list[tuple[int, int, int]] = []
        self.direct: bool | None = None  # decided at the first run
        self._poison_buf = self._out_buf = None
        self._in_bufs: dict[str, ctypes.Array] = {}

    def child_fds(self) -> tuple[int, ...]:
        return (self.go_r, self.inputs_ro, self.ctl_w, self.outputs)  # the runner's 3, 4, 5, 6

    def started(self, pid: int) -> None:
        self.pid = pid
        self.clock = ((~pid) << 3) | 2  # the process's CPU clock (CPUCLOCK_SCHED, whole thread group)
        for fd in (self.go_r, self.inputs_ro, self.ctl_w):
            os.close(fd)

    def cpu_ns(self) -> int:
        """The runner's CPU time so far; its last reading once it has exited (its clock is gone with it)."""
        try:
            self.last_cpu = time.clock_gettime_ns(self.clock)
        except OSError:
            self.error = self.error or "the runner ended in the middle of the channel's protocol"
        return getattr(self, "last_cpu", 0)

    def on_bytes(self, chunk: bytes) -> None:
        """What the runner wrote on its control descriptor."""
        self.buffer += chunk
        while self.buffer and not self.finished and self.error is None:
            if self.layout is None and self.buffer[:1] != b"D":
                end = self.buffer.find(b"\n")
                if end < 0:
                    if len(self.buffer) > MAX_LAYOUT:
                        self.error = "the runner's output layout is too long"
                    return
                line, self.buffer = bytes(self.buffer[:end]), self.buffer[end + 1:]
                if line == b"S" and not self.ready:  # ready; the layout comes before run 0's 'D' (a module's)
                    self.ready = True
                    self._go()
                elif line[:2] in (b"I ", b"O ") and not self.ready:
                    self._region(line)
                else:
                    self._announced(line)
                continue
            if self.layout is None:
                self.error = "the runner said a run was done before it announced its outputs"
                return
            byte, self.buffer = self.buffer[:1], self.buffer[1:]
            if byte != b"D":
                self.error = "the runner broke the channel's protocol"
                return
            self._done()
        if self.finished and self.buffer and self.error is None:
            # one 'D' per run handed over: a 'D' of a module's own (before its computation ended) shifted every later
            # run by one, and the runner's own 'D's then come after the last run
            self.error = "the runner said a run was done more often than it was given one: it broke the channel's protocol"

    def _announced(self, line: bytes) -> None:
        words = line.split()
        try:
            if words[0] != b"R":
                raise ValueError
            self.out_bytes = int(words[1])
        except (IndexError, ValueError):
            self.error = "the runner's output layout is malformed"
            return
        if not 0 <= self.out_bytes <= self.max_out:
            self.error = f"the runner announced {self.out_bytes} bytes of outputs (at most {self.max_out})"
            return
        self.layout = line.decode(errors="replace")
        self.poison = (POISON * (self.out_bytes // 4 + 1))[: self.out_bytes]
        if not self.ready:
            self.ready = True
            self._go()

    def _region(self, line: bytes) -> None:
        """An "I offset address bytes" or "O offset address bytes" line: where a session tensor lies in the runner."""
        try:
            offset, address, size = (int(w) for w in line.split()[1:])
        except ValueError:
            self.error = "the runner's tensor announcement is malformed"
            return
        regions = self.regions_in if line[:1] == b"I" else self.regions_out
        limit = self.in_bytes if regions is self.regions_in else self.max_out
        if len(regions) >= MAX_REGIONS or not (0 <= offset and 0 < size and offset + size <= limit and 0 < address < 1 << 64):
            self.error = "the runner's tensor announcement is malformed"
            return
        regions.append((offset, address, size))

    def _outputs_covered(self) -> bool:
        """The announced output tensors lie end to end over the whole output layout, in its order."""
        at = 0
        for offset, _, size in self.regions_out:
            if offset != at:
                return False
            at += size
        return at == self.out_bytes

    def _regions_apart(self) -> bool:
        """No two announced tensors share bytes: not in the input set (each input byte goes to one place) and not in the
        runner's memory (an input written where an output is read). A kernel that wrote its own announcement on the
        control descriptor had the supervisor copy a concat's inputs straight into its output, on the supervisor's
        clock (credited 2.5x). Otherwise the runner copies (as where the kernel refuses the supervisor's copy)."""
        def apart(spans: list[tuple[int, int]]) -> bool:
            spans = sorted(spans)
            return all(a_start + a_size <= b_start for (a_start, a_size), (b_start, _) in zip(spans, spans[1:]))

        return apart([(offset, size) for offset, _, size in self.regions_in]) and apart(
            [(address, size) for _, address, size in self.regions_in + self.regions_out])

    def _input_buffer(self, name: str):
        """The input set `name` as memory the kernel's copy reads, made once per set (not allocated and copied each run)."""
        buf = self._in_bufs.get(name)
        if buf is None:
            buf = self._in_bufs[name] = ctypes.create_string_buffer(self.data[name], self.in_bytes)
        return buf

    def _write_inputs(self, buf) -> bool:
        base = ctypes.addressof(buf)
        return all(_vm(self.pid, address, base + offset, size, True) for offset, address, size in self.regions_in)

    def _poison_outputs(self) -> bool:
        """Off the clock, before the input: the output tensors hold the poison, so what a run did not write by its 'D'
        is wrong (a module that says 'D' and computes after it leaves the poison, or a stale answer, where the supervisor
        reads), and never a previous run's answer that happens to be right."""
        if self._poison_buf is None:
            self._poison_buf = ctypes.create_string_buffer(self.poison, len(self.poison))
        base = ctypes.addressof(self._poison_buf)
        return all(_vm(self.pid, address, base + offset, size, True) for offset, address, size in self.regions_out)

    def _read_outputs(self) -> memoryview | None:
        """Into one buffer, the same every run (a view of it: hashed, and copied only for a kept run)."""
        if self._out_buf is None:
            self._out_buf = ctypes.create_string_buffer(self.out_bytes)
        base = ctypes.addressof(self._out_buf)
        if not all(_vm(self.pid, address, base + offset, size, False) for offset, address, size in self.regions_out):
            return None
        return memoryview(self._out_buf).cast("B")[: self.out_bytes]

    def _go(self) -> None:
        """The clocks, then the next run's input, then the word: the run is on the clock before any byte of its input
        exists in the runner's reach (a runner that peeks at the memory file early is charged for what it does)."""
        cpu = self.cpu_ns()
        if self.error is not None:
            return
        if self.last_done_cpu is not None and self.runs:
            self.runs[-1][2] = cpu - self.last_done_cpu  # what the runner did between its 'D' and this input
        # the first run, off the clock: the kernel's copy works on this runner's tensors (zeros into the inputs, poison
        # into the outputs), or the runner copies
        if self.direct is None:
            self.direct = (self.direct_allowed and self.pid is not None and bool(self.regions_out) and self._outputs_covered()
                           and self._regions_apart() and self._poison_outputs()
                           and self._write_inputs(ctypes.create_string_buffer(self.in_bytes)))  # fmt: skip
        elif self.direct and not self._poison_outputs():
            self.error = "the runner's output tensors could not be written"
            return
        self.started_wall, self.started_cpu = time.monotonic_ns(), cpu
        name = self.sets_per_run[self.run]
        os.pwrite(self.inputs, self.data[name], 0)  # a direct runner still reads the inputs it converts (bool, NC4HW4) from here
        if self.direct and not self._write_inputs(self._input_buffer(name)):
            self.error = "the runner's input tensors could not be written"
            return
        if not self.direct and self.out_bytes:
            os.pwrite(self.outputs, self.poison, 0)
        try:
            os.write(self.go_w, b"H" if self.direct else b"G")
        except OSError:
            self.error = "the runner closed the channel"

    def _done(self) -> None:
        wall, cpu = time.monotonic_ns(), self.cpu_ns()
        if self.error is not None:
            return
        self.last_done_cpu = cpu
        if self.direct:
            out = self._read_outputs()
            if out is None:
                self.error = "the runner's output tensors could not be read"
                return
        else:
            size = os.fstat(self.outputs).st_size
            out = os.pread(self.outputs, self.out_bytes, 0) if size >= self.out_bytes else b""
            if len(out) != self.out_bytes:
                self.error = "the runner's output memory file is shorter than the layout it announced"
                return
        self.runs.append([cpu - self.started_cpu, wall - self.started_wall, 0, hashlib.sha256(out).hexdigest()])
        if self.run in self.keep:
            self.kept[self.run] = base64.b64encode(bytes(out)).decode()
        self.run += 1
        if self.run == len(self.sets_per_run):
            self.finished = True
            os.close(self.go_w)  # no more input: a runner that reads again gets the end of the channel
            self.go_w = -1
            return
        self._go()

    def close(self) -> None:
        for fd in (self.inputs, self.outputs, self.ctl_r, self.go_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.data, self._in_bufs = {}, {}

    def answer(self, rusage) -> dict:
        total = None if rusage is None else int((rusage.ru_utime + rusage.ru_stime) * 1e9)
        return {"layout": self.layout, "runs": self.runs, "kept": self.kept, "total_cpu_ns": total, "error": self.error,
                "direct": bool(self.direct)}


def _run(req, programs, uid, max_output, libc, sealed_fd=None):
    program = programs.get(req.get("program")) if req.get("program") else None
    channel = _Channel(req["channel"], sealed_fd) if req.get("channel") else None
    try:
        return _run_with(req, program, uid, max_output, libc, channel)
    finally:
        if channel is not None:
            channel.close()


def _run_with(req, program, uid, max_output, libc, channel):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    stdin_fd = None
    if req.get("stdin") is not None:  # the run's plan: a memory file, whatever its size
        stdin_fd = os.memfd_create("mkb-stdin", 0)
        os.write(stdin_fd, base64.b64decode(req["stdin"]))
        os.lseek(stdin_fd, 0, os.SEEK_SET)
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(req, program, uid, out_w, err_w, libc, stdin_fd, channel.child_fds() if channel else ())
    os.close(out_w)
    os.close(err_w)
    if stdin_fd is not None:
        os.close(stdin_fd)
    if channel is not None:
        channel.started(pid)
    pidfd = os.pidfd_open(pid)
    deadline = started + req["timeout"]
    buffers = {out_r: bytearray(), err_r: bytearray()}
    watched = [out_r, err_r, pidfd] + ([channel.ctl_r] if channel else [])
    rusage = None
    timed_out = False
    status = None
    ended = None
    while out_r in watched or err_r in watched or status is None or (channel is not None and channel.ctl_r in watched):
        left = deadline - time.monotonic()
        if status is not None:
            if time.monotonic() > ended + 0.5:
                break  # something it left behind keeps writing: the sweep below ends it
            left = 0  # exited: take what its pipes still hold, do not wait for whoever else holds them
        elif left <= 0 or (channel is not None and channel.error is not None):
            timed_out = channel is None or channel.error is None
            os.kill(pid, signal.SIGKILL)
            _, status, rusage = os.wait4(pid, 0)
            ended = time.monotonic()
            break
        ready, _, _ = select.select(watched, [], [], left)
        if not ready and status is not None:
            break
        for fd in ready:
            if fd == pidfd:
                _, status, rusage = os.wait4(pid, 0)
                ended = time.monotonic()
                watched.remove(pidfd)
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                watched.remove(fd)
                continue
            if channel is not None and fd == channel.ctl_r:
                channel.on_bytes(chunk)
                continue
            buf = buffers[fd]
            buf += chunk
            if len(buf) > max_output:  # keep the tail: the runner's report is its last line
                del buf[: len(buf) - max_output]
    for fd in (out_r, err_r, pidfd):
        os.close(fd)
    if channel is not None and channel.ctl_r in watched:
        watched.remove(channel.ctl_r)
    seconds = ended - started
    survivors = _others(None if req.get("namespace", True) else pid)
    if survivors and req.get("namespace", True):
        try:
            os.kill(-1, signal.SIGKILL)  # everything in this namespace but init and this supervisor
        except ProcessLookupError:
            pass
    for survivor in survivors if not req.get("namespace", True) else ():
        try:  # the host's namespace: only the run's own session, one by one (kill(-1) would end the host's)
            os.kill(survivor, signal.SIGKILL)
        except ProcessLookupError:
            pass
    code = os.waitstatus_to_exitcode(status)
    return {
        "returncode": code,
        "stdout": buffers[out_r].decode(errors="replace"),
        "stderr": buffers[err_r].decode(errors="replace"),
        "seconds": seconds,
        "timed_out": timed_out,
        "survivors": len(survivors),
        "channel": channel.answer(rusage) if channel is not None else None,
    }


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no run reaches this process's memory or descriptors through /proc
    config = json.loads(sys.stdin.readline())
    sealed_fd = config.get("sealed_fd")
    programs = {name: base64.b64decode(text) for name, text in config["programs"].items()}
    uid = config.get("uid")
    max_output = int(config.get("max_output", 1 << 22))
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            answer = _run(json.loads(line), programs, uid, max_output, libc, sealed_fd)
        except Exception as exc:  # noqa: BLE001 - the harness gets every failure as an answer
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
