"""`mkb-tui sessions`, `mkb-tui export SESSION`, `mkb-tui replay [SESSION]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from mkb_tui.paths import DEFAULT_DB


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sessions", help="list stored sessions")
    p.add_argument("--db", type=Path, default=DEFAULT_DB)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_sessions)

    p = sub.add_parser("export", help="write a session's best kernels and a JSON report")
    p.add_argument("session")
    p.add_argument("--db", type=Path, default=DEFAULT_DB)
    p.add_argument("--out", type=Path, default=None, help="default: out/<session>")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("replay", help="step through a stored session in the app (read-only)")
    p.add_argument("session", nargs="?", help="default: the latest session")
    p.add_argument("--db", type=Path, default=DEFAULT_DB)
    p.set_defaults(func=cmd_replay)


def cmd_sessions(args) -> int:
    from mkb_tui.store import Store

    async def load():
        async with Store(args.db) as store:
            return await store.sessions()

    sessions = asyncio.run(load())
    if args.json:
        print(json.dumps([s.__dict__ for s in sessions], indent=1))
        return 0
    table = Table(title=f"sessions in {args.db}")
    for col in ("id", "status", "model", "device", "method", "tasks", "best speedups", "tokens", "cost", "started"):
        table.add_column(col)
    for s in sessions:
        best = ", ".join(f"{t} {v:.2f}x" for t, v in s.best.items() if v) or "-"
        table.add_row(s.id, s.status, s.model, s.device, s.method, f"{s.done}/{s.tasks}", best[:60], str(s.tokens), f"${s.cost_usd:.4f}",
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created)))  # fmt: skip
    Console().print(table)
    return 0


def cmd_export(args) -> int:
    from mkb_tui.agents.session import session_attempts
    from mkb_tui.bench.report import build_report
    from mkb_tui.store import Store

    async def export():
        async with Store(args.db) as store:
            info = await store.session(args.session)
            states = await store.task_states(args.session)
            attempts = await session_attempts(store, args.session)
        out = args.out or Path("out") / args.session
        for task_id, state in states.items():
            for rel, text in (state.best_files or {}).items():
                path = out / "kernels" / task_id / rel.rsplit("/", 1)[-1]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
        report = build_report(attempts) | {"session": info, "best": {t: {"iteration": s.best_iteration, "speedup": s.best_speedup} for t, s in states.items()}}
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
        return out, sum(1 for s in states.values() if s.best_files)

    out, count = asyncio.run(export())
    print(f"exported {count} best kernels and report.json to {out}")
    return 0


def cmd_replay(args) -> int:
    from mkb_tui.tui.app import run_app

    return run_app(db=args.db, replay=args.session or "latest")
