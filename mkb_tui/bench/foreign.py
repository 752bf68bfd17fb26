"""Tasks of foreign suites (the paper's, a user's folder): their files are run only in a child process
(mkb_tui.bench._foreign_worker), which writes the ONNX export and the seeded inputs and eager outputs (MKBT) into
the user cache; the harness reads those files and the suite's lock file, never the code.

The lock file (`tasks/_suites/paper.lock.json`, `mkb-tui tasks lock --suite paper`) holds what is derived from
the files: per task the source file's hash, input and output shapes, the exporter and opset used, the ONNX nodes
(target op and helpers), the MNN ops of the converted model and the primary one, the mechanism, tolerance and
state (supported, or unsupported with the reason).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mkb_tui.errors import TaskError
from mkb_tui.paths import REPO_ROOT, cache_dir

WORKER = "mkb_tui.bench._foreign_worker"
JOB_TIMEOUT = 300.0  # seconds per task file in the child

# the ONNX op a file's name stands for, where the name is not the op type itself
NAME_OPS = {
    "ATan": "Atan", "ELU": "Elu", "BitWiseOr": "BitwiseOr", "BitWiseXor": "BitwiseXor", "LogicalXor": "Xor",
    "LogicalXor3d": "Xor", "GreaterEqual": "GreaterOrEqual", "LessEqual": "LessOrEqual", "LayerNorm": "LayerNormalization",
    "StridedSlice": "Slice", "ROIAlign": "RoiAlign", "Stft": "STFT", "Softplus": "Softplus", "Trilu": "Trilu",
    "ConvolutionDepthwise": "Conv", "Dense": "Conv", "Group": "Conv", "Strassen": "Conv", "Winograd": "Conv",
    "Deconvolution": "ConvTranspose", "DeconvolutionDepthwise": "ConvTranspose", "Conv3D": "Conv", "Clip": "Clip",
}  # fmt: skip
HELPER_NODES = {"Constant", "Cast", "Identity", "Reshape", "Unsqueeze", "Squeeze", "Shape", "Gather", "Concat", "Expand",
                "ConstantOfShape", "Transpose", "Slice", "Pad", "Mul", "Add"}  # fmt: skip
MNN_DATA_OPS = {"Const", "Input"}
MNN_SHAPE_OPS = {"ConvertTensor", "Shape", "Rank"}
MNN_SUBTYPED = ("UnaryOp", "BinaryOp", "Reduction", "Pooling", "Eltwise")
MNN_SUBTYPE_KEYS = ("opType", "operation", "type", "poolType")


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_worker(jobs: list[dict], *, timeout: float | None = None) -> list[dict]:
    """Run the files of `jobs` in one child process; one reply per job (a job the child never answered is
    an error reply). The child's working directory is a fresh temporary one."""
    if not jobs:
        return []
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    limit = timeout or JOB_TIMEOUT * len(jobs)
    with tempfile.TemporaryDirectory(prefix="mkb-foreign-") as cwd:
        try:
            proc = subprocess.run([sys.executable, "-m", WORKER], input=json.dumps({"jobs": jobs}), capture_output=True,
                                  text=True, cwd=cwd, env=env, timeout=limit)  # fmt: skip
            out, err = proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = f"the task files did not finish within {limit:.0f} s"
    replies = {}
    for line in out.splitlines():
        try:
            reply = json.loads(line)
        except ValueError:
            continue
        if isinstance(reply, dict) and "name" in reply:
            replies[reply["name"]] = reply
    tail = (err or "").strip().splitlines()[-1:] or ["no reply"]
    return [replies.get(j["name"], {"name": j["name"], "ok": False, "error": f"the child process ended: {tail[0][:300]}"}) for j in jobs]


def refs_folder(task) -> Path:
    from mkb_tui.bench.suites import slug

    return cache_dir() / "refs" / f"{slug(task.id)}-{task.content_hash}"


def onnx_file(task) -> Path:
    from mkb_tui.bench.suites import slug

    return cache_dir() / "onnx" / f"{slug(task.id)}-{task.content_hash}.onnx"


def _job(task, seeds, *, onnx: bool, domains=()) -> dict:
    prefer = task.export_options.get("prefer")
    return {"file": str(task.path), "name": task.id, "seeds": list(seeds), "refs_dir": str(refs_folder(task)),
            "onnx": str(onnx_file(task)) if onnx else None, "prefer": prefer, "op": task.op,
            "domains": [list(d) for d in domains]}  # fmt: skip


def _cached(folder: Path, stem: str) -> bool:
    return (folder / f"inputs_{stem}.mkbt").exists() and (folder / f"outputs_{stem}.mkbt").exists()


