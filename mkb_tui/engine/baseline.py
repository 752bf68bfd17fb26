"""The pristine baseline per target (MNN's own kernels, built once and kept) and the project's runner."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.device.local import run_limited
from mkb_tui.engine import build as builder
from mkb_tui.engine.mnn import MnnInfo
from mkb_tui.engine.toolchain import Target
from mkb_tui.engine.types import BuildResult

RUNNER_SRC = Path(__file__).resolve().parent / "runner_src" / "mkb_runner.cpp"
_locks: dict[str, asyncio.Lock] = {}


@dataclass(frozen=True)
class Baseline:
    target: Target
    build_dir: Path  # holds libMNN
    runner: Path


def baseline_dirs(mnn: MnnInfo, target: Target) -> tuple[Path, Path]:
    return mnn.home / f"build-{target.name}", mnn.home / f"runner-{target.name}" / "mkb_runner"


async def ensure_baseline(mnn: MnnInfo, target: Target, *, timeout: float = 3600) -> tuple[Baseline | None, BuildResult]:
    """Build the pristine library (once; later calls are a no-op ninja) and the runner against it."""
    lock = _locks.setdefault(target.name, asyncio.Lock())
    async with lock:
        build_dir, runner = baseline_dirs(mnn, target)
        started = time.monotonic()
        if not (build_dir / "build.ninja").exists():
            result = await builder.configure(target, mnn.root, build_dir)
            if not result.ok:
                return None, result
        result = await builder.ninja(build_dir, ["MNN"], timeout=timeout, home=mnn.home)
        if not result.ok:
            return None, result
        if not runner.exists() or runner.stat().st_mtime < RUNNER_SRC.stat().st_mtime:
            runner.parent.mkdir(parents=True, exist_ok=True)
            argv = [target.compiler, "-O2", "-std=c++11", f"-I{mnn.root / 'include'}", str(RUNNER_SRC), "-o", str(runner)]
            if target.static:
                argv += [str(build_dir / "libMNN.a"), "-static", "-lpthread"]
            else:
                argv += [f"-L{build_dir}", "-lMNN", "-lpthread", "-ldl"]
            proc = await run_limited(argv, cwd=runner.parent, timeout=600, limits=builder.BUILD_LIMITS)
            if proc.returncode != 0:
                return None, BuildResult(False, time.monotonic() - started, proc.stderr[-5000:], builder.parse_diagnostics(proc.stderr))
        return Baseline(target, build_dir, runner), BuildResult(True, time.monotonic() - started, result.log)
