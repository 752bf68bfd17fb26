"""MNN's model converter built from source, for combiner tasks.

A combiner is code in MNN's converter (an ONNX "extra" transform) that rewrites one ONNX op into MNN ops, so a combiner
candidate has to be compiled into a converter. The pristine build (in the MNN home, next to the pristine libraries)
is built once and warms ccache; each workspace then builds its own converter from its own tree, incrementally.
Converting runs the candidate's code, so it runs like any untrusted kernel: subprocess, limits, timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from mkb_tui.device import sandbox
from mkb_tui.device.base import ProcResult
from mkb_tui.device.local import Limits, run_contained, run_limited
from mkb_tui.engine import build as builder
from mkb_tui.engine.convert import ops_of
from mkb_tui.engine.mnn import MnnInfo
from mkb_tui.engine.toolchain import converter_target
from mkb_tui.engine.types import BuildResult

CONVERTER_TARGET = "MNNConvert"
# the converter itself needs a little room (protobuf parsing, graph passes), a transform must not loop forever
CONVERT_LIMITS = Limits(cpu_seconds=120, address_space_bytes=4 << 30, file_size_bytes=256 << 20)
COLD_BUILD_HINT = "about 9-12 minutes the first time on 2 cores, seconds with ccache"


def converter_exe(build_dir: Path) -> Path:
    return build_dir / CONVERTER_TARGET


async def build_converter(src: Path, build_dir: Path, home: Path, *, timeout: float = 3600, env: dict[str, str] | None = None,
                          cpus: tuple[int, ...] | None = None) -> BuildResult:  # fmt: skip
    """Configure (when needed) and build MNNConvert from `src` into `build_dir` (on `cpus` only, when given)."""
    return await builder.configure_and_build(converter_target(), src, build_dir, [CONVERTER_TARGET], home=home, timeout=timeout, env=env,
                                             cpus=cpus)  # fmt: skip


def pristine_converter_dir(mnn: MnnInfo) -> Path:
    return mnn.home / "build-converter"


async def ensure_pristine_converter(mnn: MnnInfo, *, timeout: float = 7200) -> BuildResult:
    return await build_converter(mnn.root, pristine_converter_dir(mnn), mnn.home, timeout=timeout)


async def run_converter(exe: Path, onnx_file: Path, out: Path, flags: tuple[str, ...], *, timeout: float = 120) -> ProcResult:
    """ONNX -> .mnn with a source-built converter; the caller reads `out` only when the result says success."""
    argv = [str(exe), "-f", "ONNX", "--modelFile", str(onnx_file), "--MNNModel", "@OUT@", "--bizCode", "mkb", *flags]
    return await _contained_convert(exe, argv, onnx_file, out, timeout)


def converted(proc: ProcResult, out: Path) -> bool:
    return proc.returncode == 0 and not proc.timed_out and out.exists() and "Converted Success" in proc.stdout


async def dump_ops(exe: Path, mnn_file: Path, *, timeout: float = 60) -> list[dict]:
    """The model's ops (type, name, main), read with a converter (-f MNN --JsonFile): the pristine one, so that the
    candidate's code is not the witness of its own proof of run."""
    json_file = mnn_file.with_suffix(".json")
    argv = [str(exe), "-f", "MNN", "--modelFile", str(mnn_file), "--JsonFile", "@OUT@"]
    await _contained_convert(exe, argv, mnn_file, json_file, timeout)
    if not json_file.exists():
        return []
    return ops_of(json.loads(json_file.read_text()))


async def _contained_convert(exe: Path, argv: list[str], model: Path, out: Path, timeout: float) -> ProcResult:
    """Run a converter (which holds a combiner candidate's code) with only its model in and a fresh directory out,
    as nobody, without network, new processes or the harness's environment; then move its output to `out`.
    Where bubblewrap is missing it runs limited only (and says so)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="convert-", dir=out.parent) as tmp:
        work = Path(tmp)
        produced = work / out.name
        argv = [produced.as_posix() if a == "@OUT@" else a for a in argv]
        if not sandbox.status().usable:
            proc = await run_limited(argv, cwd=work, timeout=timeout, limits=CONVERT_LIMITS)
            proc.stderr += "\n(mkb: the converter ran uncontained: bubblewrap is not usable here)"
        else:
            work.chmod(0o755)  # bwrap itself (root without capabilities) enters it before the converter becomes nobody
            if os.geteuid() == 0:
                os.chown(work, sandbox.NOBODY, sandbox.NOBODY)
            # the converter's own shared libraries, where its RPATH finds them (the build dir and below)
            libs = tuple(p for p in exe.parent.rglob("*.so*") if p.is_file() and not p.is_symlink())
            spec = sandbox.SandboxSpec(readable=(exe, *libs, model), writable=(work,), cwd=work, limits=CONVERT_LIMITS.rlimits(),
                                       processes=sandbox.Processes.THREADS)  # fmt: skip
            proc = await run_contained(argv, spec, timeout=timeout)
        if produced.is_file() and not produced.is_symlink():
            shutil.move(produced, out)
        elif produced.is_symlink() or produced.exists():
            # the candidate's code chose what lies there: a link would have the host read (and push) a file it names
            proc.stderr += f"\n(mkb: the converter's output {out.name} is not a plain file: refused)"
    return proc
