"""`mkb-tui report RESULTS`: the metrics table, report.json and report.csv."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from mkb_tui.cli.output import print_json, print_table
from mkb_tui.paths import DEFAULT_DB, id_file_name

RESULTS_HELP = """\
RESULTS is one of:
  FILE.jsonl      one attempt per line: {"task_id", "category", "compiled", "correct", "speedup",
                  "iteration", "sample", "emulated", "flags"} (or "verdict": compile_error|wrong_output|correct|...
                  instead of compiled/correct)
  FILE.json       an array of those, or a report.json written by report/--batch/export (re-scored)
  DB.sqlite       a session database: its latest session (or --session ID)
  SESSION         a session id (or unique prefix, or 'latest') in --db (default sessions/mkb.sqlite)
Tasks are scored best-of-iterations; fast_p counts a task when correct and speedup > p, over all tasks
(a stored session's planned tasks that were never attempted count as failures); emulated timings never count.
A speedup flagged suspicious_speedup, unstable_timing, high_dispersion, timing_mismatch or timing_unverified counts only when the
verdict also says `reverified` (a second timing, every timed output checked, agreed); the others are listed apart."""

DB_SUFFIXES = {".sqlite", ".sqlite3", ".db"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="metrics (CSR, FCR, fast_p, pass@k, geomean, per category) from results or a stored session",
        description="Print the metrics table and write report.json and report.csv.",
        epilog=RESULTS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("results", help="results file, session database or session id (see below)")
    p.add_argument("--out", type=Path, default=None, help="write report.json and report.csv here (a results file's report is written beside it by default; a session's only with --out or --html, then to out/SESSION)")
    p.add_argument("--k", type=int, action="append", default=[], help="pass@k to report (repeatable; default pass@1 and pass@n)")
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS, help="session database for a SESSION id (default sessions/mkb.sqlite)")
    p.add_argument("--session", default=None, help="with a DB.sqlite: which session (default the latest)")
    p.add_argument("--json", action="store_true", help="print the report (metrics, per category, attempts) as JSON")
    p.add_argument("--beside", default="auto", metavar="METHOD", type=_beside_choice,
                   help="on a run of the paper's suite, set the paper's published figures beside ours: auto (the run's own "
                        "method: moka, pass@10 for pass@k, single:MODEL for one query), none, moka, pass@10, or single:MODEL "
                        "for one of the paper's models (claude-sonnet-4.5, gpt-5, gemini-2.5-flash, llama-3.1-405b, "
                        "deepseek-r1, qwen3-235b)")  # fmt: skip
    p.add_argument("--html", nargs="?", type=Path, const=True, default=None, metavar="FILE",
                   help="also write one self-contained HTML file with the tables and charts (default OUT/report.html)")
    p.set_defaults(func=cmd_report)


def _beside_choice(value: str) -> str:
    from mkb_tui.bench.published import CHOICES

    if value not in CHOICES:
        raise argparse.ArgumentTypeError(f"unknown method {value!r} (choose from {', '.join(CHOICES)})")
    return value


async def _session_report(db: Path, ref: str | None, ks: tuple[int, ...]) -> tuple[dict, str]:
    from mkb_tui.errors import ConfigError
    from mkb_tui.store import Store
    from mkb_tui.store.results import session_report

    if not db.is_file():
        raise ConfigError(f"{db}: no session database (run a session first, or pass --db)")
    async with Store(db, readonly=True) as store:
        session_id = await store.resolve(ref)
        return await session_report(store, session_id, ks), session_id


def cmd_report(args) -> int:
    from mkb_tui.bench.report import build_report, default_ks, load_attempts, report_tables, with_paper, write_report

    ks = tuple(sorted(set(args.k)))
    if any(k < 1 for k in ks):
        from mkb_tui.errors import ConfigError

        raise ConfigError("--k must be at least 1")
    path = Path(args.results)
    if path.suffix in DB_SUFFIXES:  # a session database
        report, session_id = asyncio.run(_session_report(path, args.session, ks))
        title, out = f"session {session_id}", args.out or Path("out") / id_file_name(session_id)
        is_session = True
    elif path.suffix in (".json", ".jsonl") or path.exists():
        attempts, tasks = load_attempts(path)
        report = build_report(attempts, ks=ks or default_ks(attempts), tasks=tasks)
        title, out = f"MobileKernelBench: {path.name}", args.out or path.parent
        is_session = False
    else:  # a session id in --db
        report, session_id = asyncio.run(_session_report(getattr(args, "db", None) or DEFAULT_DB, args.results, ks))
        title, out = f"session {session_id}", args.out or Path("out") / id_file_name(session_id)
        is_session = True
    with_paper(report, args.beside)
    # a session's report prints; files only when asked (--out or --html): reading a report wrote out/ as a side effect
    asked = args.out is not None or args.html is not None or not is_session
    written = list(write_report(report, out)) if asked else []
    if args.html is not None:
        from mkb_tui.cli.html_report import render_html

        html_path = out / "report.html" if args.html is True else args.html
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_html(report, title))
        written.append(html_path)
    if args.json:
        print_json(report)
        if written:
            sys.stderr.write(f"wrote {', '.join(map(str, written))}\n")
        return 0
    for table in report_tables(report, title):
        print_table(table, keep=("category",))
    print(f"wrote {', '.join(map(str, written))}" if written else "(no files written: --out DIR writes report.json and report.csv, --html an HTML page)")
    return 0
