"""Set MNN up in the user cache with progress: fetch the pinned release (or copy a local checkout), then build the
pristine libraries and the converter, reporting (step, done, total) as ninja finishes each edge.

Ninja appends a line to the build dir's `.ninja_log` for every command it completes; the number of commands the
target needs comes from `ninja -t commands TARGET` (a read-only query) once CMake has written build.ninja. Both are
polled while the build runs, so the builds themselves stay exactly as `ensure_baseline` runs them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Progress = Callable[..., None]  # (step, done, total or None when not known yet, finished=False)


@dataclass
class SetupOutcome:
    ok: bool
    lines: list[str] = field(default_factory=list)  # what was done, one line each
    log: str = ""  # the failing build's log tail

    @property
    def summary(self) -> str:
        return "; ".join(self.lines)


def _log_lines(build_dir: Path) -> int:
    try:
        with open(build_dir / ".ninja_log", "rb") as f:
            return sum(1 for line in f if not line.startswith(b"#"))
    except OSError:
        return 0


async def _command_count(build_dir: Path, targets: list[str]) -> int | None:
    if not (build_dir / "build.ninja").exists():
        return None
    proc = await asyncio.create_subprocess_exec("ninja", "-C", str(build_dir), "-t", "commands", *targets,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
    out, _ = await proc.communicate()
    return out.count(b"\n") if proc.returncode == 0 else None


async def watch_ninja(step: str, build_dir: Path, targets: list[str], progress: Progress, *, interval: float = 1.0) -> None:
    """Report a build's progress until cancelled: commands done since the watch began, of the target's commands."""
    start = _log_lines(build_dir)
    total = None
    while True:
        if total is None:
            total = await _command_count(build_dir, targets)
        done = _log_lines(build_dir) - start
        progress(step, done if total is None else min(done, total), total)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def watching(step: str, build_dir: Path, targets: list[str], progress: Progress):
    task = asyncio.create_task(watch_ninja(step, build_dir, targets, progress))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def setup_and_build(from_path: str | None, ref: str, builds: list[str], progress: Progress, *, if_missing: bool = True) -> SetupOutcome:
    """Fetch (or reuse) MNN `ref` and build the named targets (host, aarch64, converter), reporting progress."""
    from mkb_tui.engine import plugin as pluginlib
    from mkb_tui.engine.baseline import baseline_dirs
    from mkb_tui.engine.converter import converter_exe, pristine_converter_dir
    from mkb_tui.engine.mnn import find_mnn, setup_mnn
    from mkb_tui.engine.toolchain import get_target

    outcome = SetupOutcome(True)
    info = find_mnn(ref) if if_missing else None
    if info is None:
        step = f"fetch MNN {ref}" + (f" from {from_path}" if from_path else "")
        progress(step, 0, 1)
        info = await asyncio.to_thread(setup_mnn, from_path, ref, force=not if_missing)
        progress(step, 1, 1, True)
    outcome.lines.append(f"MNN {info.version} at {info.root} ({info.origin})")
    steps: list[tuple[str, str, Path, list[str], object]] = []  # (name, step, watched dir, ninja targets, build)
    for name in [b for b in builds if b and b != "none"]:
        target = get_target(name)
        missing = target.missing_tools()
        if missing:
            outcome.lines.append(f"skipped the {name} build: missing {', '.join(missing)}")
            continue
        if name == "converter":
            where = pristine_converter_dir(info)
            steps.append((name, f"build {name}", where, [converter_exe(where).name], _converter_step(info)))
            continue
        steps.append((name, f"build {name}", baseline_dirs(info, target)[0], ["MNN"], _baseline_step(info, target)))
        if pluginlib.available(target):
            # the library a CPU candidate plugs into (engine/plugin.py), built here so the first evaluation does not
            slotable = pluginlib.SlotableLibrary(info, target)
            steps.append((f"{name} slot-able library", f"build {name} slot-able library", slotable.build_dir, ["MNN"],
                          _slotable_step(slotable)))  # fmt: skip
    for name, step, watched, targets, build in steps:
        async with watching(step, watched, targets, progress):
            ok, result, where = await build()
        if not ok:
            outcome.ok, outcome.log = False, result.log[-3000:]
            outcome.lines.append(f"the {name} build failed")
            progress(step, 0, None, True)
            return outcome
        outcome.lines.append(f"{name}: built in {result.seconds:.1f} s ({where})")
        progress(step, 1, 1, True)
    return outcome


def _converter_step(info):
    from mkb_tui.engine.converter import converter_exe, ensure_pristine_converter, pristine_converter_dir

    async def build():
        result = await ensure_pristine_converter(info)
        return result.ok, result, converter_exe(pristine_converter_dir(info))

    return build


def _baseline_step(info, target):
    from mkb_tui.engine.baseline import ensure_baseline

    async def build():
        base, result = await ensure_baseline(info, target)
        return base is not None, result, base.runner if base is not None else None

    return build


def _slotable_step(slotable):
    async def build():
        result = await slotable.ensure()
        return result.ok, result, slotable.library

    return build