def ensure(task, seeds=(), *, onnx: bool = False, domains=()) -> None:
    """The task's ONNX export (when asked) and the references of `seeds` and of the domain draws `domains` ((kind,
    seed) pairs) in the cache, computed in a child."""
    from mkb_tui.bench.references import case_stem

    folder = refs_folder(task)
    missing = [s for s in seeds if not _cached(folder, f"{s}")]
    draws = [(k, s) for k, s in domains if not _cached(folder, case_stem(s, k))]
    need_onnx = onnx and not onnx_file(task).exists()
    if not missing and not need_onnx and not draws:
        return
    if task.state != "supported" and need_onnx and task.unsupported_reason and "export" in task.unsupported_reason:
        raise TaskError(f"task {task.id} is unsupported: {task.unsupported_reason}")
    reply = run_worker([_job(task, missing or task.seeds[:1], onnx=need_onnx, domains=draws)])[0]
    if not reply.get("ok"):
        raise TaskError(f"task {task.id}: {reply.get('error')}")


def ensure_many(tasks, *, chunk: int = 24, say=lambda _m: None) -> dict[str, str]:
    """ensure() for many tasks (their exports and fixed seeds), a few child processes in all; returns the errors
    by task id."""
    pending = []
    for task in tasks:
        folder = refs_folder(task)
        missing = [s for s in task.seeds if not ((folder / f"inputs_{s}.mkbt").exists() and (folder / f"outputs_{s}.mkbt").exists())]
        need_onnx = not onnx_file(task).exists()
        if (missing or need_onnx) and task.state == "supported":
            pending.append(_job(task, missing or task.seeds[:1], onnx=need_onnx))
    errors = {}
    for start in range(0, len(pending), chunk):
        for reply in run_worker(pending[start : start + chunk]):
            if not reply.get("ok"):
                errors[reply["name"]] = str(reply.get("error"))
        say(f"{min(start + chunk, len(pending))}/{len(pending)} task files run")
    return errors


def target_op(name: str, nodes: list[str]) -> str | None:
    """The compute node of an export: the op the file's name stands for, else the one node that is no helper."""
    stem = name.split("/")[-1]
    head = stem.split("_")[0]
    for key in (stem, head):
        op = NAME_OPS.get(key, key)
        for node in nodes:
            if node.lower() == op.lower():
                return node
    for node in nodes:
        if head.lower().startswith(node.lower()) and len(node) > 2:
            return node
    compute = [n for n in nodes if n not in HELPER_NODES]
    return compute[0] if len(compute) == 1 else None


def mnn_signature(model_ops: list[dict]) -> tuple[list[str], str | None, str | None]:
    """(op types, primary op, sub-type) of a converted model."""
    ops = [op for op in model_ops if op["type"] not in MNN_DATA_OPS]
    types = list(dict.fromkeys(op["type"] for op in ops))
    compute = [op for op in ops if op["type"] not in MNN_SHAPE_OPS]
    primary = subtype = None
    if compute:
        names = list(dict.fromkeys(op["type"] for op in compute))
        primary = names[0] if len(names) == 1 else None
        if primary is None:
            # the op that is not pure data movement, when exactly one such kind is left
            heavy = [n for n in names if n not in ("Cast", "Reshape", "Squeeze", "Unsqueeze", "Raster", "Transpose", "Concat",
                                                  "Slice", "StridedSlice", "Expand", "Gather", "GatherV2", "Permute")]
            primary = heavy[0] if len(set(heavy)) == 1 else (heavy or names)[-1]
        mains = [op for op in compute if op["type"] == primary]
        if len(mains) == 1 and primary in MNN_SUBTYPED:
            main = mains[0].get("main") or {}
            for key in MNN_SUBTYPE_KEYS:
                if isinstance(main.get(key), str):
                    subtype = main[key]
                    break
    return types, primary, subtype


# ONNX op -> the MNN op that is its kernel when the converted model has several (beyond the mkb suite's forms)
PRIMARY_MNN = {"Conv": ("Convolution", "ConvolutionDepthwise"), "ConvTranspose": ("Deconvolution", "DeconvolutionDepthwise"),
               "Gemm": ("MatMul",), "MatMul": ("MatMul",), "RNN": ("RNN",), "STFT": ("Stft",), "Range": ("Range",),
               "Tile": ("Tile",), "BatchNormalization": ("Scale",), "LayerNormalization": ("LayerNorm",),
               "Gather": ("GatherV2",), "ArgMax": ("ArgMax",), "ArgMin": ("ArgMin",)}  # fmt: skip
