"""A device's sandbox with a supervisor inside that starts each run (see _supervisor_main.py for why and how).

Started on first use, kept for the device's life, restarted when it dies; a run cancelled or stuck past its timeout
kills the whole sandbox, and with it everything inside.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
from pathlib import Path

from mkb_tui.device.base import ProcResult
from mkb_tui.device.sandbox import NOBODY, ContainedCommand, Processes, Rlimits, SandboxSpec, contain, minimal_env, seccomp_program
from mkb_tui.errors import DeviceError
from mkb_tui.vocabulary.flags import Flag

MAIN = Path(__file__).resolve().parent / "_supervisor_main.py"
MAX_OUTPUT = 4 << 20  # per stream and run: the tail is kept (the runner's report is its last line)
MAX_ANSWER = 1 << 30  # one answer line: a channel run's kept outputs come back in it
GRACE = 15.0  # seconds past a run's own timeout before the supervisor itself is taken for stuck
# CAP_SYS_PTRACE: process_vm_writev/readv into the runner it started (nobody), to hand inputs and take outputs itself
SUPERVISOR_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_SYS_PTRACE")


def _interpreter() -> tuple[str, Path]:
    """This Python's real interpreter and the prefix that holds its standard library (not the venv)."""
    return os.path.realpath(sys.executable), Path(sys.base_prefix).resolve()


