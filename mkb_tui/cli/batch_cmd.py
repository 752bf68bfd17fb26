"""`mkb-tui --batch`: a headless sweep driving the same session runner as the app, then the metrics report."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from mkb_tui.agents import events as ev
from mkb_tui.errors import ConfigError, MkbError
from mkb_tui.paths import DEFAULT_DB


def parser() -> argparse.ArgumentParser:
    from mkb_tui.cli.main import Parser

    p = Parser(prog="mkb-tui --batch", description="Run MoKA (or a baseline method) over tasks without the app; write report.json/csv.")
    p.add_argument("--tasks", default=None, help="task ids or globs, comma-separated (e.g. 'unary/*,softmax*'); required unless --resume")
    p.add_argument("--model", default=None, help="anthropic:NAME | openai:NAME | openai-compatible:NAME | scripted:FILE.jsonl")
    p.add_argument("--base-url", default=None, help="for openai-compatible servers (Ollama, vLLM, llama.cpp)")
    p.add_argument("--device", default="local", help="local | qemu | adb[:SERIAL]")
    p.add_argument("--method", default="moka", help="moka | single | pass@k (e.g. pass@10)")
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("out"))
    p.add_argument("--db", type=Path, default=DEFAULT_DB)
    p.add_argument("--budget-usd", type=float, default=None)
    p.add_argument("--budget-tokens", type=int, default=None)
    p.add_argument("--resume", metavar="SESSION", default=None, help="continue an interrupted session")
    return p


class Progress:
    """Per task: iteration, stage, last verdict, best speedup; fed by the event stream."""

    def __init__(self, task_ids: list[str]) -> None:
        self.rows = {t: {"iteration": "-", "stage": "queued", "verdict": "", "best": None} for t in task_ids}
        self.cost = 0.0
        self.tokens = 0

    def __call__(self, event) -> None:
        row = self.rows.get(event.task_id) if event.task_id else None
        if event.kind == ev.BUDGET:
            self.tokens, self.cost = event.payload.get("tokens", self.tokens), event.payload.get("cost_usd", self.cost)
        if row is None:
            return
        if event.kind == ev.ITERATION_STARTED:
            row["iteration"] = str(event.iteration)
        elif event.kind == ev.STAGE:
            row["stage"] = event.payload["stage"]
        elif event.kind == ev.VERDICT:
            row["verdict"] = event.payload["verdict"]
        elif event.kind == ev.BEST:
            row["best"] = event.payload.get("speedup")
        elif event.kind == ev.TASK_FINISHED:
            row["stage"] = "done"

    def table(self) -> Table:
        table = Table(title=f"tokens {self.tokens}  cost ${self.cost:.4f}")
        for col in ("task", "iteration", "stage", "last verdict", "best speedup"):
            table.add_column(col)
        for task, r in self.rows.items():
            table.add_row(task, r["iteration"], r["stage"], r["verdict"], "-" if r["best"] is None else f"{r['best']:.3f}x")
        return table


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except MkbError:
        raise
    except KeyboardInterrupt:
        sys.stderr.write("mkb-tui: interrupted; resume with --resume\n")
        return 130


def _method(value: str) -> tuple[str, int]:
    if value in ("moka", "single"):
        return value, 1
    if value.startswith("pass@") and value[5:].isdigit() and int(value[5:]) >= 1:
        return "pass@k", int(value[5:])
    raise ConfigError(f"--method {value!r}: use moka, single or pass@K")


async def _run(args) -> int:
    from mkb_tui.agents.session import SessionConfig, run_session, session_attempts
    from mkb_tui.bench.report import build_report, metrics_table, write_report
    from mkb_tui.bench.tasks import get_task, load_tasks
    from mkb_tui.device import open_device
    from mkb_tui.engine.pipeline import Pipeline
    from mkb_tui.llm import open_provider
    from mkb_tui.llm.budget import Budget
    from mkb_tui.store import Store

    async with Store(args.db) as store:
        if args.resume:
            info = await store.session(args.resume)
            settings = info["settings"]
            session_id = args.resume
        else:
            if not args.tasks or not args.model:
                raise ConfigError("--batch needs --tasks and --model (or --resume SESSION)")
            method, k = _method(args.method)
            settings = {"tasks": None, "model": args.model, "base_url": args.base_url, "device": args.device, "method": method, "k": k,
                        "iterations": args.iterations, "jobs": args.jobs, "threads": args.threads,
                        "budget_usd": args.budget_usd, "budget_tokens": args.budget_tokens}  # fmt: skip
            chosen = load_tasks(args.tasks)
            if not chosen:
                raise ConfigError(f"--tasks {args.tasks!r} matches no task (see `mkb-tui tasks list`)")
            settings["tasks"] = [t.id for t in chosen]
        tasks = [get_task(t) for t in settings["tasks"]]
        provider = open_provider(settings["model"], base_url=settings.get("base_url"))
        device = open_device(settings["device"])
        pipeline = Pipeline(device, threads=settings.get("threads", 1), workspaces=settings.get("jobs", 1))
        if not args.resume:
            settings["mnn_version"] = pipeline.mnn.version
            session_id = await store.create_session(settings)
        config = SessionConfig(settings["method"], settings["iterations"], settings.get("k", 1), settings.get("jobs", 1),
                               Budget(settings.get("budget_usd"), settings.get("budget_tokens")))  # fmt: skip
        progress = Progress([t.id for t in tasks])
        console = Console(stderr=True)
        console.print(f"session {session_id}: {len(tasks)} tasks, {settings['method']}, model {settings['model']}"
                      + (" (scripted)" if provider.scripted else "") + f", device {device.name}")  # fmt: skip
        with Live(progress.table(), console=console, refresh_per_second=4, transient=not console.is_terminal) as live:
            def listen(event):
                progress(event)
                live.update(progress.table())

            await run_session(store, session_id, tasks, provider, pipeline, config=config, listeners=[listen], resume=bool(args.resume))
        attempts = await session_attempts(store, session_id)
        ks = (settings.get("k", 1),) if settings["method"] == "pass@k" else ()
        report = build_report(attempts, ks=ks)
        report["session"] = session_id
        report["settings"] = settings
        Console().print(metrics_table(report, title=f"session {session_id}"))
        json_path, csv_path = write_report(report, args.out)
        print(f"wrote {json_path} and {csv_path}")
    return 0
