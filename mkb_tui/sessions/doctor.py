"""What is set up on this machine and what to do about the rest: one list of checks for `mkb-tui doctor` and the
app's set-up screen (neither owns the knowledge of MNN, toolchains, devices or keys)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from mkb_tui.sessions.devices import LOCAL, DeviceSpec
from mkb_tui.sessions.evaluators import EvaluatorSource

KEYS = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
MIN_FREE_GIB = 5


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str  # what to do when not ok


def environment_checks() -> list[Check]:
    """Fast checks only (no build, no run); `oracle_check` runs MNN's own kernel once."""
    from mkb_tui.engine.mnn import find_mnn
    from mkb_tui.engine.toolchain import aarch64_target, host_target
    from mkb_tui.paths import cache_dir

    info = find_mnn()
    checks = [Check("MNN source", info is not None, f"{info.version} at {info.root}" if info else "not set up", "mkb-tui setup mnn [--from PATH]")]
    for target in (host_target(), aarch64_target()):
        missing = target.missing_tools()
        checks.append(Check(f"{target.name} toolchain", not missing, target.description if not missing else f"missing {', '.join(missing)}",
                            f"apt-get install {' '.join(missing)}"))  # fmt: skip
    if info is not None:
        from mkb_tui.engine.converter import converter_exe, pristine_converter_dir

        exe = converter_exe(pristine_converter_dir(info))
        checks.append(Check("MNN converter", exe.exists(), str(exe) if exe.exists() else "not built",
                            "mkb-tui setup mnn --build converter (for the 10 combiner tasks)"))  # fmt: skip
    checks.append(Check("ccache", shutil.which("ccache") is not None, "found" if shutil.which("ccache") else "not found", "apt-get install ccache"))
    checks += sandbox_checks()
    free = shutil.disk_usage(cache_dir()).free / 2**30
    checks.append(Check("disk", free > MIN_FREE_GIB, f"{free:.0f} GiB free in {cache_dir()}", f"free at least {MIN_FREE_GIB} GiB (builds and workspaces)"))
    adb = shutil.which("adb") is not None
    checks.append(Check("phones (adb)", adb, "adb found" if adb else "no adb", "apt-get install adb; plug in a phone with USB debugging"))
    for key in KEYS:
        present = bool(os.environ.get(key))
        checks.append(Check(key, present, "set" if present else "not set", f"export {key}=... or use an openai-compatible / scripted model"))
    return checks


def sandbox_checks() -> list[Check]:
    """Which parts of the sandbox that contains candidate code work here (tried for real once)."""
    from mkb_tui.device.sandbox import status

    box = status()
    user = "nobody (uid 65534), no capabilities" if box.privileged else "a user namespace (not root: runs keep your uid)"
    return [
        Check("sandbox (bubblewrap)", box.usable, "candidate code is compiled, run and converted contained" if box.usable else "; ".join(box.problems),
              "apt-get install bubblewrap (without it candidate code runs uncontained, and verdicts say so)"),
        Check("sandbox: user", box.usable, user, "run as root for the nobody user"),
        Check("sandbox: seccomp", box.seccomp, "no new processes, sessions, sockets, affinity changes", "apt-get install libseccomp2"),
        Check("sandbox: one core", box.cpuset.startswith("cgroup"), box.cpuset, "a writable cpuset cgroup (root); meanwhile an affinity mask that seccomp keeps"),
    ]  # fmt: skip


async def oracle_check(task_id: str = "abs", device: DeviceSpec = LOCAL, source: EvaluatorSource | None = None) -> Check:
    """MNN's own kernel for one task through the whole pipeline (the evaluator factory's): proves builds, runs and
    timing work here."""
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.oracle import run_oracle

    evaluator = (source or EvaluatorSource()).open(device)
    result = (await run_oracle([get_task(task_id)], evaluator))[0]
    return Check(f"oracle ({task_id}, {device.text})", result.passed, result.message, f"see `mkb-tui oracle {task_id}`")


@dataclass(frozen=True)
class MnnSource:
    """Where MNN comes from: the pinned release (from the network) or a local checkout / git dir; what to build."""

    ref: str = "3.6.1"
    path: str | None = None
    builds: tuple[str, ...] = ("host",)


@dataclass(frozen=True)
class SetupStep:
    """Progress of the MNN set-up: a step (fetch, build host, ...) with done/total commands when known."""

    step: str
    done: int = 0
    total: int | None = None
    finished: bool = False


async def setup_mnn(source: MnnSource, on_step) -> str:
    """Fetch and build MNN as `mkb-tui setup mnn` does, calling on_step(SetupStep) as it goes; the outcome in one
    line, or MkbError when a build failed (its log tail in the message)."""
    from mkb_tui.engine.setup import setup_and_build
    from mkb_tui.errors import MkbError

    def progress(step: str, done: int, total: int | None, finished: bool = False) -> None:
        on_step(SetupStep(step, done, total, finished))

    outcome = await setup_and_build(source.path, source.ref, list(source.builds), progress)
    if not outcome.ok:
        raise MkbError(f"{outcome.summary}\n{outcome.log[-1500:]}")
    return outcome.summary
