"""Write tasks/<category>/<id>.py from spec.py, then record each task's converted MNN ops.

    .venv/bin/python tasks/_gen/generate.py            # write the files, convert, fill MNN_OPS / MNN_SUBTYPE
    .venv/bin/python tasks/_gen/generate.py --no-mnn   # write the files only (MNN_OPS left as before or empty)
"""

from __future__ import annotations

import json
import pprint
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASKS = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(TASKS.parent))

from spec import TASKS as SPEC  # noqa: E402

DIST_KEYS = ("dist", "low", "high", "mean", "std", "p")


def _literal(value) -> str:
    return pprint.pformat(value, width=110, sort_dicts=False)


def _str(value) -> str:
    return "None" if value is None else json.dumps(value)


def _input_dict(spec: dict) -> str:
    parts = [f'"name": "{spec["name"]}"', f'"shape": {spec["shape"]}', f'"dtype": "{spec["dtype"]}"']
    parts += [f'"{k}": {json.dumps(spec[k]) if isinstance(spec[k], str) else repr(spec[k])}' for k in DIST_KEYS + ("edge",) if k in spec]
    return "{" + ", ".join(parts) + "}"


def _torch_input(spec: dict) -> str:
    shape, kind = spec["shape"], spec.get("dist", "uniform")
    if spec["dtype"] == "bool":
        return f"torch.rand({shape}) < {spec.get('p', 0.5)}"
    if kind in ("randint", "unique_index"):
        dtype = {"int32": "torch.int32", "int64": "torch.int64", "uint8": "torch.uint8"}[spec["dtype"]]
        return f"torch.randint({spec.get('low', 0)}, {spec['high']}, {shape}, dtype={dtype})"
    if kind == "normal":
        return f"torch.randn({shape}) * {spec.get('std', 1.0)} + {spec.get('mean', 0.0)}"
    low, high = spec.get("low", 0.0), spec.get("high", 1.0)
    return f"torch.rand({shape}) * {high - low!r} + {low!r}"


def render(t: dict, mnn_ops=(), subtype=None) -> str:
    title = t["doc"].split(". ")[0].rstrip(".")
    lines = [f'"""{t["doc"]}', "", f"ONNX {t['op']} (opset {t.get('opset', 20)}); MNN mechanism: {t['mech']}.", '"""', ""]
    if t.get("numpy"):
        lines.append("import numpy as np")
    lines += ["import torch", "import torch.nn as nn"]
    body = " ".join([t.get("forward_override") or t.get("forward") or "", *(t.get("pre") or []), *(t.get("init") or [])])
    if "F." in body:
        lines.append("import torch.nn.functional as F")
    if t.get("kit"):
        lines += ["", "from mkb_tui.bench.taskkit import onnx_op"]
    lines += ["", f'OP = "{t["op"]}"', f'CATEGORY = "{t["cat"]}"', f"OPSET = {t.get('opset', 20)}"]
    if t.get("opset_reason"):
        lines.append(f"OPSET_REASON = {_str(t['opset_reason'])}")
    lines.append(f"TOLERANCE = {t['tol'] if t.get('tol') else 1e-4!r}")
    lines.append(f"TOLERANCE_REASON = {_str(t.get('tol_reason'))}")
    lines.append(f"NATIVE_INCORRECT = {_str(t.get('native_incorrect'))}")
    if t.get("native_incorrect_on"):
        lines.append(f"NATIVE_INCORRECT_ON = {tuple(t['native_incorrect_on'])!r}")
    lines.append(f"MNN_OPS = {tuple(mnn_ops)!r}")
    lines.append(f"MNN_SUBTYPE = {subtype!r}")
    lines.append(f'MECHANISM = "{t["mech"]}"')
    lines.append("SEEDS = (0, 1, 2, 3, 4)")
    lines.append("")
    for name, shape in t["shapes"].items():
        lines.append(f"{name} = {shape!r}")
    for name, value in (t.get("consts") or {}).items():
        lines.append(f"{name} = {value!r}")
    lines.append("INPUTS = (")
    for spec in t["inputs"]:
        lines.append(f"    {_input_dict(spec)},")
    lines.append(")")
    if t.get("pre"):
        lines += ["", ""] + t["pre"]
    names = ", ".join(s["name"] for s in t["inputs"])
    doc = t["doc"].split(" MNN")[0]
    lines += ["", "", "class Model(nn.Module):", f'    """{doc}"""', "", "    def __init__(self):", "        super().__init__()"]
    lines += [f"        {line}" for line in t.get("init", []) or []]
    lines += ["", f"    def forward(self, {names}):", f"        return {t.get('forward_override') or t['forward']}", ""]
    lines += ["", "def get_inputs():", "    return [" + ", ".join(_torch_input(s) for s in t["inputs"]) + "]", ""]
    lines += ["", "def get_init_inputs():", "    return []", ""]
    text = "\n".join(lines)
    return re.sub(r"\n{4,}", "\n\n\n", text)


SUBTYPE_KEYS = ("opType", "operation", "type", "poolType")


DATA_OPS = {"Const", "Input"}
SHAPE_OPS = {"ConvertTensor", "Shape", "Rank"}
SUBTYPED = ("UnaryOp", "BinaryOp", "Reduction", "Pooling")


def mnn_signature(task) -> tuple[tuple[str, ...], str | None]:
    """The op types of the converted model (data ops left out) and, when the task's compute is a single
    sub-typed MNN op (UnaryOp ABS, Reduction SUM, Pooling MAXPOOL...), that sub-type."""
    from mkb_tui.engine.convert import convert_to_mnn, model_ops

    ops = [op for op in model_ops(convert_to_mnn(task)) if op["type"] not in DATA_OPS]
    types = tuple(dict.fromkeys(op["type"] for op in ops))
    compute = [op for op in ops if op["type"] not in SHAPE_OPS]
    subtype = None
    if len(compute) == 1 and compute[0]["type"] in SUBTYPED:
        main = compute[0].get("main") or {}
        for key in SUBTYPE_KEYS:
            if isinstance(main.get(key), str):
                subtype = main[key]
                break
    return types, subtype


def main() -> None:
    with_mnn = "--no-mnn" not in sys.argv
    only = [a for a in sys.argv[1:] if not a.startswith("--")]
    for t in SPEC:
        if only and t["id"] not in only:
            continue
        path = TASKS / t["cat"].lower() / f"{t['id']}.py"
        path.parent.mkdir(exist_ok=True)
        path.write_text(render(t))
        if with_mnn:
            from mkb_tui.bench.tasks import parse_task

            try:
                ops, subtype = mnn_signature(parse_task(path))
            except Exception as exc:  # keep going: validation reports it
                print(f"{t['id']}: {exc}")
                continue
            path.write_text(render(t, ops, subtype))
            print(f"{t['id']:32s} {ops} {subtype}")


if __name__ == "__main__":
    main()
