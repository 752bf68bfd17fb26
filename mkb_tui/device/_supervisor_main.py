"""The supervisor that starts a device's runs inside its sandbox (run as `python -I -S` there: stdlib only, no mkb_tui).

One bubblewrap sandbox per device, started once, because bwrap costs ~5-9 ms per process and an evaluation starts ~80
runner processes. The supervisor keeps CAP_SETUID/SETGID/KILL only; each run is forked from it, limited (rlimits, the
nobody user, no new privileges, the seccomp program), then exec'd. After each run every other process in the sandbox's
pid namespace is killed, and counted: nothing a run started outlives its result.

Protocol, one JSON object per line: first the config {"uid", "programs": {name: base64 BPF}, "max_output"}; then
requests {"argv", "cwd", "env", "timeout", "rlimits": {name: value}, "program": name|null, "cpus": [..]|null,
"stdin": base64|null}, each
answered with {"returncode", "stdout", "stderr", "seconds", "timed_out", "survivors"} or {"error"}.
"""

import base64
import ctypes
import json
import os
import resource
import select
import signal
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _child(req, program, uid, out_w, err_w, libc, stdin_fd):
    """In the forked child: never returns (exec or _exit)."""
    try:
        os.dup2(stdin_fd if stdin_fd is not None else os.open("/dev/null", os.O_RDONLY), 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, 65536)
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


def _others() -> list[int]:
    """Live processes in this pid namespace other than its init (1) and this supervisor."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            try:
                with open(f"/proc/{name}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if state not in ("Z", "X"):
                found.append(int(name))
    return found


def _run(req, programs, uid, max_output, libc):
    program = programs.get(req.get("program")) if req.get("program") else None
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
        _child(req, program, uid, out_w, err_w, libc, stdin_fd)
    os.close(out_w)
    os.close(err_w)
    if stdin_fd is not None:
        os.close(stdin_fd)
    pidfd = os.pidfd_open(pid)
    deadline = started + req["timeout"]
    buffers = {out_r: bytearray(), err_r: bytearray()}
    watched = [out_r, err_r, pidfd]
    timed_out = False
    status = None
    ended = None
    while out_r in watched or err_r in watched or status is None:
        left = deadline - time.monotonic()
        if status is not None:
            if time.monotonic() > ended + 0.5:
                break  # something it left behind keeps writing: the sweep below ends it
            left = 0  # exited: take what its pipes still hold, do not wait for whoever else holds them
        elif left <= 0:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            status = os.waitpid(pid, 0)[1]
            ended = time.monotonic()
            break
        ready, _, _ = select.select(watched, [], [], left)
        if not ready and status is not None:
            break
        for fd in ready:
            if fd == pidfd:
                status = os.waitpid(pid, 0)[1]
                ended = time.monotonic()
                watched.remove(pidfd)
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                watched.remove(fd)
                continue
            buf = buffers[fd]
            buf += chunk
            if len(buf) > max_output:  # keep the tail: the runner's report is its last line
                del buf[: len(buf) - max_output]
    for fd in (out_r, err_r, pidfd):
        os.close(fd)
    seconds = ended - started
    survivors = _others()
    if survivors:
        try:
            os.kill(-1, signal.SIGKILL)  # everything in this namespace but init and this supervisor
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
    }


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    config = json.loads(sys.stdin.readline())
    programs = {name: base64.b64decode(text) for name, text in config["programs"].items()}
    uid = config.get("uid")
    max_output = int(config.get("max_output", 1 << 22))
    out = sys.stdout
    out.write(json.dumps({"ready": os.getpid()}) + "\n")
    out.flush()
    for line in sys.stdin:
        try:
            answer = _run(json.loads(line), programs, uid, max_output, libc)
        except Exception as exc:  # noqa: BLE001 - the harness gets every failure as an answer
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
