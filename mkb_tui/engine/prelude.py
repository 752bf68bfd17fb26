"""A precompiled prelude for a CPU candidate's compile.

Parsing MNN's headers is most of a candidate's compile: `backend/cpu/CPUBackend.hpp` alone (the backend, its
execution and tensor types, and the generated schema) is about 1.1 s of the 1.7 s it takes to compile a LayerNorm on
the host. Every CPU kernel includes it, since it registers its creator through it. So each workspace build keeps that
header precompiled, with exactly the flags the build gives the candidate's file, and the launcher force-includes it
(`-include`) before the candidate's own text. Its include guard then makes the candidate's own `#include` of it a
no-op. When GCC finds the precompiled file unusable, it reads the header as text instead, with the same result.

What this changes for a candidate: the header is seen first, before any macro the candidate defines, so a kernel
cannot reshape MNN's declarations with a macro set before it includes them. The prelude holds pristine MNN headers
only. It is compiled by the harness, from the workspace tree as restored after every evaluation, and it is kept
outside the tree and the build dir, read-only for compiles.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
from pathlib import Path

from mkb_tui.device.local import Limits, run_limited
from mkb_tui.engine.concurrency import SharedFiles

PRELUDE_HEADER = "backend/cpu/CPUBackend.hpp"
CANDIDATE_SOURCE = "source/backend/cpu/MKBCandidate.cpp"
PRELUDE_NAME = "mkb_prelude.hpp"
PRELUDE_LIMITS = Limits(cpu_seconds=300, address_space_bytes=4 << 30, file_size_bytes=1 << 30)
# the flags that name this compile's own files; all others must match between the prelude and the candidate's compile
_FILE_FLAGS_WITH_VALUE = {"-MT", "-MF", "-MQ", "-o", "-c"}
_FILE_FLAGS = {"-MD", "-MMD"}


def compile_flags(command: str) -> list[str] | None:
    """The candidate's compile command (as `ninja -t commands` prints it) without its launcher and its own files:
    the compiler and the flags a precompiled header must share with it (pure)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if argv and argv[0].endswith(".sh"):  # the launcher
        argv = argv[1:]
    if argv and Path(argv[0]).name == "ccache":
        argv = argv[1:]
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _FILE_FLAGS_WITH_VALUE:
            skip = True
        elif arg not in _FILE_FLAGS:
            out.append(arg)
    return out or None


async def _candidate_command(build_dir: Path, src: Path) -> str | None:
    from mkb_tui.engine.build_check import object_for

    if not (build_dir / "build.ninja").exists():
        return None
    obj = object_for(build_dir, src / CANDIDATE_SOURCE)
    if obj is None:
        return None
    proc = await run_limited(["ninja", "-t", "commands", obj], cwd=build_dir, timeout=60)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return lines[-1] if proc.returncode == 0 and lines else None


async def ensure_prelude(root: Path, build_dir: Path, src: Path, shared: SharedFiles | None = None) -> Path | None:
    """The prelude header for this build's candidate compile, precompiled when it is not yet (a few seconds, once per
    workspace and configuration); None when the build has no candidate file or the header does not compile (the
    candidate then compiles without it, as before). With `shared` (a prelude that other processes' runs read), it is
    made while they hold none, and only by one of them."""
    command = await _candidate_command(build_dir, src)
    flags = compile_flags(command) if command else None
    if not flags:
        return None
    key = hashlib.sha256("\0".join(flags).encode()).hexdigest()[:16]
    base = root / "prelude" / build_dir.name
    folder = base / key
    header = folder / PRELUDE_NAME
    if (folder / (PRELUDE_NAME + ".gch")).exists():
        return header
    if shared is None:
        return await _make_prelude(flags, base, folder, header, build_dir)
    async with shared.writing():
        if (folder / (PRELUDE_NAME + ".gch")).exists():  # another process made it while this one waited
            return header
        return await _make_prelude(flags, base, folder, header, build_dir)


async def _make_prelude(flags: list[str], base: Path, folder: Path, header: Path, build_dir: Path) -> Path | None:
    if base.exists():  # an earlier configuration's prelude: never used again
        shutil.rmtree(base, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    header.write_text(f'#include "{PRELUDE_HEADER}"\n')
    partial = folder / (PRELUDE_NAME + ".gch.tmp")
    proc = await run_limited([*flags, "-x", "c++-header", str(header), "-o", str(partial)], cwd=build_dir, timeout=600,
                             limits=PRELUDE_LIMITS)  # fmt: skip
    if proc.returncode != 0 or not partial.exists():
        shutil.rmtree(folder, ignore_errors=True)
        return None
    partial.rename(folder / (PRELUDE_NAME + ".gch"))
    return header
