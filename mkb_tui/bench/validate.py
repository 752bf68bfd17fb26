"""The two checks every task must pass: (1) its ONNX export is one node of the target op; (2) onnxruntime on
that file reproduces PyTorch eager within the task's tolerance on every seed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from mkb_tui.bench.compare import compare_outputs
from mkb_tui.bench.tasks import Task
from mkb_tui.errors import TaskError

# Nodes that compute nothing: constants feeding the target op
NON_COMPUTE = {"Constant"}


@dataclass
class ValidationResult:
    task_id: str
    single_node: bool = False
    matches: bool = False
    nodes: list[str] = field(default_factory=list)
    max_abs_error: float = 0.0
    message: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.single_node and self.matches


def onnx_nodes(path) -> list[str]:
    import onnx

    graph = onnx.load(str(path)).graph
    return [n.op_type for n in graph.node if n.op_type not in NON_COMPUTE]


def onnx_node_summary(path) -> list[dict]:
    import onnx
    from onnx import helper

    graph = onnx.load(str(path)).graph
    summary = []
    for node in graph.node:
        if node.op_type in NON_COMPUTE:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v if isinstance(v, (int, float, str, list)) else str(v)) for k, v in attrs.items()}
        summary.append({"op_type": node.op_type, "inputs": list(node.input), "outputs": list(node.output), "attributes": attrs})
    return summary


def validate_task(task: Task) -> ValidationResult:
    from mkb_tui.bench.export import onnx_path
    from mkb_tui.bench.references import reference_cases

    started = time.monotonic()
    result = ValidationResult(task.id)
    try:
        path = onnx_path(task)
    except TaskError as exc:
        result.message = str(exc)
        result.seconds = time.monotonic() - started
        return result
    result.nodes = onnx_nodes(path)
    if task.foreign:  # the paper's files as published: the target op and the helper nodes its lock records
        expected = sorted([task.op, *task.helper_nodes])
        decomposed = task.op not in result.nodes and sorted(result.nodes) == sorted(task.helper_nodes)  # e.g. float Mod
        result.single_node = task.state == "supported" and (sorted(result.nodes) == expected or decomposed)
        if task.state != "supported":
            result.message = f"{task.state}: {task.unsupported_reason}"
        elif not result.single_node:
            result.message = f"export has nodes {result.nodes}, the lock records {task.op} with helpers {list(task.helper_nodes)}"
    else:
        result.single_node = result.nodes == [task.op]
        if not result.single_node:
            result.message = f"export has nodes {result.nodes}, expected exactly [{task.op}]"
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    result.matches = True
    for case in reference_cases(task, task.seeds):
        seed = case.seed
        feeds = dict(zip(case.input_names, case.inputs()))
        got = session.run(list(case.output_names), feeds)
        cmp = compare_outputs(got, case.outputs(), task.tolerance)
        result.max_abs_error = max(result.max_abs_error, cmp.max_abs_error)
        if not cmp.ok:
            result.matches = False
            result.message = (result.message + "; " if result.message else "") + f"seed {seed}: onnxruntime vs PyTorch: {cmp.message}"
            break
    result.seconds = time.monotonic() - started
    return result
