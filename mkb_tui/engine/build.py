"""Configure and build MNN trees with CMake + Ninja + ccache; parse compiler diagnostics."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from mkb_tui.device import sandbox
from mkb_tui.device.local import Limits, run_limited
from mkb_tui.engine.toolchain import Target
from mkb_tui.engine.types import BuildResult
from mkb_tui.vocabulary.verdicts import Diagnostic

BUILD_JOBS = int(os.environ.get("MKB_BUILD_JOBS", "2"))
# Compiling is not running: the compiler itself needs room, but a kernel must not hang the build forever.
BUILD_LIMITS = Limits(cpu_seconds=3600, address_space_bytes=8 << 30, file_size_bytes=2 << 30)
# Per compiler process in a workspace. A candidate's file gets far less than MNN's own (whose largest files take
# ~30 s at -O3): two of them build at once on 2 cores, and a compile-time bomb must end as a clear compile error.
MNN_COMPILE_LIMITS = sandbox.Rlimits(cpu_seconds=900, address_space_bytes=6 << 30, file_size_bytes=1 << 30)
CANDIDATE_COMPILE_LIMITS = sandbox.Rlimits(cpu_seconds=60, address_space_bytes=3 << 30, file_size_bytes=256 << 20)


@functools.lru_cache(maxsize=1)
def ccache_dir() -> str:
    """ccache's own answer (it runs with a minimal environment, without HOME, so it must be told)."""
    try:
        out = subprocess.run(["ccache", "-k", "cache_dir"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out = ""
    return out or os.environ.get("CCACHE_DIR") or str(Path.home() / ".cache" / "ccache")


def build_env(tree_home: Path) -> dict[str, str]:
    """ccache keyed on paths relative to the tree's home, so every workspace shares the baseline's cache."""
    return {
        "CCACHE_DIR": ccache_dir(),
        "CCACHE_BASEDIR": str(tree_home),
        "CCACHE_NOHASHDIR": "1",
        "CCACHE_NOINODECACHE": "1",  # replaced files can reuse an inode within one timestamp tick: never trust cached hashes
        "CCACHE_SLOPPINESS": "time_macros,include_file_mtime,include_file_ctime",
        "CCACHE_MAXSIZE": os.environ.get("CCACHE_MAXSIZE", "5G"),
    }


def cmake_args(target: Target, src: Path, build: Path) -> list[str]:
    args = ["cmake", "-G", "Ninja", "-S", str(src), "-B", str(build)]
    args += [f"-D{k}={v}" for k, v in target.cmake_flags.items()]
    launcher = launcher_for(src)
    args += [f"-DCMAKE_C_COMPILER_LAUNCHER={launcher}", f"-DCMAKE_CXX_COMPILER_LAUNCHER={launcher}"]
    return args


LAUNCHER = Path(__file__).resolve().parent / "compile_launcher.sh"
SLOT_MARK = "source/backend/cpu/MKBCandidate.cpp"  # slots.CANDIDATE_CPP: every workspace has it, the pristine tree never


def launcher_for(src: Path) -> str:
    """A tree with candidate slots (a workspace) compiles through the guarded launcher; the pristine tree, which no
    candidate ever writes, through plain ccache, so that its configuration depends on neither this checkout's path
    nor the launcher's text."""
    return str(stable_launcher()) if (src / SLOT_MARK).exists() else "ccache"


def stable_launcher() -> Path:
    """The launcher as a copy in the cache named by its content: checkouts at different paths with the same launcher
    configure a shared build dir identically (with the checkout's own path, each one reconfigured and relinked the
    shared pristine library under the others, which then read a half-written libMNN.so)."""
    import hashlib

    from mkb_tui.paths import cache_dir

    text = LAUNCHER.read_bytes()
    dest = cache_dir() / "launchers" / f"compile_launcher-{hashlib.sha256(text).hexdigest()[:12]}.sh"
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}")
        tmp.write_bytes(text)
        tmp.chmod(0o755)
        tmp.replace(dest)
    return dest


def needs_configure(target: Target, src: Path, build: Path) -> bool:
    """A build dir is configured once; again only when the configure arguments changed."""
    stamp = build / "mkb-configure.json"
    return not (build / "build.ninja").exists() or not stamp.exists() or stamp.read_text() != json.dumps(cmake_args(target, src, build))


async def configure(target: Target, src: Path, build: Path, *, timeout: float = 600) -> BuildResult:
    build.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    proc = await run_limited(
        cmake_args(target, src, build), cwd=build, timeout=timeout, env=build_env(src.parent), limits=BUILD_LIMITS
    )
    log = proc.stdout[-20000:] + proc.stderr[-20000:]
    if proc.returncode == 0:
        (build / "mkb-configure.json").write_text(json.dumps(cmake_args(target, src, build)))
    return BuildResult(ok=proc.returncode == 0, seconds=time.monotonic() - started, log=log, timed_out=proc.timed_out)


async def ninja(build: Path, targets: list[str], *, timeout: float, home: Path, env: dict[str, str] | None = None,
                cpus: tuple[int, ...] | None = None) -> BuildResult:  # fmt: skip
    """Build targets; with `cpus`, pinned to those cores with one job per core (unless MKB_BUILD_JOBS says). `env`:
    more environment for the launcher; for a workspace it holds `compile_sandbox`'s, under which every compile runs in
    its own sandbox (the pristine tree, which holds no candidate's text, has none)."""
    started = time.monotonic()
    jobs = BUILD_JOBS if cpus is None or "MKB_BUILD_JOBS" in os.environ else len(cpus)
    limits = BUILD_LIMITS if cpus is None else replace(BUILD_LIMITS, cpus=cpus)
    proc = await run_limited(["ninja", "-j", str(jobs), *targets], cwd=build, timeout=timeout, env={**build_env(home), **(env or {})}, limits=limits)
    log = (proc.stdout + proc.stderr)[-200000:]
    ok = proc.returncode == 0 and not proc.timed_out
    return BuildResult(
        ok=ok,
        seconds=time.monotonic() - started,
        log=log,
        diagnostics=[] if ok else limit_diagnostics(log) + parse_diagnostics(log),
        timed_out=proc.timed_out,
    )


def compile_sandbox(src: Path, build: Path, candidate_files: list[Path], readable: tuple[Path, ...] = ()) -> dict[str, str]:
    """Contain every compile of a workspace build: two wrapper scripts in the build dir (MNN's files, through ccache's
    prefix command; the candidate's files, directly and with tight limits) and the environment that makes
    compile_launcher.sh use them. A compiler sees the toolchain, this workspace's tree (read-only) and its build dir,
    nothing else: no home, no cache, no references, no other workspace, no network, a minimal environment.
    `readable`: more read-only folders (the precompiled prelude)."""
    scripts = build / "mkb-sandbox"
    scripts.mkdir(parents=True, exist_ok=True)
    env = {"MKB_CANDIDATE_FILES": ":".join(str(p) for p in candidate_files)}
    if not sandbox.status().usable:
        return {**env, "MKB_UNCONTAINED": "1"}
    for name, limits in (("compile", MNN_COMPILE_LIMITS), ("compile-candidate", CANDIDATE_COMPILE_LIMITS)):
        spec = sandbox.SandboxSpec(readable=(src, *readable), writable=(build,), limits=limits, as_nobody=False)
        script = scripts / f"{name}.sh"
        text = sandbox.wrapper_script(spec)
        if not script.exists() or script.read_text() != text:
            tmp = script.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(0o755)
            os.replace(tmp, script)
    return {**env, "MKB_COMPILE_SANDBOX": str(scripts / "compile.sh"), "MKB_CANDIDATE_SANDBOX": str(scripts / "compile-candidate.sh")}


_LIMIT_SIGNS = {
    "terminated program": "the compiler was killed at its limits ({cpu} s of CPU, {mem} GiB of memory)",
    "out of memory allocating": "the compiler ran out of its memory limit ({mem} GiB)",
    "virtual memory exhausted": "the compiler ran out of its memory limit ({mem} GiB)",
    "CPU time limit exceeded": "the compiler ran out of its CPU time limit ({cpu} s)",
}


def limit_diagnostics(log: str) -> list[Diagnostic]:
    """A compile that died at the sandbox's limits, said plainly and on the file that caused it."""
    found: list[Diagnostic] = []
    failed = "?"
    limits = CANDIDATE_COMPILE_LIMITS
    for line in log.splitlines():
        if line.startswith("FAILED: "):
            m = re.search(r"\.dir/(.+?)\.o\b", line)
            failed = m.group(1) if m else line[8:].strip()
        for sign, text in _LIMIT_SIGNS.items():
            if sign in line:
                why = text.format(cpu=limits.cpu_seconds, mem=limits.address_space_bytes >> 30)
                found.append(Diagnostic(failed, 0, 0, "error", f"{why}: a compile-time bomb (deep template recursion, a huge constexpr)?"))
                break
    return found


async def configure_and_build(target: Target, src: Path, build: Path, targets: list[str], *, home: Path, timeout: float,
                              env: dict[str, str] | None = None, cpus: tuple[int, ...] | None = None) -> BuildResult:
    """Configure `build` when its arguments changed (or it never was), then build `targets` incrementally."""
    started = time.monotonic()
    if needs_configure(target, src, build):
        result = await configure(target, src, build)
        if not result.ok:
            return result
    result = await ninja(build, targets, timeout=timeout, home=home, env=env, cpus=cpus)
    result.seconds = time.monotonic() - started
    return result


_GCC_LINE = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?P<sev>error|warning|note|fatal error):\s*(?P<msg>.*)$")


