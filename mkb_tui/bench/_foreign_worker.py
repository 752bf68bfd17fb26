"""Child process that runs a foreign suite's task files (code from elsewhere: never imported by the harness).

Reads one JSON object on stdin: {"jobs": [{"file", "name", "seeds", "refs_dir", "onnx", "export"}...]}; writes one
JSON line per job on stdout. Per job it loads the file as a module of its own, builds `Model(*get_init_inputs())`
under torch.manual_seed(0), draws `get_inputs()` under torch.manual_seed(seed) per seed, writes the inputs and the
eager outputs (MKBT) to refs_dir, and exports ONNX to `onnx` when asked: the first faithful form of a list of
attempts (legacy exporter at opset 18, 20, 17, then the dynamo exporter), faithful meaning onnxruntime on the
export reproduces eager PyTorch on the first seed and MNN's converter reads every input the export gives its ops.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import json
import sys
import traceback
import types
import warnings
from pathlib import Path

import numpy as np

ATTEMPTS = (("legacy", 18), ("legacy", 20), ("legacy", 17), ("dynamo", 20))
# aten ops the legacy exporter has no symbolic for, mapped to the one ONNX op that defines them
MISSING_SYMBOLICS = {
    "sinh": ("Sinh", 9), "cosh": ("Cosh", 9), "asinh": ("Asinh", 9), "acosh": ("Acosh", 9), "atanh": ("Atanh", 9),
    "bitwise_and": ("BitwiseAnd", 18), "bitwise_or": ("BitwiseOr", 18), "bitwise_xor": ("BitwiseXor", 18),
}  # fmt: skip


def _register_symbolics(notes: list[str]) -> None:
    import torch

    for aten, (onnx_op, opset) in MISSING_SYMBOLICS.items():
        def symbolic(g, *args, _op=onnx_op):
            return g.op(_op, *[a for a in args if hasattr(a, "type")][:2])

        for version in range(opset, 21):
            torch.onnx.register_custom_op_symbolic(f"aten::{aten}", symbolic, version)


def _torchvision_shim(notes: list[str]) -> None:
    """torchvision is not a dependency: its RoIAlign (the one use in the paper's suite) as a module computing the
    same average-pooled bilinear samples, exported as the one ONNX RoiAlign node."""
    try:
        import torchvision  # noqa: F401

        return
    except ImportError:
        pass
    import torch

    from mkb_tui.bench.taskkit import onnx_op, roi_align

    class RoIAlign(torch.nn.Module):
        def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
            super().__init__()
            out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
            self.args = (out_h, out_w, float(spatial_scale), int(sampling_ratio), bool(aligned))
            self.op = onnx_op("RoiAlign", lambda x, b, i: roi_align(x, b, i, *self.args), attrs={
                "mode_s": "avg", "output_height_i": out_h, "output_width_i": out_w, "sampling_ratio_i": int(sampling_ratio),
                "spatial_scale_f": float(spatial_scale),
                "coordinate_transformation_mode_s": "half_pixel" if aligned else "output_half_pixel"})  # fmt: skip

        def forward(self, x, rois):
            return self.op(x, rois[:, 1:].contiguous(), rois[:, 0].to(torch.int64))

    vision = types.ModuleType("torchvision")
    vision.ops = types.ModuleType("torchvision.ops")
    vision.ops.RoIAlign = RoIAlign
    sys.modules["torchvision"], sys.modules["torchvision.ops"] = vision, vision.ops
    notes.append("torchvision absent: torchvision.ops.RoIAlign run as an equivalent module exporting one RoiAlign node")


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"foreign_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _arrays(values) -> list[np.ndarray]:
    import torch

    out = []
    for v in values:
        if isinstance(v, torch.Tensor):
            out.append(v.detach().cpu().numpy())
        else:
            out.append(np.asarray(v))
    return out


def _outputs(result) -> list:
    import torch

    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, (tuple, list)):
        flat = []
        for r in result:
            flat += _outputs(r)
        return flat
    raise TypeError(f"the model returned {type(result).__name__}, not tensors")


def _ort_matches(onnx_bytes: bytes, names: list[str], inputs: list[np.ndarray], expected: list[np.ndarray]) -> str | None:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    feeds = {i.name: a for i, a in zip(session.get_inputs(), inputs)}
    got = session.run(None, feeds)
    if len(got) != len(expected):
        return f"{len(got)} outputs, eager has {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        if g.shape != e.shape:
            return f"output {i}: shape {g.shape} != eager {e.shape}"
        if not np.allclose(g.astype(np.float64), e.astype(np.float64), rtol=1e-4, atol=1e-4, equal_nan=True):
            return f"output {i}: onnxruntime differs from eager by {float(np.nanmax(np.abs(g.astype(np.float64) - e))):.3g}"
    return None


# ONNX ops whose MNN 3.6.1 conversion (tools/converter/source/optimizer/onnxextra/OnnxReduceL2.cpp) reads the axes
# from the attribute only: given as an input (opset 18 on), they are dropped and MNN reduces over every axis
AXES_ATTRIBUTE_ONLY = frozenset({"ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"})


def mnn_unread_inputs(onnx_bytes: bytes) -> str | None:
    """Why MNN's converter would not convert this export as written (an input it ignores), or None (pure)."""
    import onnx

    for node in onnx.load_from_string(onnx_bytes).graph.node:
        if node.op_type in AXES_ATTRIBUTE_ONLY and len(node.input) > 1 and node.input[1]:
            return f"{node.op_type} takes its axes as an input, which MNN's converter does not read"
    return None


def _export(model, example, names: list[str], count: int, inputs, expected, prefer=None) -> tuple[bytes, dict]:
    import torch

    tried = []
    attempts = ([tuple(prefer)] if prefer else []) + [a for a in ATTEMPTS if list(a) != list(prefer or ())]
    for how, opset in attempts:
        buffer = io.BytesIO()
        try:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(model, example, buffer, opset_version=opset, input_names=names,
                                  output_names=[f"out{i}" for i in range(count)], dynamo=how == "dynamo")  # fmt: skip
            data = buffer.getvalue()
            if how == "dynamo" and not data:
                raise RuntimeError("no model written")
            why = mnn_unread_inputs(data) or _ort_matches(data, names, inputs, expected)
        except Exception as exc:  # noqa: BLE001 - every failure is a reason recorded for the next attempt
            why = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
        if why is None:
            return data, {"exporter": how, "opset": opset, "failed_attempts": tried}
        tried.append(f"{how} opset {opset}: {why}")
    raise RuntimeError("no faithful ONNX export: " + "; ".join(tried))


def run_job(job: dict) -> dict:
    import torch

    from mkb_tui.bench.tensorfile import write_tensors

    notes: list[str] = []
    if "torchvision" in Path(job["file"]).read_text(errors="replace"):
        _torchvision_shim(notes)
    module = _load(Path(job["file"]), job["name"])
    torch.manual_seed(0)
    model = module.Model(*module.get_init_inputs())
    model.eval()
    params = [p for p in inspect.signature(model.forward).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    result: dict = {"ok": True, "notes": notes, "seeds": {}}
    refs = Path(job["refs_dir"]) if job.get("refs_dir") else None
    if refs:
        refs.mkdir(parents=True, exist_ok=True)
    first = None
    for seed in job["seeds"]:
        torch.manual_seed(seed)
        values = list(module.get_inputs())
        with torch.no_grad():
            outs = _outputs(model(*values))
        inputs = _arrays(values)
        outputs = [o.detach().cpu().numpy() for o in outs]
        names = [p.name for p in params[: len(inputs)]] + [f"in{i}" for i in range(len(params), len(inputs))]
        if first is None:
            first = (values, inputs, outputs, names)
            result["inputs"] = [{"name": n, "shape": list(a.shape), "dtype": str(a.dtype)} for n, a in zip(names, inputs)]
            result["outputs"] = [{"shape": list(a.shape), "dtype": str(a.dtype)} for a in outputs]
        if refs:
            tmp_in, tmp_out = refs / f".inputs_{seed}.tmp", refs / f".outputs_{seed}.tmp"
            write_tensors(tmp_in, list(zip(names, inputs)))
            write_tensors(tmp_out, [(f"out{i}", a) for i, a in enumerate(outputs)])
            tmp_in.replace(refs / f"inputs_{seed}.mkbt")
            tmp_out.replace(refs / f"outputs_{seed}.mkbt")
    if job.get("domains"):
        from types import SimpleNamespace

        from mkb_tui.bench.domain import domain_inputs
        from mkb_tui.bench.references import case_stem
    for kind, seed in job.get("domains") or ():
        # a domain draw (mkb_tui.bench.domain): the file's own draw for the seed, each float input transformed as the
        # mkb suite's are, and the model run on it (the reference of what the judge's secret domain inputs hold)
        torch.manual_seed(seed)
        values = list(module.get_inputs())
        arrays = _arrays(values)
        rng = np.random.default_rng([seed, int.from_bytes(kind.encode(), "little")])
        shape = SimpleNamespace(op=job.get("op"), inputs=[SimpleNamespace(dtype=str(a.dtype)) for a in arrays])
        drawn = domain_inputs(shape, kind, arrays, rng)
        values = [torch.from_numpy(np.ascontiguousarray(d)) if isinstance(v, torch.Tensor) else v for v, d in zip(values, drawn)]
        with torch.no_grad():
            outs = _outputs(model(*values))
        inputs = _arrays(values)
        names = [p.name for p in params[: len(inputs)]] + [f"in{i}" for i in range(len(params), len(inputs))]
        if refs:
            stem = case_stem(seed, kind)
            tmp_in, tmp_out = refs / f".inputs_{stem}.tmp", refs / f".outputs_{stem}.tmp"
            write_tensors(tmp_in, list(zip(names, inputs)))
            write_tensors(tmp_out, [(f"out{i}", o.detach().cpu().numpy()) for i, o in enumerate(outs)])
            tmp_in.replace(refs / f"inputs_{stem}.mkbt")
            tmp_out.replace(refs / f"outputs_{stem}.mkbt")
    if job.get("onnx"):
        _register_symbolics(notes)
        values, inputs, outputs, names = first
        data, how = _export(model, tuple(values), names, len(outputs), inputs, outputs, job.get("prefer"))
        target = Path(job["onnx"])
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        result["export"] = how
    return result


def main() -> int:
    request = json.loads(sys.stdin.read())
    for job in request["jobs"]:
        try:
            reply = run_job(job)
        except BaseException as exc:  # noqa: BLE001 - the task's failure, reported, never the worker's crash
            tail = traceback.format_exception(exc)[-1].strip()
            reply = {"ok": False, "error": f"{type(exc).__name__}: {str(exc).strip()[:400]}", "trace": tail[:400]}
        reply["name"] = job["name"]
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
