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
    from mkb_tui.cli.completion import completes

    tasks = sub.add_parser("tasks", help="browse, export and validate the benchmark's 190 tasks")
    tsub = tasks.add_subparsers(dest="tasks_command", metavar="ACTION", required=True, parser_class=type(tasks))

    p = tsub.add_parser("list", help="list tasks")
    p.add_argument("--category", help="only this category (e.g. Unary)")
    p.add_argument("--op", help="only this ONNX operator (e.g. Softmax)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("pattern", nargs="?", help="glob over ids or category/id, e.g. 'unary/*'")
    p.add_argument("--suite", default=None, help="mkb (default), paper (alias mobilekernelbench), or a folder of KernelBench-format files")
    p.add_argument("--ids", action="store_true", help=argparse.SUPPRESS)  # for shell completion: one id a line
    p.set_defaults(func=cmd_list)

    p = tsub.add_parser("show", help="a task's source, metadata and ONNX node")
    completes(p.add_argument("task_id"), "tasks")
    p.add_argument("--json", action="store_true", help="metadata, source and ONNX node as one JSON object")
    p.add_argument("--suite", default=None, help="mkb (default), paper (alias mobilekernelbench), or a folder of KernelBench-format files")
    p.set_defaults(func=cmd_show)

    p = tsub.add_parser("export", help="write model.onnx, inputs and reference outputs (MKBT) per seed")
    completes(p.add_argument("task_id"), "tasks")
    p.add_argument("dir", type=Path)
    p.add_argument("--suite", default=None, help="mkb (default), paper (alias mobilekernelbench), or a folder of KernelBench-format files")
    p.set_defaults(func=cmd_export)

    p = tsub.add_parser("validate", help="check single-node ONNX export and onnxruntime == PyTorch")
    completes(p.add_argument("task_ids", nargs="*", metavar="ID", help="task ids or globs (default: all)"), "tasks")
    p.add_argument("--json", action="store_true")
    p.add_argument("--suite", default=None, help="mkb (default), paper (alias mobilekernelbench), or a folder of KernelBench-format files")
    p.set_defaults(func=cmd_validate)
    p = tsub.add_parser("audit", help="check that zeros, a constant or a copy of the input fail every task on some seed")
    completes(p.add_argument("task_ids", nargs="*", metavar="ID", help="task ids or globs (default: all)"), "tasks")
    p.add_argument("--json", action="store_true")
    p.add_argument("--suite", default=None, help="mkb (default), paper (alias mobilekernelbench), or a folder of KernelBench-format files")
    p.set_defaults(func=cmd_audit)
    from mkb_tui.cli.suite_cmd import register_lock

    register_lock(tsub)


def _get(task_id: str, suite: str | None):
    """A task by id; within a foreign suite its plain name also works (`--suite paper LayerNorm_3d`)."""
    from mkb_tui.bench.suites import get_suite
    from mkb_tui.bench.tasks import get_task

    if suite and get_suite(suite).foreign and not task_id.startswith(get_suite(suite).name + "/"):
        task_id = f"{get_suite(suite).name}/{task_id}"
    return get_task(task_id)


def _select(ids: list[str], suite: str | None = None):
    from mkb_tui.bench.tasks import load_tasks

    if not ids:
        return load_tasks(suite=suite) if suite else load_tasks()
    chosen = []
    for item in ids:
        chosen += load_tasks(item, suite=suite) if any(c in item for c in "*?[") or ("/" in item and not suite) else [_get(item, suite)]
    return chosen


def nothing_matches(args) -> str:
    """One line: what matched nothing, and the names it could have meant."""
    from mkb_tui.bench.tasks import load_tasks
    from mkb_tui.vocabulary.suggest import close_names

    every = load_tasks(suite=args.suite) if args.suite else load_tasks()
    if args.category:
        names = sorted({t.category for t in every})
        if args.category not in names:
            close = close_names(args.category, names, n=1, cutoff=0.5) or [n for n in names if n.lower() == args.category.lower()]
            hint = f"did you mean {close[0]}? " if close else ""
            return f"no category {args.category!r}: {hint}the categories are {', '.join(names)}"
    if args.op:
        ops = sorted({t.op for t in every})
        if args.op not in ops:
            close = close_names(args.op, ops, n=1, cutoff=0.5)
            return f"no op {args.op!r}" + (f": did you mean {close[0]}?" if close else " (see `mkb-tui tasks list`)")
    return "no task matches " + " ".join(f"{k} {v!r}" for k, v in (("pattern", args.pattern), ("category", args.category), ("op", args.op)) if v)


def cmd_list(args) -> int:
    from mkb_tui.bench.tasks import load_tasks

    tasks = load_tasks(args.pattern, category=args.category, op=args.op, suite=args.suite)
    if not tasks and (args.category or args.op or args.pattern):  # an empty list that exits 0 reads as "no such tasks exist"
        from mkb_tui.errors import TaskError

        raise TaskError(nothing_matches(args))
    if args.ids:  # for completion scripts: nothing but ids
        print("\n".join(t.id for t in tasks))
        return 0
    if args.json:
        print(json.dumps([t.summary() for t in tasks], indent=1))
        return 0
    from mkb_tui.bench.suites import get_suite

    table = Table(title=f"{get_suite(args.suite).description}: {len(tasks)} tasks")
    for col in ("id", "category", "op", "MNN ops", "mechanism", "tol", "note"):
        table.add_column(col)
    for t in tasks:
        note = "native incorrect" if t.native_incorrect else ""
        if t.state != "supported":
            note = f"{t.state}: {t.unsupported_reason}"
        table.add_row(t.id, t.category, t.op, ", ".join(t.mnn_ops), t.mechanism, f"{t.tolerance:g}", note)
    print_table(table)
    return 0


def cmd_show(args) -> int:
    from mkb_tui.bench.export import onnx_path
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.bench.validate import onnx_node_summary
    from mkb_tui.errors import TaskError

    task = _get(args.task_id, args.suite)
    meta = task.summary() | {"seeds": list(task.seeds), "tolerance_reason": task.tolerance_reason}
    if task.provenance:
        meta["provenance"] = task.provenance
    try:
        node = onnx_node_summary(onnx_path(task))
    except TaskError as exc:  # an unsupported foreign task is still shown
        node = {"error": str(exc)}
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
    from mkb_tui.bench.references import reference_cases

    task = _get(args.task_id, args.suite)
    args.dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(onnx_path(task), args.dir / "model.onnx")
    for seed, case in zip(task.seeds, reference_cases(task, task.seeds)):
        shutil.copy(case.inputs_path, args.dir / f"inputs_{seed}.mkbt")
        shutil.copy(case.outputs_path, args.dir / f"outputs_{seed}.mkbt")
    (args.dir / "task.json").write_text(json.dumps(task.summary() | {"seeds": list(task.seeds)}, indent=1))
    print(f"exported {task.id} to {args.dir}: model.onnx, inputs/outputs for seeds {list(task.seeds)} (MKBT, see tasks/README.md)")
    return 0


def cmd_validate(args) -> int:
    from mkb_tui.bench.validate import validate_task
    from mkb_tui.cli.progress import StepProgress
    from mkb_tui.engine.suite_lock import check_converter_ops

    tasks = _select(args.task_ids, args.suite)
    results = []
    started = time.monotonic()
    if any(t.foreign for t in tasks):  # their files run in a few child processes, not one per task
        from mkb_tui.bench import foreign

        foreign.ensure_many([t for t in tasks if t.foreign], say=lambda m: Console(stderr=True).print(m, highlight=False))
    with StepProgress(Console(stderr=True), transient=True) as bars:
        bar = bars.add("validating", len(tasks))
        for task in tasks:
            bars.update(bar, description=f"validating {task.id}")
            results.append(validate_task(task))
            check_converter_ops(task, results[-1])  # a foreign task: MNN's converter gives the locked ops
            bars.update(bar, advance=1)
        bars.finish(bar)
    states = {t.id: t.state for t in tasks}
    unsupported = [r for r in results if states.get(r.task_id, "supported") != "supported"]
    failed = [r for r in results if not r.ok and r not in unsupported]
    if args.json:
        print(json.dumps([r.__dict__ | {"state": states.get(r.task_id, "supported")} for r in results], indent=1, default=str))
    else:
        for r in unsupported:
            print(f"UNSUPPORTED {r.task_id}: {r.message}")
        for r in failed:
            print(f"FAIL {r.task_id}: {r.message}")
        tail = f", {len(unsupported)} unsupported" if unsupported else ""
        print(f"{len(results) - len(failed) - len(unsupported)} passed, {len(failed)} failed{tail} ({time.monotonic() - started:.1f} s)")
    return 0 if not failed else 1


def cmd_audit(args) -> int:
    """The trivial-output audit (mkb_tui.bench.trivial): exit 1 when a trivial output passes a task on every seed."""
    from mkb_tui.bench.trivial import audit_task
    from mkb_tui.cli.progress import StepProgress

    tasks = _select(args.task_ids, args.suite)
    if any(t.foreign for t in tasks):
        from mkb_tui.bench import foreign

        foreign.ensure_many([t for t in tasks if t.foreign], say=lambda m: Console(stderr=True).print(m, highlight=False))
    findings = []
    with StepProgress(Console(stderr=True), transient=True) as bars:
        bar = bars.add("auditing", len(tasks))
        for task in tasks:
            bars.update(bar, description=f"auditing {task.id}")
            findings.append(audit_task(task))
            bars.update(bar, advance=1)
        bars.finish(bar)
    passing = [f for f in findings if f.passing]
    unaudited = [f for f in findings if f.error]
    if args.json:
        print_json([{"task_id": f.task_id, "passing": f.passing, "refused_by_domain": f.refused_by_domain, "seeds": f.seeds,
                     "error": f.error} for f in findings])  # fmt: skip
    else:
        for f in findings:
            if f.refused_by_domain:
                print(f"refused {f.task_id}: {', '.join(f.refused_by_domain)} pass(es) its {f.seeds} seeds, not the judge's domain draws")
        for f in passing:
            print(f"TRIVIAL {f.task_id}: {', '.join(f.passing)} pass(es) all {f.seeds} seeds and every domain draw")
        for f in unaudited:
            print(f"NOT AUDITED {f.task_id}: {f.error}")
        print(f"{len(findings) - len(passing) - len(unaudited)} refuse every trivial output, {len(passing)} do not"
              + (f", {len(unaudited)} not audited" if unaudited else ""))
    return 1 if passing else 0
