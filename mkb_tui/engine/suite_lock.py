"""A foreign suite's lock (tasks/_suites/<suite>.lock.json): each task file run in the child process of
mkb_tui.bench.foreign, its export converted by MNN's converter, its mechanism and primary MNN op read off the model.
In the engine because it needs MNN (the benchmark itself stands without it)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from mkb_tui.bench.foreign import MNN_SHAPE_OPS, MNN_SUBTYPE_KEYS, MNN_SUBTYPED, PRIMARY_MNN, file_hash, mnn_signature, run_worker, target_op
from mkb_tui.errors import TaskError
from mkb_tui.paths import cache_dir


def classify(onnx_op: str, mnn_ops: list[str], primary: str | None, mnn_root: Path | None) -> tuple[str, str | None]:
    """(mechanism, primary MNN op) of a converted task. The mkb suite's validated form of the same ONNX op decides
    when its primary op is in the model; else the op MNN's CPU backend or a geometry computer registers; else (an
    ONNX op the converter rewrites into generic ops) a combiner."""
    from mkb_tui.bench.tasks import suite_tasks
    from mkb_tui.engine.slots import primary_op

    ours = [t for t in suite_tasks("mkb") if t.op == onnx_op and primary_op(t) in mnn_ops]
    if ours:
        best = max(ours, key=lambda t: len(set(t.mnn_ops) & set(mnn_ops)) - len(set(t.mnn_ops) ^ set(mnn_ops)))
        return best.mechanism, primary_op(best)
    for op in PRIMARY_MNN.get(onnx_op, ()):
        if op in mnn_ops:
            primary = op
            break
    else:
        compute = [o for o in mnn_ops if o not in MNN_SHAPE_OPS]
        if len(compute) > 1 and onnx_op not in PRIMARY_MNN:
            return "combiner", primary
    if mnn_root is not None:
        from mkb_tui.engine.slots import _cpu_registrations, _geometry_registrations

        if primary in _cpu_registrations(str(mnn_root)):
            return "cpu", primary
        if primary in _geometry_registrations(str(mnn_root)):
            return "geometry", primary
    return "cpu", primary


# MNN's own kernel is known to disagree with the reference on these ops (the mkb suite's validated tasks found why);
# the oracle then expects MNN's wrong answer (wrong_output), as for the mkb suite's NATIVE_INCORRECT tasks
KNOWN_NATIVE_INCORRECT = {
    "Round": "MNN rounds halves away from zero (0.5 -> 1, 2.5 -> 3); ONNX and PyTorch round half to even (the published "
             "inputs hold exact halves)",
}


# ONNX ops whose outputs are sums of many products, where MNN's kernels (Winograd, Strassen, packed GEMM) add in
# another order than PyTorch: MNN's own Conv misses 1e-4 by 10-20x on the paper's dense 2-D convolutions (and 1e-3 by
# 1-2x). The tolerance is only the ceiling: a candidate is held to 16x MNN's own measured error (bench/precision.py)
SUMS_OF_PRODUCTS = {"Conv": 1e-2, "ConvTranspose": 1e-2}
SUMS_REASON = ("sums of hundreds of products, which MNN computes through Winograd and Strassen transforms: its own "
               "error reaches 2e-3; a candidate is still held to 16x MNN's measured error")


# Paper tasks on which MNN 3.6.1's own kernel misses the reference on a fixed seed, so in every evaluation (its native
# record, from the pristine library: every input set for most, 5 and 3 of 16 for the two Dets), with what was measured
NATIVE_INCORRECT_TASKS = {
    "Logic/Less": "MNN's Less is wrong on 131290 of 524288 values (25%: where both float inputs are negative, as if their "
                  "bit patterns were compared as integers)",
    "Logic/LogicalXor": "the export casts the float inputs to bool first; MNN's answer differs on 64941 of 131072 values",
    "Logic/Not": "the export casts the float input to bool first; MNN's answer differs on 28381 of 32768 values",
    "Tensor/Cast": "a cast to float16: MNN rounds otherwise than PyTorch (up to 9.8e-4 apart, 3.8e-4 in the tolerance's "
                   "measure, on 267794 of 1048576 values)",
    "Matrix/MatMul_bcast": "batch dimensions broadcast on both sides: MNN's batched MatMul is wrong on 32256 of 32768 values",
    "Matrix/Det_2d": "MNN's Det (elimination without pivoting) gives a NaN or inf where PyTorch's does not: 1 of 64 values on "
                     "seed 0, on 5 of 16 input sets",
    "Matrix/Det_3d": "MNN's Det (elimination without pivoting) gives a NaN or inf where PyTorch's does not: 1 of 512 values on "
                     "seed 2, on 3 of 16 input sets",
}


def not_run_by_mnn(op: str, node) -> str | None:
    """Why MNN 3.6.1 cannot run this ONNX node as ONNX defines it, as its oracle found (None: it can); pure."""
    if op == "Unique":
        return "MNN 3.6.1 cannot run it: its CPU backend fails to create a session for the converted Unique"
    attributes = {a.name: list(a.ints) for a in node.attribute}
    if op == "MaxPool" and any(d != 1 for d in attributes.get("dilations", [])):
        return "MNN 3.6.1 ignores MaxPool's dilations (its output is 31x31 where ONNX's is 30x30)"
    equation = next((a.s.decode(errors="replace") for a in node.attribute if a.name == "equation"), "")
    if op == "Einsum" and any(len(set(term)) < len(term) for term in equation.split("->")[0].replace(" ", "").split(",")):
        return (f"MNN 3.6.1's converter turns the diagonal einsum {equation!r} into a Permute: its output is the whole "
                "matrix, not the diagonal")
    return None


def geometry_lowering(primary: str | None, inputs: list[dict], outputs: list[dict]) -> str | None:
    """Why MNN's geometry, not the op's CPU kernel, computes a task (None when the CPU kernel runs it): a BinaryOp
    where one input has the output's size and the other is broadcast (and is not a scalar) is lowered by
    GeometryBinary into a loop that CPULoop runs, so a CPU BinaryOp candidate never runs (the oracle said
    "creations 0"); its slot is the geometry computer. A MatMul with batch dimensions (an input of rank 3 or more)
    is lowered the same way, by GeometryBatchMatMul."""
    from math import prod

    if primary == "MatMul" and any(len(i.get("shape") or []) > 2 for i in inputs):
        return "a batched MatMul: MNN's GeometryBatchMatMul lowers it into a loop, so the slot is the geometry computer"
    if primary != "BinaryOp" or len(inputs) != 2 or len(outputs) != 1:
        return None
    sizes = [prod(i.get("shape") or [1]) for i in inputs]
    out = prod(outputs[0].get("shape") or [1])
    if sorted(s == out for s in sizes) == [False, True] and min(sizes) > 1:
        return "a single-input broadcast: MNN's GeometryBinary lowers it into a loop (CPULoop), so the slot is the geometry computer"
    return None


def lock_suite(root: Path, *, say=lambda _m: None, chunk: int = 24, mnn_root: Path | None = None,
               names: list[str] | None = None) -> dict:  # fmt: skip
    """Run every file of a suite folder in child processes and derive the lock (see the module docstring)."""
    import onnx

    from mkb_tui.engine.convert import DEFAULT_FLAGS, convert_onnx, model_ops

    files = sorted(p for p in root.glob("*/*.py") if not p.name.startswith("_"))
    if names:
        files = [p for p in files if f"{p.parent.name}/{p.stem}" in names]
    work = Path(tempfile.mkdtemp(prefix="mkb-lock-", dir=cache_dir()))
    entries = []
    started = time.monotonic()
    for start in range(0, len(files), chunk):
        batch = files[start : start + chunk]
        jobs = [{"file": str(p), "name": f"{p.parent.name}/{p.stem}", "seeds": [0], "refs_dir": None,
                 "onnx": str(work / p.parent.name / f"{p.stem}.onnx")} for p in batch]  # fmt: skip
        replies = run_worker(jobs)
        for path, job, reply in zip(batch, jobs, replies):
            entry = {"name": job["name"], "category": path.parent.name, "file": str(path.relative_to(root)),
                     "sha256": file_hash(path), "tolerance": 1e-4, "state": "supported", "reason": None,
                     "notes": [n for n in reply.get("notes", []) if "torchvision" not in n or "torchvision" in path.read_text()]}  # fmt: skip
            entries.append(entry)
            if not reply.get("ok"):
                entry.update(state="unsupported", reason=f"the file does not run or export: {reply.get('error')}")
                continue
            entry["inputs"], entry["outputs"], entry["export"] = reply["inputs"], reply["outputs"], reply["export"]
            graph = onnx.load(job["onnx"]).graph
            nodes = [n.op_type for n in graph.node if n.op_type != "Constant"]
            op = target_op(job["name"], nodes)
            entry["onnx_nodes"], entry["op"] = nodes, op
            target = next((n for n in graph.node if n.op_type == op), None)
            why_not = not_run_by_mnn(op, target) if target is not None else None
            if why_not:
                entry.update(state="unsupported", reason=why_not)
                continue
            if op in SUMS_OF_PRODUCTS:
                entry.update(tolerance=SUMS_OF_PRODUCTS[op], tolerance_reason=SUMS_REASON)
            helpers = list(nodes)
            if op:
                helpers.remove(op)  # one target node; a second of the same type (a depthwise + pointwise pair) is a helper
            entry["helper_nodes"] = helpers if op else []
            if op is None and job["name"].split("/")[-1].startswith("Mod") and set(nodes) <= {"Div", "Floor", "Mul", "Sub"}:
                # ONNX Mod with fmod=0 is for integers only: a float remainder (Python's sign rule) is torch's
                # Div/Floor/Mul/Sub, exported and timed as it is
                op = "Mod"
                entry["op"], entry["helper_nodes"] = op, nodes
                entry["notes"].append("float remainder: ONNX Mod(fmod=0) is integer-only, so the export is torch's "
                                      "Div, Floor, Mul, Sub (helper nodes of the Mod task)")
            if op is None:
                entry.update(state="unsupported", reason=f"no target op among the export's nodes {nodes}")
                continue
            try:
                mnn = convert_onnx(Path(job["onnx"]), DEFAULT_FLAGS)
            except TaskError as exc:
                import re

                found = re.search(r"These Op Not Support: ([^|]*)", str(exc))
                why = f"these ops are not supported: {found.group(1).strip()}" if found else str(exc)
                entry.update(state="unsupported", reason=f"MNN's converter cannot convert it ({why})")
                continue
            ops = model_ops(mnn)
            extra = [o for o in ops if o["type"] == "Extra"]
            if extra:
                entry.update(state="unsupported", reason=f"MNN's converter has no op for ONNX {op}: it is left as an unconverted Extra op")
                continue
            types, primary, subtype = mnn_signature(ops)
            mechanism, primary = classify(op, types, primary, mnn_root)
            if op == "Mod" and op not in nodes:  # the float remainder's decomposition: its BinaryOps are the kernel
                mechanism, primary = "cpu", "BinaryOp"
            lowered = geometry_lowering(primary, entry["inputs"], entry["outputs"])
            if lowered and mnn_root is not None and mechanism == "cpu":
                from mkb_tui.engine.slots import _geometry_registrations

                if primary in _geometry_registrations(str(mnn_root)):
                    mechanism = "geometry"
                    entry["notes"].append(lowered)
            if op in KNOWN_NATIVE_INCORRECT:
                entry["native_incorrect"] = KNOWN_NATIVE_INCORRECT[op]
            if job["name"] in NATIVE_INCORRECT_TASKS:
                entry["native_incorrect"] = NATIVE_INCORRECT_TASKS[job["name"]]
            mains = [o for o in ops if o["type"] == primary]
            subtype = None
            if len(mains) == 1 and primary in MNN_SUBTYPED:
                main = mains[0].get("main") or {}
                subtype = next((main[k] for k in MNN_SUBTYPE_KEYS if isinstance(main.get(k), str)), None)
            entry.update(mnn_ops=types, mnn_primary=primary, mnn_subtype=subtype, mechanism=mechanism)
        say(f"{min(start + chunk, len(files))}/{len(files)} files ({time.monotonic() - started:.0f} s)")
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return {"format": 1, "tasks": entries}


def check_converter_ops(task, result) -> None:
    """For a foreign task that validated: MNN's converter gives the ops the lock records (else `result` says so)."""
    if not (task.foreign and result.ok):
        return
    from mkb_tui.engine.convert import convert_to_mnn, model_ops

    try:
        ops = list(dict.fromkeys(o["type"] for o in model_ops(convert_to_mnn(task)) if o["type"] not in ("Const", "Input")))
    except TaskError as exc:
        ops, result.message = [], str(exc)
    if ops != list(task.mnn_ops):
        result.matches = False
        result.message = result.message or f"MNN's converter gives {ops}, the lock records {list(task.mnn_ops)}"
