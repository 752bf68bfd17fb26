"""`mkb-tui --batch`: a headless sweep driving the same session runner as the app, then the metrics report.

Exit codes: 0 when the harness worked, whatever the kernels did; 1 for bad input (one error line) and when the
harness could not do its job for some task (device errors, an LLM provider that kept failing); 2 for usage errors
(and a --resume SESSION that names no session); 3 for an unexpected harness failure (traceback in
OUT/batch-error.log). Interrupted or failed sessions resume with --resume SESSION.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
import traceback
from pathlib import Path

from rich.console import Group
from rich.live import Live
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from mkb_tui.cli.output import TextConsole as Console  # its lines quote a stored model name and stop reasons: text, never markup
from mkb_tui.cli.output import print_table
from mkb_tui.cli.jsonl_progress import JsonlProgress
from mkb_tui.cli.progress import bar_columns, count_line
from mkb_tui.errors import ConfigError, MkbError
from mkb_tui.paths import DEFAULT_DB
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

EXIT_HARNESS_INCOMPLETE = 1
EXIT_HARNESS_CRASH = 3


def parser() -> argparse.ArgumentParser:
    from mkb_tui.cli.completion import completes
    from mkb_tui.cli.main import Parser, add_session_arguments

    p = Parser(
        prog="mkb-tui --batch",
        description="Run MoKA (or a baseline method) over tasks without the app; print the metrics and write report.json/csv.",
        epilog="example:\n  mkb-tui --batch --tasks 'unary/*' --model anthropic:claude-sonnet-4-5 --device local --out out/unary\n\n"
        "exit codes: 0 the harness worked (whatever the kernels did); 1 bad input, or some task could not be evaluated\n"
        "(device errors, an LLM provider that kept failing); 2 usage (or an unknown --resume SESSION); 3 harness crash (traceback in OUT/batch-error.log).\n"
        "Every event is committed to the database as it happens: continue an interrupted run with --resume SESSION.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tasks", default=None, help="task ids or globs, comma-separated (e.g. 'unary/*,softmax*'); required unless --resume")
    p.add_argument("--suite", default=None, help="paper: --tasks name the paper's tasks ('unary/*' is paper/unary/*)")
    p.add_argument("--model", default=None, help="anthropic:NAME | openai:NAME | openai-compatible:NAME | scripted:FILE.jsonl")
    add_session_arguments(p)
    p.add_argument("--out", type=Path, default=Path("out"), help="where report.json and report.csv go (default out/)")
    p.add_argument("--db", type=Path, default=DEFAULT_DB, help="session database (default sessions/mkb.sqlite)")
    p.add_argument("--budget-usd", type=float, default=None, help="stop the session cleanly once this much is spent (with --resume: a new budget)")
    p.add_argument("--budget-tokens", type=int, default=None, help="stop the session cleanly after this many tokens (with --resume: a new budget)")
    completes(p.add_argument("--resume", metavar="SESSION", default=None, help="continue an interrupted session (id, prefix, name or 'latest')"),
              "sessions")
    p.add_argument("--jsonl-progress", action="store_true",
                   help="one JSON object a line on stdout per progress event (task started, status, verdict, done); the text goes to stderr")
    return p


class Progress:
    """The batch's display of the one session view (mkb_tui.sessions.view, which the app's queue displays too): per
    task its iteration, stage, last verdict and best counted speedup, fed by the event stream."""

    def __init__(self, task_ids: list[str], budget: str = "") -> None:
        from mkb_tui.sessions.view import SessionState

        self.state = SessionState()
        for task_id in task_ids:
            self.state.task(task_id)
        self.budget = budget
        self.finished: list[str] = []  # lines for a console that is not a terminal

    @property
    def tokens(self) -> int:
        return self.state.tokens

    @property
    def cost(self) -> float:
        return self.state.cost_usd

    def __call__(self, event: Event) -> None:
        if event.task_id and event.task_id not in self.state.tasks:
            return  # not one of this run's tasks
        self.state.apply(event)
        if event.kind == ev.TASK_FINISHED:
            t = self.state.tasks[event.task_id]
            best = "-" if t.best_speedup is None else f"{t.best_speedup:.3f}x"
            if t.failed:
                self.finished.append(f"{event.task_id}: FAILED, {t.problem}")
            else:
                early = f" (stopped: {t.stopped})" if t.stopped else ""
                self.finished.append(f"{event.task_id}: {event.payload.get('verdict')}, best {best}{early}")

    def table(self) -> Table:
        table = Table(title=f"tokens {self.tokens}  cost ${self.cost:.4f}{self.budget}")
        for col in ("task", "iteration", "stage", "last verdict", "best speedup"):
            table.add_column(col)
        for task_id in self.state.order:
            t = self.state.tasks[task_id]
            stage = Text(f"failed: {t.problem}", style="bold red") if t.failed else t.status
            table.add_row(task_id, "-" if t.current_iteration is None else str(t.current_iteration), stage, t.last_verdict,
                          "-" if t.best_speedup is None else f"{t.best_speedup:.3f}x")  # fmt: skip
        return table


class HarnessCrash(Exception):
    def __init__(self, session_id: str | None, log: Path, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.session_id, self.log = session_id, log


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except MkbError:
        raise  # cli/main prints the one line
    except HarnessCrash as exc:
        resume = f"; resume with --resume {exc.session_id}" if exc.session_id else ""
        sys.stderr.write(f"mkb-tui: harness failure: {exc} (traceback in {exc.log}{resume})\n")
        return EXIT_HARNESS_CRASH
    except KeyboardInterrupt:
        sys.stderr.write("mkb-tui: interrupted; resume with --resume latest\n")
        return 130


async def _run(args) -> int:
    from mkb_tui.sessions import SessionSettings, open_session
    from mkb_tui.store import Store

    async with Store(args.db) as store:
        if args.resume:
            settings = None
        else:
            if args.tasks and getattr(args, "suite", None):
                from mkb_tui.bench.suites import get_suite

                name = get_suite(args.suite).name
                if name != "mkb":
                    args.tasks = ",".join(t if t.strip().startswith(name + "/") else f"{name}/{t.strip()}" for t in args.tasks.split(","))
            if not args.tasks or not args.model:
                raise ConfigError("--batch needs --tasks and --model (or --resume SESSION)")
            settings = SessionSettings.new(args.tasks, args.model, method=args.method, k=args.k, device=args.device, cluster=args.cluster, base_url=args.base_url,
                                           iterations=args.iterations, jobs=args.jobs, threads=args.threads, workspaces=args.workspaces,
                                           budget_usd=args.budget_usd, budget_tokens=args.budget_tokens)  # fmt: skip
        opened = None
        try:
            # everything that can refuse the input does so before a session exists
            opened = await open_session(store, settings, resume=args.resume, budget_usd=args.budget_usd if args.resume else None,
                                        budget_tokens=args.budget_tokens if args.resume else None,
                                        base_url=args.base_url if args.resume else None)  # fmt: skip
            return await _sweep(args, opened)
        except (MkbError, KeyboardInterrupt, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug or an environment failure, not a kernel's: keep the traceback, say one line
            args.out.mkdir(parents=True, exist_ok=True)
            log = args.out / "batch-error.log"
            log.write_text(traceback.format_exc())
            if opened is not None:
                await store.set_status(opened.session_id, "error")
            raise HarnessCrash(opened.session_id if opened else None, log, exc) from exc


async def _sweep(args, opened) -> int:
    settings, session_id, tasks = opened.settings, opened.session_id, opened.tasks
    budget = settings.budget
    limits = [f"${budget.max_usd}" if budget.max_usd else "", f"{budget.max_tokens} tokens" if budget.max_tokens else ""]
    progress = Progress([t.id for t in tasks], (" of " + " / ".join(x for x in limits if x)) if any(limits) else "")
    console = Console(stderr=True, soft_wrap=True)  # piped: one event a line, never wrapped at 80 columns
    console.print(f"session {session_id}{' (resumed)' if opened.resumed else ''}: {len(tasks)} task{'' if len(tasks) == 1 else 's'}, {settings.method_label}, model {settings.model}"
                  + (" (scripted)" if opened.provider.scripted else "") + f", device {', '.join(opened.devices)}")  # fmt: skip
    device_errors: list[str] = []
    # tasks finished, with elapsed and remaining time: a bar above the table on a terminal, a count on each plain line
    states = await opened.store.task_states(session_id) if opened.resumed else {}
    started, finished = time.monotonic(), [sum(1 for s in states.values() if s.status == "done")]
    bar = RichProgress(*bar_columns())
    bar_task = bar.add_task("tasks", total=len(tasks), completed=finished[0])
    jsonl = JsonlProgress(progress.state, session_id, sys.stdout) if args.jsonl_progress else None
    if jsonl is not None:
        jsonl.write({"event": "session_started", "session": session_id, "resumed": opened.resumed, "model": settings.model, "tasks": [t.id for t in tasks]})

    def listen(event: Event) -> None:
        progress(event)
        if jsonl is not None:
            jsonl(event)
        if event.kind == ev.VERDICT and event.payload.get("verdict") == "device_error":
            device_errors.append(event.task_id or "?")
        if event.kind == ev.TASK_FINISHED:
            finished[0] += 1
            bar.update(bar_task, completed=finished[0])
        if live is not None:
            live.update(Group(bar, progress.table()))
        else:
            for line in progress.finished:
                console.print(f"{count_line(finished[0], len(tasks), started)} {line}", highlight=False, soft_wrap=True)
            progress.finished.clear()

    # a live table only on a terminal, and not beside JSON lines (which may share that terminal)
    live = Live(Group(bar, progress.table()), console=console, refresh_per_second=4) if console.is_terminal and jsonl is None else None
    try:
        if live is not None:
            live.start()
        outcomes = await opened.run(listeners=[listen])
    finally:
        if live is not None:
            live.stop()
    provider_failures = [o.task_id for o in outcomes if (o.stopped or "").startswith("provider error")]
    with contextlib.redirect_stdout(sys.stderr) if jsonl is not None else contextlib.nullcontext():  # stdout is the JSON's alone
        report = await report_session(opened.store, session_id, args.out)
    if jsonl is not None:
        jsonl.write({"event": "session_done", "session": session_id, "status": report["session"]["status"], "metrics": report.get("metrics", {}),
                     "report": str(args.out / "report.json")})  # fmt: skip
    problems = []
    if device_errors:
        problems.append(f"device errors on {', '.join(sorted(set(device_errors)))}")
    if provider_failures:
        problems.append(f"the model provider failed on {', '.join(provider_failures)}")
    if problems:
        sys.stderr.write(f"mkb-tui: incomplete run: {'; '.join(problems)} (resume with --resume {session_id})\n")
        return EXIT_HARNESS_INCOMPLETE
    return 0


async def report_session(store, session_id: str, out: Path) -> dict:
    """The metrics table on stdout; report.json / report.csv in OUT."""
    from mkb_tui.bench.report import report_tables, write_report
    from mkb_tui.store.results import session_report

    report = await session_report(store, session_id)
    for table in report_tables(report, title=f"session {session_id} ({report['session']['status']})"):
        print_table(table, keep=("category",))
    json_path, csv_path = write_report(report, out)
    print(f"wrote {json_path} and {csv_path}")
    return report
