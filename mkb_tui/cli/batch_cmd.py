"""`mkb-tui --batch`: a headless sweep driving the same session runner as the app, then the metrics report.

Exit codes: 0 when the harness worked, whatever the kernels did; 1 for bad input (one error line) and when the
harness could not do its job for some task (device errors, an LLM provider that kept failing); 2 for usage errors;
3 for an unexpected harness failure (traceback in OUT/batch-error.log). Interrupted or failed sessions resume with
--resume SESSION.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from mkb_tui.agents import events as ev
from mkb_tui.agents.events import Event
from mkb_tui.errors import ConfigError, MkbError
from mkb_tui.paths import DEFAULT_DB

EXIT_HARNESS_INCOMPLETE = 1
EXIT_HARNESS_CRASH = 3


def parser() -> argparse.ArgumentParser:
    from mkb_tui.cli.main import Parser

    p = Parser(
        prog="mkb-tui --batch",
        description="Run MoKA (or a baseline method) over tasks without the app; print the metrics and write report.json/csv.",
        epilog="example:\n  mkb-tui --batch --tasks 'unary/*' --model anthropic:claude-sonnet-4-5 --device local --out out/unary\n\n"
        "exit codes: 0 the harness worked (whatever the kernels did); 1 bad input, or some task could not be evaluated\n"
        "(device errors, an LLM provider that kept failing); 2 usage; 3 harness crash (traceback in OUT/batch-error.log).\n"
        "Every event is committed to the database as it happens: continue an interrupted run with --resume SESSION.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--tasks", default=None, help="task ids or globs, comma-separated (e.g. 'unary/*,softmax*'); required unless --resume")
    p.add_argument("--model", default=None, help="anthropic:NAME | openai:NAME | openai-compatible:NAME | scripted:FILE.jsonl")
    p.add_argument("--base-url", default=None, help="for openai-compatible servers (Ollama, vLLM, llama.cpp)")
    p.add_argument("--device", default="local", help="local | qemu | adb[:SERIAL] | a comma list | adb:* (every phone); default local")
    p.add_argument("--method", default="moka", help="moka | single | pass@k (with --k K), or pass@K (default moka)")
    p.add_argument("--k", type=int, default=None, help="samples for --method pass@k (default 10)")
    p.add_argument("--iterations", type=int, default=10, help="MoKA iterations per task (default 10)")
    p.add_argument("--jobs", type=int, default=1, help="tasks in flight at once (default 1)")
    p.add_argument("--threads", type=int, default=1, help="MNN threads when timing (default 1)")
    p.add_argument("--out", type=Path, default=Path("out"), help="where report.json and report.csv go (default out/)")
    p.add_argument("--db", type=Path, default=DEFAULT_DB, help="session database (default sessions/mkb.sqlite)")
    p.add_argument("--budget-usd", type=float, default=None, help="stop the session cleanly once this much is spent (with --resume: a new budget)")
    p.add_argument("--budget-tokens", type=int, default=None, help="stop the session cleanly after this many tokens (with --resume: a new budget)")
    p.add_argument("--resume", metavar="SESSION", default=None, help="continue an interrupted session (id, prefix or 'latest')")
    return p


def method_and_k(method: str, k: int | None) -> tuple[str, int]:
    """'moka'|'single' -> k=1; 'pass@k' takes --k (default 10); 'pass@5' names k itself."""
    if method in ("moka", "single"):
        if k not in (None, 1):
            raise ConfigError(f"--k applies to --method pass@k, not {method}")
        return method, 1
    if method == "pass@k":
        k = 10 if k is None else k
    elif method.startswith("pass@") and method[5:].isdigit():
        if k is not None and k != int(method[5:]):
            raise ConfigError(f"--method {method} and --k {k} disagree")
        k = int(method[5:])
    else:
        raise ConfigError(f"--method {method!r}: use moka, single or pass@k")
    if k < 1:
        raise ConfigError("pass@k needs k >= 1")
    return "pass@k", k


def new_settings(args) -> dict:
    method, k = method_and_k(args.method, args.k)
    for name in ("iterations", "jobs", "threads"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be at least 1")
    for name in ("budget_usd", "budget_tokens"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive")
    return {"model": args.model, "base_url": args.base_url, "device": args.device, "method": method, "k": k, "iterations": args.iterations,
            "jobs": args.jobs, "threads": args.threads, "budget_usd": args.budget_usd, "budget_tokens": args.budget_tokens}  # fmt: skip


class Progress:
    """Per task: iteration, stage, last verdict, best speedup; fed by the event stream."""

    def __init__(self, task_ids: list[str], budget: str = "") -> None:
        self.rows = {t: {"iteration": "-", "stage": "queued", "verdict": "", "best": None} for t in task_ids}
        self.cost = 0.0
        self.tokens = 0
        self.budget = budget
        self.finished: list[str] = []  # lines for a console that is not a terminal

    def __call__(self, event: Event) -> None:
        if event.kind == ev.BUDGET:
            self.tokens, self.cost = event.payload.get("tokens", self.tokens), event.payload.get("cost_usd", self.cost)
        row = self.rows.get(event.task_id) if event.task_id else None
        if row is None:
            return
        if event.kind == ev.ITERATION_STARTED:
            row["iteration"] = str(event.iteration)
        elif event.kind == ev.STAGE:
            row["stage"] = event.payload.get("stage", row["stage"])
        elif event.kind == ev.VERDICT:
            row["verdict"] = event.payload.get("verdict", "")
        elif event.kind == ev.BEST:
            row["best"] = event.payload.get("speedup")
        elif event.kind == ev.TASK_FINISHED:
            row["stage"] = "done"
            best = "-" if row["best"] is None else f"{row['best']:.3f}x"
            stopped = event.payload.get("stopped")
            early = f" (stopped: {stopped})" if stopped and stopped != "iterations" else ""
            self.finished.append(f"{event.task_id}: {event.payload.get('verdict')}, best {best}{early}")

    def table(self) -> Table:
        table = Table(title=f"tokens {self.tokens}  cost ${self.cost:.4f}{self.budget}")
        for col in ("task", "iteration", "stage", "last verdict", "best speedup"):
            table.add_column(col)
        for task, r in self.rows.items():
            table.add_row(task, r["iteration"], r["stage"], r["verdict"], "-" if r["best"] is None else f"{r['best']:.3f}x")
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
    from mkb_tui.bench.tasks import get_task, load_tasks
    from mkb_tui.store import Store

    async with Store(args.db) as store:
        if args.resume:
            session_id = await store.resolve(args.resume)
            settings = (await store.session(session_id))["settings"]
            # a resumed session may be given a new budget (e.g. after it stopped at the old one); the rest is as stored
            for name in ("budget_usd", "budget_tokens"):
                if getattr(args, name) is not None:
                    settings[name] = getattr(args, name)
            await store.claim(session_id)
        else:
            if not args.tasks or not args.model:
                raise ConfigError("--batch needs --tasks and --model (or --resume SESSION)")
            settings = new_settings(args)
            chosen = load_tasks(args.tasks)
            if not chosen:
                raise ConfigError(f"--tasks {args.tasks!r} matches no task (see `mkb-tui tasks list`)")
            settings["tasks"] = [t.id for t in chosen]
            session_id = None
        tasks = [get_task(t) for t in settings["tasks"]]
        created = {"session_id": session_id}  # _sweep fills it in once the session exists
        try:
            return await _sweep(args, store, created, settings, tasks)
        except (MkbError, KeyboardInterrupt, asyncio.CancelledError):
            raise
        except Exception as exc:  # a bug or an environment failure, not a kernel's: keep the traceback, say one line
            args.out.mkdir(parents=True, exist_ok=True)
            log = args.out / "batch-error.log"
            log.write_text(traceback.format_exc())
            sid = created["session_id"]
            if sid:
                await store.set_status(sid, "error")
            raise HarnessCrash(sid, log, exc) from exc


async def _sweep(args, store, created: dict, settings: dict, tasks: list) -> int:
    from mkb_tui.agents.session import SessionConfig, run_session
    from mkb_tui.device import open_devices
    from mkb_tui.engine.pipeline import Pipeline, PipelinePool
    from mkb_tui.llm import open_provider
    from mkb_tui.llm.budget import Budget

    # everything that can refuse the input does so before a session exists
    provider = open_provider(settings["model"], base_url=settings.get("base_url"))
    devices = open_devices(settings["device"])  # "local", "qemu", "adb:SERIAL", a comma list, or "adb:*"
    kw = {"threads": settings.get("threads", 1), "workspaces": settings.get("jobs", 1)}
    pipeline = Pipeline(devices[0], **kw) if len(devices) == 1 else PipelinePool(devices, **kw)
    session_id = created["session_id"]
    if session_id is None:
        settings["mnn_version"] = pipeline.mnn.version
        session_id = created["session_id"] = await store.create_session(settings)
    budget = Budget(settings.get("budget_usd"), settings.get("budget_tokens"))
    config = SessionConfig(settings["method"], settings["iterations"], settings.get("k", 1), settings.get("jobs", 1), budget)
    limits = [f"${budget.max_usd}" if budget.max_usd else "", f"{budget.max_tokens} tokens" if budget.max_tokens else ""]
    progress = Progress([t.id for t in tasks], (" of " + " / ".join(x for x in limits if x)) if any(limits) else "")
    console = Console(stderr=True)
    method = settings["method"] + (f" (k={settings.get('k')})" if settings["method"] == "pass@k" else "")
    console.print(f"session {session_id}{' (resumed)' if args.resume else ''}: {len(tasks)} tasks, {method}, model {settings['model']}"
                  + (" (scripted)" if provider.scripted else "") + f", device {', '.join(d.name for d in devices)}")  # fmt: skip
    device_errors: list[str] = []

    def listen(event: Event) -> None:
        progress(event)
        if event.kind == ev.VERDICT and event.payload.get("verdict") == "device_error":
            device_errors.append(event.task_id or "?")
        if live is not None:
            live.update(progress.table())
        else:
            for line in progress.finished:
                console.print(line)
            progress.finished.clear()

    live = Live(progress.table(), console=console, refresh_per_second=4) if console.is_terminal else None
    try:
        if live is not None:
            live.start()
        outcomes = await run_session(store, session_id, tasks, provider, pipeline, config=config, listeners=[listen], resume=bool(args.resume))
    finally:
        if live is not None:
            live.stop()
    provider_failures = [o.task_id for o in outcomes if (o.stopped or "").startswith("provider error")]
    await report_session(store, session_id, args.out)
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
    from mkb_tui.bench.report import metrics_table, write_report
    from mkb_tui.store.results import session_report

    report = await session_report(store, session_id)
    Console().print(metrics_table(report, title=f"session {session_id} ({report['session']['status']})"))
    json_path, csv_path = write_report(report, out)
    print(f"wrote {json_path} and {csv_path}")
    return report
