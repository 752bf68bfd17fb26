"""`mkb-tui tasks list|show|export|validate`."""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from mkb_tui.cli.output import print_json, print_table, stdout_is_terminal


def register(sub: argparse._SubParsersAction) -> None:
    tasks = sub.add_parser("tasks", help="browse, export and validate the benchmark's 190 tasks")
    tsub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True, parser_class=type(tasks))

    p = tsub.add_parser("list", help="list tasks")
    p.add_argument("--category", help="only this category (e.g. Unary)")
    p.add_argument("--op", help="only this ONNX operator (e.g. Softmax)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("pattern", nargs="?", help="glob over ids or category/id, e.g. 'unary/*'")
    p.set_defaults(func=cmd_list)

    p = tsub.add_parser("show", help="a task's source, metadata and ONNX node")
    p.add_argument("task_id")
    p.add_argument("--json", action="store_true", help="metadata, source and ONNX node as one JSON object")
    p.set_defaults(func=cmd_show)

    p = tsub.add_parser("export", help="write model.onnx, inputs and reference outputs (MKBT) per seed")
    p.add_argument("task_id")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=cmd_export)

    p = tsub.add_parser("validate", help="check single-node ONNX export and onnxruntime == PyTorch")
    p.add_argument("task_ids", nargs="*", metavar="ID", help="task ids or globs (default: all)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_validate)


def _select(ids: list[str]):
    from mkb_tui.bench.tasks import get_task, load_tasks

    if not ids:
        return load_tasks()
    chosen = []
    for item in ids:
        chosen += load_tasks(item) if any(c in item for c in "*?[/") else [get_task(item)]
    return chosen


def cmd_list(args) -> int:
    from mkb_tui.bench.tasks import load_tasks

    tasks = load_tasks(args.pattern, category=args.category, op=args.op)
    if args.json:
        print(json.dumps([t.summary() for t in tasks], indent=1))
        return 0
    table = Table(title=f"MobileKernelBench: {len(tasks)} tasks")
    for col in ("id", "category", "op", "MNN ops", "mechanism", "tol", "note"):
        table.add_column(col)
    for t in tasks:
        note = "native incorrect" if t.native_incorrect else ""
        table.add_row(t.id, t.category, t.op, ", ".join(t.mnn_ops), t.mechanism, f"{t.tolerance:g}", note)
    print_table(table)
    return 0


def cmd_show(args) -> int:
    from mkb_tui.bench.export import onnx_path
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.bench.validate import onnx_node_summary

    task = get_task(args.task_id)
    meta = task.summary() | {"seeds": list(task.seeds), "tolerance_reason": task.tolerance_reason}
    node = onnx_node_summary(onnx_path(task))
    if args.json:
        print_json(meta | {"source": task.source, "onnx_node": node})
        return 0
    if not stdout_is_terminal():  # piped: the source as it is, numbered, never wrapped or cut
        lines = task.source.splitlines()
        width = len(str(len(lines)))
        print("\n".join(f"{i:>{width}}  {line}" for i, line in enumerate(lines, 1)))
        print_json(meta)
        print("ONNX node")
        print_json(node)
        return 0
    console = Console()
    console.print(Syntax(task.source, "python", line_numbers=True, word_wrap=True))  # long lines wrap, never cut
    console.print_json(json.dumps(meta))
    console.print("[bold]ONNX node[/bold]")
    console.print_json(json.dumps(node, default=str))
    return 0


def cmd_export(args) -> int:
    from mkb_tui.bench.export import onnx_path
    from mkb_tui.bench.references import reference_case
    from mkb_tui.bench.tasks import get_task

    task = get_task(args.task_id)
    args.dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(onnx_path(task), args.dir / "model.onnx")
    module = task.load_module()
    for seed in task.seeds:
        case = reference_case(task, seed, module=module)
        shutil.copy(case.inputs_path, args.dir / f"inputs_{seed}.mkbt")
        shutil.copy(case.outputs_path, args.dir / f"outputs_{seed}.mkbt")
    (args.dir / "task.json").write_text(json.dumps(task.summary() | {"seeds": list(task.seeds)}, indent=1))
    print(f"exported {task.id} to {args.dir}: model.onnx, inputs/outputs for seeds {list(task.seeds)} (MKBT, see tasks/README.md)")
    return 0


def cmd_validate(args) -> int:
    from mkb_tui.bench.validate import validate_task
    from mkb_tui.cli.progress import StepProgress

    tasks = _select(args.task_ids)
    results = []
    started = time.monotonic()
    with StepProgress(Console(stderr=True), transient=True) as bars:
        bar = bars.add("validating", len(tasks))
        for task in tasks:
            bars.update(bar, description=f"validating {task.id}")
            results.append(validate_task(task))
            bars.update(bar, advance=1)
        bars.finish(bar)
    failed = [r for r in results if not r.ok]
    if args.json:
        print(json.dumps([r.__dict__ for r in results], indent=1, default=str))
    else:
        for r in failed:
            print(f"FAIL {r.task_id}: {r.message}")
        print(f"{len(results) - len(failed)} passed, {len(failed)} failed ({time.monotonic() - started:.1f} s)")
    return 0 if not failed else 1
