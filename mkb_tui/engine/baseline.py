"""The pristine baseline per target (MNN's own kernels, built once and kept) and the project's runner."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.device.local import run_limited
from mkb_tui.engine import build as builder
from mkb_tui.engine.concurrency import acquire_flock
from mkb_tui.engine.mnn import MnnInfo
from mkb_tui.engine.toolchain import Target
from mkb_tui.engine.types import BuildResult

RUNNER_SRC = Path(__file__).resolve().parent / "runner_src" / "mkb_runner.cpp"

# every relocation done at load, then read-only (full RELRO): the runner's own calls (memcpy, operator new...) cannot be
# redirected by a candidate library writing over its GOT, as its clock pointer cannot (mkb_runner.cpp)
RUNNER_LINK_FLAGS = ("-Wl,-z,relro,-z,now",)
# the dynamic runner loads a candidate's plug-in (engine/plugin.py); a static one cannot dlopen
DYNAMIC_RUNNER_DEFINES = ("-DMKB_PLUGINS",)

_locks: dict[str, asyncio.Lock] = {}


@dataclass(frozen=True)
class Baseline:
    target: Target
    build_dir: Path  # holds libMNN
    runner: Path


def runner_tag() -> str:
    """The runner source's content hash: runners (and their objects) are kept per source version, so checkouts with
    different runners sharing one MNN cache never run each other's binary."""
    digest = hashlib.sha256()
    for path in sorted(RUNNER_SRC.parent.iterdir()):  # the .cpp and the headers beside it (mkb_lockdown.h)
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update("\0".join(DYNAMIC_RUNNER_DEFINES).encode())
    return digest.hexdigest()[:12]


def baseline_dirs(mnn: MnnInfo, target: Target) -> tuple[Path, Path]:
    return mnn.home / f"build-{target.name}", mnn.home / f"runner-{target.name}" / f"mkb_runner-{runner_tag()}"


def baseline_ready(mnn: MnnInfo, target: Target) -> bool:
    """Whether the pristine library and the runner for this target are built (no build, no run)."""
    build_dir, runner = baseline_dirs(mnn, target)
    return runner.exists() and any((build_dir / name).exists() for name in ("libMNN.so", "libMNN.a"))


async def ensure_baseline(mnn: MnnInfo, target: Target, *, timeout: float = 3600) -> tuple[Baseline | None, BuildResult]:
    """Build the pristine library (once; later calls are a no-op ninja) and the runner against it."""
    lock = _locks.setdefault(target.name, asyncio.Lock())
    async with lock:
        build_dir, runner = baseline_dirs(mnn, target)
        started = time.monotonic()
        # other processes (the app beside a batch, another checkout) share this build dir: one ninja at a time
        held = await acquire_flock(build_dir.parent / f".{build_dir.name}.lock", 0.2)
        try:
            result = await builder.configure_and_build(target, mnn.root, build_dir, ["MNN"], home=mnn.home, timeout=timeout)
        finally:
            os.close(held)
        if not result.ok:
            return None, result
        if not runner.exists():
            runner.parent.mkdir(parents=True, exist_ok=True)
            if target.static:
                failed = await link_static_runner(mnn, target, build_dir, runner)
            else:
                tmp = _temp_name(runner)
                argv = [target.compiler, "-O2", "-std=c++11", *DYNAMIC_RUNNER_DEFINES, f"-I{mnn.root / 'include'}", str(RUNNER_SRC), "-o", str(tmp),
                        f"-L{build_dir}", "-lMNN", "-lpthread", "-ldl", *RUNNER_LINK_FLAGS]  # fmt: skip
                proc = await run_limited(argv, cwd=runner.parent, timeout=600, limits=builder.BUILD_LIMITS)
                failed = None if proc.returncode == 0 else proc.stderr
                if failed is None:
                    tmp.replace(runner)
            if failed:
                return None, BuildResult(False, time.monotonic() - started, failed[-5000:], builder.parse_diagnostics(failed))
        return Baseline(target, build_dir, runner), BuildResult(True, time.monotonic() - started, result.log)


async def link_static_runner(mnn: MnnInfo, target: Target, build_dir: Path, out: Path) -> str | None:
    """A static runner with this build's libMNN.a inside (whole archive: op registrations must not be dropped).
    The runner object is compiled once per target. Returns the error output, or None."""
    obj = mnn.home / f"runner-{target.name}" / f"mkb_runner-{runner_tag()}.o"
    if not obj.exists():
        obj.parent.mkdir(parents=True, exist_ok=True)
        tmp = _temp_name(obj)
        proc = await run_limited([target.compiler, "-O2", "-std=c++11", f"-I{mnn.root / 'include'}", "-c", str(RUNNER_SRC), "-o", str(tmp)],
                                 cwd=obj.parent, timeout=600, limits=builder.BUILD_LIMITS)  # fmt: skip
        if proc.returncode != 0:
            return proc.stderr
        tmp.replace(obj)
    tmp = _temp_name(out)
    argv = [target.compiler, "-static", str(obj), "-Wl,--whole-archive", str(build_dir / "libMNN.a"), "-Wl,--no-whole-archive",
            "-lpthread", *RUNNER_LINK_FLAGS, "-o", str(tmp)]  # fmt: skip
    proc = await run_limited(argv, cwd=out.parent, timeout=600, limits=builder.BUILD_LIMITS)
    if proc.returncode != 0:
        return proc.stderr
    tmp.replace(out)  # never a half-written runner under a concurrent reader
    return None


def _temp_name(path: Path) -> Path:
    import os

    return path.with_name(f".{path.name}.{os.getpid()}.tmp")
