"""`mkb-tui setup mnn`, `eval`, `oracle`, `doctor`, `caps`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mkb_tui.cli.output import print_json, print_table
from mkb_tui.untrusted import shown
from mkb_tui.vocabulary.flags import Flag


def register(sub: argparse._SubParsersAction) -> None:
    from mkb_tui.cli.main import add_device_argument

    setup = sub.add_parser("setup", help="set up MNN (pinned release, or a local checkout / git dir)")
    ssub = setup.add_subparsers(dest="setup_what", metavar="WHAT", required=True, parser_class=type(setup))
    p = ssub.add_parser("mnn", help="put MNN into the user cache and build the pristine host library")
    p.add_argument("--from", dest="from_path", default=os.environ.get("MKB_MNN_FROM"), help="a local MNN checkout or (bare) git dir")
    p.add_argument("--ref", default="3.6.1", help="release tag (default 3.6.1, the mnn wheel's version)")
    p.add_argument("--if-missing", action="store_true", help="do nothing when this ref is already set up")
    p.add_argument("--build", default="host",
                   help="what to build now, comma-separated: host, aarch64 (libraries), converter (for combiner tasks), or none")
    p.set_defaults(func=cmd_setup)
    from mkb_tui.cli.suite_cmd import register_setup

    register_setup(ssub)

    p = sub.add_parser("eval", help="one candidate kernel through the whole pipeline")
    p.add_argument("--task", required=True)
    p.add_argument("--kernel", nargs="+", type=Path, required=True, help="the candidate's files, or one model answer (.md)")
    add_device_argument(p)
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help="evaluate on a Ray cluster: ray://HOST:PORT, HOST:PORT or auto (pip install 'mkb-tui[cluster]')")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("oracle", help="MNN's own kernel through each task's slot: must time at 1.00 +/- 0.05")
    p.add_argument("tasks", nargs="*", help="task ids or globs (default: all)")
    p.add_argument("--suite", default=None, help="mkb (default), paper, or a folder of KernelBench-format files")
    add_device_argument(p)
    p.add_argument("--cluster", default=None, metavar="ADDRESS", help="evaluate on a Ray cluster: ray://HOST:PORT, HOST:PORT or auto (pip install 'mkb-tui[cluster]')")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_oracle)

    p = sub.add_parser("doctor", help="check MNN, compilers, devices and keys; say what to fix")
    p.add_argument("--no-oracle", action="store_true", help="skip the one-task oracle run")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("caps", help="a device's measured bandwidth and arithmetic peak (the roofline's figures; cached)")
    add_device_argument(p, help="one device: local | qemu | adb[:SERIAL] | adb://HOST:PORT[/SERIAL]")
    p.add_argument("--again", action="store_true", help="measure again instead of reading the cache")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_caps)


def cmd_setup(args) -> int:
    from mkb_tui.cli.progress import StepProgress
    from mkb_tui.engine.setup import setup_and_build

    console = Console(stderr=True)
    steps: dict[str, int] = {}

    with StepProgress(console) as bars:

        def progress(step: str, done: int, total: int | None, finished: bool = False) -> None:
            if step not in steps:
                steps[step] = bars.add(step, total)
            bars.update(steps[step], done, total=total)
            if finished:
                bars.finish(steps[step], "done" if total else "failed")

        builds = [b for b in args.build.split(",") if b]
        outcome = asyncio.run(setup_and_build(args.from_path, args.ref, builds, progress, if_missing=args.if_missing))
    for line in outcome.lines:
        console.print(line, highlight=False, soft_wrap=True)
    if not outcome.ok:
        console.print(outcome.log, highlight=False, markup=False, soft_wrap=True)
        return 1
    return 0


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


def timing_check_line(check: dict) -> str:
    """How the timing was checked, in one line: the runner's clock, the runs compared, each witness's view."""
    parts = [f"clock {check.get('clock', '?')}"]
    if "checked_runs" in check:
        parts.append(f"{check['checked_runs']} runs' outputs compared")
    for c in check.get("crosschecks") or []:
        view = "contradicts" if c.get("mismatch") else ("agrees" if c.get("resolved") else "too coarse to tell")
        parts.append(f"{c['witness']} witness {view} (claimed {c['claimed_ms'] * 1000:.2f} us/run gain, seen {c['seen_ms'] * 1000:.2f})")
    return "; ".join(parts)


def oracle_message(message: str) -> str:
    """An oracle result's message for people: a timing mismatch's witnesses in words, not a Python list (issue 21)."""
    import ast

    head, sep, tail = message.partition(": [")
    if not sep or not head.startswith("timing_mismatch"):
        return message
    try:
        checks = ast.literal_eval("[" + tail)
    except (ValueError, SyntaxError):
        return message
    return f"{head}: {timing_check_line({'crosschecks': checks}).removeprefix('clock ?; ')}"


def roofline_line(r) -> str:
    """The candidate's time against the device's limit, in one line (pure)."""
    rest = getattr(r, "rest_ns", 0.0) or 0.0
    share = getattr(r, "op_share", None)
    around = ""
    if rest:
        own = "" if share is None else f" ({1 - share:.0%} of MNN's time)"
        around = f"; the model's other ops{own} put {rest / 1000:.2f} us in the floor"
    verdict = " (below the floor: impossible)" if r.impossible else (" (near the roofline)" if r.near else "")
    if r.bound == "none":
        if not rest:
            return "no floor (the op may alias its input, or its work is not counted)"
        return f"floor {r.floor_ns / 1000:.2f} us from the rest of the model{verdict}{around}"
    reached = "-" if r.fraction is None else f"{r.fraction:.0%} of the roofline"
    mnn = "" if r.native_fraction is None else f", MNN's kernel {r.native_fraction:.0%}"
    emulated = "" if r.applies else " (not judged: emulated device)"
    return (f"{reached}{mnn}{verdict}{emulated}; {r.bound}-bound: {r.bytes} bytes at {r.bandwidth_gbs:.0f} GB/s, {r.ops} ops at "
            f"{r.peak_gflops:.0f} GFLOP/s -> {r.roofline_ns / 1000:.2f} us, floor {r.floor_ns / 1000:.2f} us{around}")


def precision_line(p: dict) -> str:
    """The candidate's error next to MNN's own and the bound it was held to (mkb_tui.bench.precision), in one line."""
    def g(x) -> str:
        return "-" if x is None else f"{x:.2g}"

    line = f"error {g(p.get('error'))}, MNN's own {g(p.get('native_error'))}"
    if p.get("times_native") is not None:
        line += f" ({p['times_native']:.3g}x)"
    line += f"; bound {g(p.get('bound'))} (task tolerance {g(p.get('tolerance'))})"
    return line + ("; beyond the bound" if p.get("beyond_bound") else "")


def verdict_table(v) -> Table:
    table = Table(title=f"{v.task_id}: {v.kind.value}", show_header=False)
    table.add_row("verdict", v.kind.value)
    table.add_row("message", v.message)
    if v.max_abs_error is not None:
        # plain errors, for reference: the tolerance bounds the scaled error (abs error over 1 + |reference|), so a
        # rel error of 0.008 beside "within 0.001" is no failure, and the row says so (issue 21)
        scaled = v.accuracy.get("error")
        bound = f"the tolerance bounds the scaled error{'' if scaled is None else f' ({scaled:.2g})'}, not these"
        table.add_row("max abs / rel error", f"{v.max_abs_error:.3g} / {v.max_rel_error:.3g} (plain; {bound})")
    if v.accuracy.get("bound") is not None:
        table.add_row("error vs MNN's own", precision_line(v.accuracy))
    if v.first_mismatch:
        table.add_row("first mismatch", v.first_mismatch)
    if v.baseline and v.candidate:
        table.add_row("native median (IQR)", f"{v.baseline.median_ms:.4f} ms ({v.baseline.iqr_ms:.4f})")
        table.add_row("candidate median (IQR)", f"{v.candidate.median_ms:.4f} ms ({v.candidate.iqr_ms:.4f})")
        table.add_row("timed runs", f"{len(v.candidate.samples_ms)} per side in {v.timing_rounds} A/B rounds")
    table.add_row("speedup", "-" if v.speedup is None else f"{v.speedup:.3f}x")
    if v.speedup is None and v.timed_speedup is not None:
        table.add_row("measured, not credited", f"{v.timed_speedup:.3f}x")
    table.add_row("device / threads / precision", f"{v.device} / {v.threads} / {v.precision}")
    if v.node:
        table.add_row("cluster node", v.node + (f" (attempt {v.attempts})" if v.attempts else ""))
    for flag in v.flags:
        table.add_row("flag", f"{flag}: {flag.meaning}" if isinstance(flag, Flag) else str(flag))
    if v.timing_check:
        table.add_row("timing check", timing_check_line(v.timing_check))
    if v.roofline is not None:
        table.add_row("roofline", roofline_line(v.roofline))
    for d in v.diagnostics[:10]:
        table.add_row("error", f"{d.file}:{d.line}:{d.column}: {d.message}")
    if v.phases:
        table.add_row("phases", ", ".join(f"{name} {seconds:.2f} s" for name, seconds in v.phases.items()))
    table.add_row("time", f"{v.seconds:.1f} s")
    return table


def cmd_eval(args) -> int:
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.sessions.devices import DeviceSpec
    from mkb_tui.sessions.evaluators import open_evaluator

    device = DeviceSpec.parse(args.device)  # at the edge: a bad --device is refused before anything is read or opened
    task = get_task(args.task)
    candidate = _read_candidate(task, args.kernel)
    pipeline = open_evaluator(device, cluster=args.cluster, threads=args.threads)
    console = Console(stderr=True)
    with console.status("starting") as status:
        verdict = asyncio.run(pipeline.evaluate(task, candidate, progress=lambda stage: status.update(stage)))
    if args.json:
        print(json.dumps(verdict.to_dict(), default=str))
    else:
        from mkb_tui.cli.output import safe_table

        Console().print(safe_table(verdict_table(verdict)))  # the judge's words quote the kernel and g++: text, never markup
    return 0


def cmd_oracle(args) -> int:
    from mkb_tui.bench.tasks import load_tasks
    from mkb_tui.engine.oracle import run_oracle
    from mkb_tui.sessions.devices import DeviceSpec
    from mkb_tui.sessions.evaluators import open_evaluator

    device = DeviceSpec.parse(args.device)
    tasks = []
    for pattern in args.tasks or ["*"]:
        tasks += [t for t in load_tasks(pattern, suite=args.suite) if t.state == "supported"]
    if not tasks:
        from mkb_tui.errors import TaskError

        raise TaskError(f"no task matches {' '.join(args.tasks)}")
    from mkb_tui.cli.progress import StepProgress

    pipeline = open_evaluator(device, cluster=args.cluster)
    console = Console(stderr=True)
    with StepProgress(console, transient=True) as bars:
        step = bars.add("oracle", len(tasks))

        def show(task, r):
            bars.update(step, advance=1)
            if not args.json:
                mark = Text.from_markup("[green]ok[/green]" if r.passed else "[red]FAIL[/red]")
                speed = "-" if r.speedup is None else f"{r.speedup:.3f}"
                console.print(mark.append(shown(f" {task.id:32s} {r.verdict:14s} {speed:>7s}  {oracle_message(r.message)}")), soft_wrap=True)

        results = asyncio.run(run_oracle(tasks, pipeline, progress=show))
        bars.finish(step)
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1))
    passed = sum(r.passed for r in results)
    print(f"{passed} passed, {len(results) - passed} failed", file=sys.stderr if args.json else sys.stdout)
    return 0 if passed == len(results) else 1


def cmd_doctor(args) -> int:
    from mkb_tui.sessions.doctor import environment_checks, oracle_check

    console = Console(stderr=True)
    with console.status("checking MNN, toolchains, sandbox, disk, phones, keys ..."):  # a silent 20 s read as hung
        checks = environment_checks()
        phones = attached_phones() if any(c.name == "phones (adb)" and c.ok for c in checks) else None
    if checks[0].ok and not args.no_oracle:  # MNN is set up: run MNN's own abs kernel once
        with console.status("running MNN's own abs kernel once (the oracle check; --no-oracle skips it) ..."):
            checks.append(asyncio.run(oracle_check()))
    table = Table(title="mkb-tui doctor")
    for col in ("check", "status", "what to do"):
        table.add_column(col)
    for c in checks:
        if c.name == "phones (adb)" and c.ok and not phones:  # adb alone is no phone: say so, without failing doctor
            detail = "adb found, no phone attached" if phones is not None else "adb found; `adb devices` did not answer"
            table.add_row(c.name, Text.from_markup("[yellow]no phone[/yellow] ").append(detail), "plug in a phone with USB debugging on (only for --device adb)")
            continue
        if c.name == "phones (adb)" and phones:
            c = type(c)(c.name, True, f"{len(phones)} attached: {', '.join(phones)}", c.fix)
        table.add_row(c.name, Text.from_markup("[green]ok[/green] " if c.ok else "[red]missing[/red] ").append(c.detail), "" if c.ok else c.fix)
    if args.json:
        print_json([{"check": c.name, "ok": c.ok, "detail": c.detail, "fix": "" if c.ok else c.fix} for c in checks])
    else:
        print_table(table, keep=("check",))
    return 0 if all(c.ok for c in checks) else 1


def attached_phones(timeout: float = 5.0) -> list[str] | None:
    """Serials of the phones `adb devices` lists as ready; None when adb does not answer in time."""
    import subprocess

    try:
        out = subprocess.run(["adb", "devices"], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [line.split()[0] for line in out.splitlines()[1:] if line.strip().endswith("\tdevice") or line.split()[1:2] == ["device"]]


def caps_lines(caps) -> list[str]:
    """A device's caps in a few lines (pure)."""
    lines = [f"{caps.device}: peak {caps.peak_gflops:.1f} GFLOP/s (vector FMA, {caps.vector_bytes * 8}-bit), "
             f"bandwidth {caps.peak_bandwidth_gbs:.1f} GB/s in cache, {caps.dram_bandwidth_gbs:.1f} GB/s at "
             f"{caps.bandwidth[-1][0] >> 20} MiB" + (" (emulated: no floor applies)" if caps.emulated else "")]
    for size, gbs in caps.bandwidth:
        lines.append(f"  {size >> 10:>6d} KiB  {gbs:8.1f} GB/s")
    return lines


def cmd_caps(args) -> int:
    from mkb_tui.device import open_device
    from mkb_tui.engine.roofline import measure_caps
    from mkb_tui.errors import DeviceError
    from mkb_tui.sessions.devices import DeviceSpec

    spec = DeviceSpec.parse(args.device)
    target = spec.single
    if target is None:
        raise DeviceError(f"caps measures one device, not {spec.text!r}")

    async def measure():
        device = open_device(target.text)
        try:
            return await measure_caps(device, again=args.again)
        finally:
            await device.close()

    caps = asyncio.run(measure())
    if args.json:
        print(json.dumps(caps.to_dict()))
    else:
        print("\n".join(caps_lines(caps)))
    return 0
