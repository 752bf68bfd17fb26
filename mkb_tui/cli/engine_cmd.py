"""`mkb-tui setup mnn`, `eval`, `oracle`, `doctor`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mkb_tui.cli.output import print_json, print_table


def register(sub: argparse._SubParsersAction) -> None:
    setup = sub.add_parser("setup", help="set up MNN (pinned release, or a local checkout / git dir)")
    ssub = setup.add_subparsers(dest="setup_what", metavar="WHAT", required=True, parser_class=type(setup))
    p = ssub.add_parser("mnn", help="put MNN into the user cache and build the pristine host library")
    p.add_argument("--from", dest="from_path", default=os.environ.get("MKB_MNN_FROM"), help="a local MNN checkout or (bare) git dir")
    p.add_argument("--ref", default="3.6.1", help="release tag (default 3.6.1, the mnn wheel's version)")
    p.add_argument("--if-missing", action="store_true", help="do nothing when this ref is already set up")
    p.add_argument("--build", default="host",
                   help="what to build now, comma-separated: host, aarch64 (libraries), converter (for combiner tasks), or none")
    p.set_defaults(func=cmd_setup)

    p = sub.add_parser("eval", help="one candidate kernel through the whole pipeline")
    p.add_argument("--task", required=True)
    p.add_argument("--kernel", nargs="+", type=Path, required=True, help="the candidate's files, or one model answer (.md)")
    p.add_argument("--device", default="local")
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help="evaluate on a Ray cluster: ray://HOST:PORT, HOST:PORT or auto (pip install 'mkb-tui[cluster]')")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("oracle", help="MNN's own kernel through each task's slot: must time at 1.00 +/- 0.05")
    p.add_argument("tasks", nargs="*", help="task ids or globs (default: all)")
    p.add_argument("--device", default="local")
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help="evaluate on a Ray cluster: ray://HOST:PORT, HOST:PORT or auto (pip install 'mkb-tui[cluster]')")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_oracle)

    p = sub.add_parser("doctor", help="check MNN, compilers, devices and keys; say what to fix")
    p.add_argument("--no-oracle", action="store_true", help="skip the one-task oracle run")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=cmd_doctor)


def cmd_setup(args) -> int:
    from mkb_tui.engine.baseline import ensure_baseline
    from mkb_tui.engine.mnn import find_mnn, setup_mnn
    from mkb_tui.engine.toolchain import get_target

    console = Console(stderr=True)
    info = find_mnn(args.ref) if args.if_missing else None
    if info is None:
        console.print(f"setting up MNN {args.ref} from {args.from_path or 'github.com/alibaba/MNN'} ...")
        info = setup_mnn(args.from_path, args.ref, force=not args.if_missing)
    console.print(f"MNN {info.version} at {info.root} ({info.origin})")
    for name in [t for t in args.build.split(",") if t and t != "none"]:
        target = get_target(name)
        if name == "converter":
            if _setup_converter(info, target, console):
                return 1
            continue
        missing = target.missing_tools()
        if missing:
            console.print(f"[yellow]skipping the {name} build: missing {', '.join(missing)}[/yellow]")
            continue
        console.print(f"building the pristine {name} library (about 6 minutes the first time, seconds with ccache) ...")
        base, result = asyncio.run(ensure_baseline(info, target))
        if base is None:
            console.print(result.log[-3000:])
            console.print(f"[red]the {name} build failed[/red]")
            return 1
        console.print(f"{name}: built in {result.seconds:.1f} s; runner {base.runner}")
    return 0


def _setup_converter(info, target, console) -> bool:
    """Build the pristine MNNConvert; True when it failed."""
    from mkb_tui.engine.converter import COLD_BUILD_HINT, converter_exe, ensure_pristine_converter, pristine_converter_dir

    missing = target.missing_tools()
    if missing:
        console.print(f"[yellow]skipping the converter build: missing {', '.join(missing)}[/yellow]")
        return False
    console.print(f"building MNN's converter for combiner tasks ({COLD_BUILD_HINT}) ...")
    result = asyncio.run(ensure_pristine_converter(info))
    if not result.ok:
        console.print(result.log[-3000:])
        console.print("[red]the converter build failed[/red]")
        return True
    console.print(f"converter: built in {result.seconds:.1f} s; {converter_exe(pristine_converter_dir(info))}")
    return False


def _read_candidate(task, paths: list[Path]):
    from mkb_tui.engine.answer import parse_answer
    from mkb_tui.engine.mnn import require_mnn
    from mkb_tui.engine.slots import slot_for
    from mkb_tui.errors import ConfigError
    from mkb_tui.vocabulary.verdicts import KernelCandidate

    slot = slot_for(task, require_mnn().root)
    for p in paths:
        if not p.exists():
            raise ConfigError(f"--kernel {p}: no such file")
    if len(paths) == 1 and paths[0].suffix in (".md", ".txt"):
        return parse_answer(paths[0].read_text(), slot)
    files = {}
    for p in paths:
        match = next((f for f in slot.all_files if f.rsplit("/", 1)[-1] == p.name), None)
        if match is None:
            raise ConfigError(f"--kernel {p.name}: not a file of this task's slot ({', '.join(slot.all_files)})")
        files[match] = p.read_text()
    return KernelCandidate(files)


def verdict_table(v) -> Table:
    table = Table(title=f"{v.task_id}: {v.kind.value}", show_header=False)
    table.add_row("verdict", v.kind.value)
    table.add_row("message", v.message)
    if v.max_abs_error is not None:
        table.add_row("max abs / rel error", f"{v.max_abs_error:.3g} / {v.max_rel_error:.3g}")
    if v.first_mismatch:
        table.add_row("first mismatch", v.first_mismatch)
    if v.baseline and v.candidate:
        table.add_row("native median (IQR)", f"{v.baseline.median_ms:.4f} ms ({v.baseline.iqr_ms:.4f})")
        table.add_row("candidate median (IQR)", f"{v.candidate.median_ms:.4f} ms ({v.candidate.iqr_ms:.4f})")
        table.add_row("timed runs", f"{len(v.candidate.samples_ms)} per side in {v.timing_rounds} A/B rounds")
    table.add_row("speedup", "-" if v.speedup is None else f"{v.speedup:.3f}x")
    table.add_row("device / threads / precision", f"{v.device} / {v.threads} / {v.precision}")
    if v.flags:
        table.add_row("flags", ", ".join(v.flags))
    for d in v.diagnostics[:10]:
        table.add_row("error", f"{d.file}:{d.line}:{d.column}: {d.message}")
    if v.phases:
        table.add_row("phases", ", ".join(f"{name} {seconds:.2f} s" for name, seconds in v.phases.items()))
    table.add_row("time", f"{v.seconds:.1f} s")
    return table


def cmd_eval(args) -> int:
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.agents.service import open_any_evaluator

    task = get_task(args.task)
    candidate = _read_candidate(task, args.kernel)
    pipeline = open_any_evaluator(args.device, cluster=args.cluster, threads=args.threads)
    console = Console(stderr=True)
    with console.status("starting") as status:
        verdict = asyncio.run(pipeline.evaluate(task, candidate, progress=lambda stage: status.update(stage)))
    if args.json:
        print(json.dumps(verdict.to_dict(), default=str))
    else:
        Console().print(verdict_table(verdict))
    return 0


def cmd_oracle(args) -> int:
    from mkb_tui.bench.tasks import load_tasks
    from mkb_tui.agents.service import open_any_evaluator
    from mkb_tui.engine.oracle import run_oracle

    tasks = []
    for pattern in args.tasks or ["*"]:
        tasks += load_tasks(pattern)
    if not tasks:
        from mkb_tui.errors import TaskError

        raise TaskError(f"no task matches {' '.join(args.tasks)}")
    pipeline = open_any_evaluator(args.device, cluster=args.cluster)
    console = Console(stderr=True)

    def show(task, r):
        if not args.json:
            mark = "[green]ok[/green]" if r.passed else "[red]FAIL[/red]"
            speed = "-" if r.speedup is None else f"{r.speedup:.3f}"
            console.print(f"{mark} {task.id:32s} {r.verdict:14s} {speed:>7s}  {r.message}")

    results = asyncio.run(run_oracle(tasks, pipeline, progress=show))
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed", file=sys.stderr if args.json else sys.stdout)
    return 0 if passed == len(results) else 1


def cmd_doctor(args) -> int:
    from mkb_tui.agents.environment import environment_checks, oracle_check

    checks = environment_checks()
    if checks[0].ok and not args.no_oracle:  # MNN is set up: run MNN's own abs kernel once
        checks.append(asyncio.run(oracle_check()))
    table = Table(title="mkb-tui doctor")
    for col in ("check", "status", "what to do"):
        table.add_column(col)
    for c in checks:
        table.add_row(c.name, ("[green]ok[/green] " if c.ok else "[red]missing[/red] ") + c.detail, "" if c.ok else c.fix)
    if args.json:
        print_json([{"check": c.name, "ok": c.ok, "detail": c.detail, "fix": "" if c.ok else c.fix} for c in checks])
    else:
        print_table(table, keep=("check",))
    return 0 if all(c.ok for c in checks) else 1
