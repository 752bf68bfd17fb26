"""Model Parser: the task's ONNX node and the MNN ops it was converted to, as one JSON object."""

from __future__ import annotations

import json

from mkb_tui.bench.tasks import Task


def model_json(task: Task) -> str:
    from mkb_tui.bench.export import onnx_path
    from mkb_tui.bench.validate import onnx_node_summary
    from mkb_tui.engine.convert import convert_to_mnn, model_ops

    onnx_file = onnx_path(task)
    mnn_ops = [{"type": op["type"], "name": op["name"], "params": op["main"]} for op in model_ops(convert_to_mnn(task))]
    data = {"onnx": onnx_node_summary(onnx_file), "mnn": mnn_ops, "inputs": [{"name": s.name, "shape": list(s.shape), "dtype": s.dtype} for s in task.inputs]}
    return json.dumps(data, indent=1, default=str)[:12000]
