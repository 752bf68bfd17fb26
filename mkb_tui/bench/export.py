"""ONNX export of a task's model, cached by the task file's content hash."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from mkb_tui.bench.references import build_model, output_names, sample_inputs
from mkb_tui.bench.tasks import Task
from mkb_tui.errors import TaskError
from mkb_tui.paths import cache_dir


def onnx_path(task: Task) -> Path:
    if task.foreign:  # exported in a child process (its code is never imported here)
        from mkb_tui.bench import foreign

        foreign.ensure(task, onnx=True)
        return foreign.onnx_file(task)
    path = cache_dir() / "onnx" / f"{task.id}-{task.content_hash}.onnx"
    if path.exists():
        return path
    import torch

    module = task.load_module()
    model = build_model(task, module)
    arrays = sample_inputs(task, task.seeds[0], module)
    example = tuple(torch.from_numpy(a.copy()) for a in arrays)
    with torch.no_grad():
        result = model(*example)
    count = 1 if isinstance(result, torch.Tensor) else len(result)
    buffer = io.BytesIO()
    options = {"dynamo": False, **{k: v for k, v in task.export_options.items() if k != "mnn_flags"}}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                example,
                buffer,
                opset_version=task.opset,
                input_names=[s.name for s in task.inputs],
                output_names=list(output_names(count)),
                **options,
            )
    except Exception as exc:
        raise TaskError(f"task {task.id}: ONNX export failed: {str(exc).splitlines()[0]}") from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)
    return path