class Supervisor:
    def __init__(self, spec: SandboxSpec, sealed: Path | None = None, *, contained: bool = True) -> None:
        """`spec` says what every run may see (the device's work dir...); its processes/limits are set per run.
        `sealed`: a host folder the supervisor reads input sets from, handed over as an open descriptor and mounted
        nowhere in the sandbox. Uncontained (no bubblewrap here), the same supervisor still hands inputs over and
        keeps the clock, without the sandbox around it."""
        self.spec = spec
        self.sealed = sealed
        self.contained = contained
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.flags: tuple[str, ...] = ()

    def _follow_loop(self) -> None:
        """A device may outlive its event loop (one asyncio.run per evaluation): a supervisor started under another
        loop cannot be talked to from this one, so it is ended and a new one starts."""
        loop = asyncio.get_running_loop()
        if loop is self._loop:
            return
        if self._proc is not None and self._proc.returncode is None:
            try:
                os.killpg(self._proc.pid, 9)
            except ProcessLookupError:
                pass
        self._proc, self._lock, self._loop = None, asyncio.Lock(), loop

    def _command(self) -> ContainedCommand:
        python, prefix = _interpreter()
        spec = SandboxSpec(
            readable=(*self.spec.readable, prefix, MAIN),
            writable=self.spec.writable,
            cwd=self.spec.cwd,
            cpus=self.spec.cpus,
            as_nobody=False,  # the supervisor drops each run to nobody itself
            keep_caps=SUPERVISOR_CAPS,
            processes=Processes.ANY,
        )
        return contain([python, "-I", "-S", "-B", str(MAIN)], spec)

    async def _start(self) -> asyncio.subprocess.Process:
        if self.contained:
            cmd = self._command()
        else:
            python, _ = _interpreter()
            cmd = ContainedCommand([python, "-I", "-S", "-B", str(MAIN)], minimal_env(), (), (Flag.UNCONTAINED,))
        sealed_fd = None
        if self.sealed is not None:
            self.sealed.mkdir(parents=True, exist_ok=True)
            sealed_fd = os.open(self.sealed, os.O_PATH | os.O_DIRECTORY)
        try:
            proc = await asyncio.create_subprocess_exec(
                *cmd.argv, env=cmd.env, pass_fds=(*cmd.pass_fds, *(() if sealed_fd is None else (sealed_fd,))),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                limit=MAX_ANSWER, start_new_session=True,
            )  # fmt: skip
        finally:
            cmd.close()
            if sealed_fd is not None:
                os.close(sealed_fd)
        programs = {p.value: seccomp_program(p) for p in (Processes.THREADS, Processes.NONE)}
        config = {
            "uid": NOBODY if os.geteuid() == 0 and self.contained else None,  # uncontained: as the harness runs
            "programs": {name: base64.b64encode(prog).decode() for name, prog in programs.items() if prog is not None},
            "max_output": MAX_OUTPUT,
            "sealed_fd": sealed_fd,
        }
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(config).encode() + b"\n")
        try:
            await proc.stdin.drain()
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
        except (asyncio.TimeoutError, ConnectionError):
            line = b""
        if b"ready" not in line:
            err = b""
            if proc.returncode is not None or line == b"":
                await _kill(proc)
                err = await proc.stderr.read() if proc.stderr else b""
            raise DeviceError(f"the sandbox did not start: {err.decode(errors='replace').strip()[-500:] or 'no answer'}")
        self.flags = cmd.flags
        return proc

    async def run(self, argv: list[str], *, cwd: Path, env: dict[str, str], timeout: float, limits: Rlimits,
                  processes: Processes, cpus: tuple[int, ...] | None = None, stdin: bytes | None = None,
                  channel: dict | None = None) -> ProcResult:
        """Run argv contained; `cpus` sets an affinity mask where no cpuset cgroup holds the sandbox."""  # fmt: skip
        self._follow_loop()
        async with self._lock:
            if self._proc is None or self._proc.returncode is not None:
                self._proc = await self._start()
            request = {
                "argv": argv, "cwd": str(cwd), "env": env, "timeout": timeout,
                "rlimits": {name: value for name, value in limits.items()},
                "program": processes.value if processes is not Processes.ANY else None,
                "cpus": list(cpus) if cpus and Flag.CPU_PIN_AFFINITY in self.flags else None,
                "stdin": base64.b64encode(stdin).decode() if stdin is not None else None,
                "channel": channel,
            }  # fmt: skip
            if not self.contained:  # the host's pid namespace: the run gets a session of its own, swept alone
                request["cpus"] = list(cpus) if cpus else None
                request["namespace"] = False
            proc = self._proc
            assert proc.stdin is not None and proc.stdout is not None
            try:
                proc.stdin.write(json.dumps(request).encode() + b"\n")
                await proc.stdin.drain()
                line = await asyncio.wait_for(proc.stdout.readline(), timeout + GRACE)
            except ValueError as exc:  # asyncio's line limit: the answer (a run's kept outputs) is over MAX_ANSWER
                await self._stop()
                raise DeviceError(f"the supervisor's answer is over {MAX_ANSWER >> 20} MB (the run's kept outputs): "
                                  "this task's outputs are too large to check in one process") from exc
            except (asyncio.TimeoutError, asyncio.CancelledError, ConnectionError) as exc:
                await self._stop()
                if isinstance(exc, asyncio.CancelledError):
                    raise
                if isinstance(exc, ConnectionError):
                    raise DeviceError(f"the sandbox's supervisor died ({exc})") from exc
                return ProcResult(None, "", "", timeout + GRACE, timed_out=True)
            if not line:
                await self._stop()
                raise DeviceError("the sandbox's supervisor died during a run")
        answer = json.loads(line)
        if "error" in answer:
            raise DeviceError(f"the sandbox could not run {argv[0]}: {answer['error']}")
        rc = answer["returncode"]
        return ProcResult(
            returncode=rc,
            stdout=answer["stdout"],
            stderr=answer["stderr"],
            seconds=answer["seconds"],
            timed_out=answer["timed_out"],
            signal=-rc if rc < 0 else None,
            survivors=answer["survivors"],
            channel=answer.get("channel"),
        )

    async def _stop(self) -> None:
        if self._proc is not None:
            await _kill(self._proc)
            self._proc = None

    async def close(self) -> None:
        self._follow_loop()
        async with self._lock:
            await self._stop()


async def _kill(proc: asyncio.subprocess.Process) -> None:
    """The whole sandbox: bwrap's pid namespace ends with it, and every process in it."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, 9)
        except ProcessLookupError:
            pass
    await proc.communicate()  # to the end of its pipes, so that its transport closes with this loop
