"""ONNX -> .mnn with the `mnn` wheel's converter module, called directly in a subprocess.

Never the `mnnconvert` console entry point: it runs a global `pip install` and sends usage data.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from mkb_tui.errors import TaskError
from mkb_tui.paths import cache_dir

# Keep ops as the task states them: a constant-weight MatMul stays MatMul, GELU stays exact when asked.
DEFAULT_FLAGS = ("--convertMatmulToConv", "0")

_CONVERT = r"""
import sys, _tools
sys.exit(_tools.mnnconvert(["mnnconvert", *sys.argv[1:]]) or 0)
"""


def _run_converter(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _CONVERT, *args], capture_output=True, text=True, timeout=timeout)


def convert_onnx(onnx_file: Path, flags: tuple[str, ...] = DEFAULT_FLAGS) -> Path:
    """Convert (cached by ONNX content + flags) and return the .mnn path."""
    digest = hashlib.sha256(onnx_file.read_bytes() + " ".join(flags).encode()).hexdigest()[:16]
    out = cache_dir() / "mnn-models" / f"{onnx_file.stem}-{digest}.mnn"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.mnn")
    proc = _run_converter(["-f", "ONNX", "--modelFile", str(onnx_file), "--MNNModel", str(tmp), "--bizCode", "mkb", *flags])
    if not tmp.exists() or "Converted Success" not in proc.stdout:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        raise TaskError(f"MNN converter failed on {onnx_file.name}: {' | '.join(tail)}")
    tmp.replace(out)
    return out


def _model_json(mnn_file: Path) -> dict:
    json_file = mnn_file.with_suffix(".json")
    if not json_file.exists() or json_file.stat().st_mtime < mnn_file.stat().st_mtime:
        _run_converter(["-f", "MNN", "--modelFile", str(mnn_file), "--JsonFile", str(json_file)])
    if not json_file.exists():
        raise TaskError(f"could not dump {mnn_file.name} to JSON")
    return json.loads(json_file.read_text())


def has_subgraphs(mnn_file: Path) -> bool:
    """Control-flow subgraphs (e.g. an LSTM lowered to While) run only through MNN's Module API, not a Session.
    Asked on every evaluation, and a model's JSON can be 10 MB: remembered per file version."""
    stat = mnn_file.stat()
    return _has_subgraphs(str(mnn_file), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _has_subgraphs(path: str, mtime_ns: int, size: int) -> bool:
    return bool(_model_json(Path(path)).get("subgraphs"))


def model_ops(mnn_file: Path) -> list[dict]:
    """The converted model's ops as (type, main) dicts, excluding graph inputs."""
    return ops_of(_model_json(mnn_file))


def ops_of(model_json: dict) -> list[dict]:
    """(type, name, main) of each op of a model dumped to JSON by a converter, graph inputs left out."""
    return [{"type": op.get("type"), "name": op.get("name"), "main": op.get("main")} for op in model_json.get("oplists", [])
            if op.get("type") != "Input"]  # fmt: skip


def convert_to_mnn(task) -> Path:
    from mkb_tui.bench.export import onnx_path

    return convert_onnx(onnx_path(task), tuple(task.export_options.get("mnn_flags", DEFAULT_FLAGS)))