def parse_diagnostics(log: str) -> list[Diagnostic]:
    """GCC/Clang diagnostics: JSON arrays where -fdiagnostics-format=json was used, text lines otherwise."""
    found: list[Diagnostic] = []
    for line in log.splitlines():
        stripped = line.strip()
        if stripped.startswith("[{") and stripped.endswith("}]"):
            try:
                found.extend(_from_gcc_json(json.loads(stripped)))
                continue
            except (ValueError, KeyError, TypeError):
                pass
        m = _GCC_LINE.match(stripped)
        if m:
            sev = "error" if m.group("sev") == "fatal error" else m.group("sev")
            found.append(Diagnostic(m.group("file"), int(m.group("line")), int(m.group("col") or 0), sev, m.group("msg")))
        elif "undefined reference to" in stripped:
            found.append(Diagnostic("<link>", 0, 0, "error", stripped))
    return found


def _from_gcc_json(items: list[dict]) -> list[Diagnostic]:
    out = []
    for item in items:
        loc = (item.get("locations") or [{}])[0].get("caret", {})
        out.append(Diagnostic(loc.get("file", "?"), int(loc.get("line", 0)), int(loc.get("column", 0)), item.get("kind", "error"), item.get("message", "")))
        out.extend(_from_gcc_json(item.get("children", [])))
    return out


def relativize(diags: list[Diagnostic], src: Path) -> list[Diagnostic]:
    """Report paths relative to the MNN tree, as the candidate knows them."""
    prefix = str(src.resolve()) + "/"
    out = []
    for d in diags:
        f = d.file
        for p in (prefix, str(src) + "/"):
            if f.startswith(p):
                f = f[len(p):]
        f = re.sub(r"^(\.\./)+(src/)?", "", f)
        out.append(Diagnostic(f, d.line, d.column, d.severity, d.message))
    return out


def run_sync(coro):
    return asyncio.run(coro)
