"""`mkb-tui compare S1 S2 [...]`: sessions side by side (per task, per category, paired), and their best kernels' diff."""

from __future__ import annotations

import argparse
import asyncio
import difflib
from pathlib import Path

from rich.table import Table

from mkb_tui.cli.output import print_json, print_table, stdout_is_terminal
from mkb_tui.untrusted import shown
from mkb_tui.paths import DEFAULT_DB


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two or more sessions: per-task verdicts and speedups, per-category metrics, paired statistics",
        description="Sessions side by side (e.g. two models on the same tasks). The better outcome per task is marked *: "
        "correct beats incorrect beats not compiled; between correct kernels the faster, unless within the tie margin. "
        "Paired statistics are each session against the first, over the tasks both attempted.",
    )
    p.add_argument("sessions", nargs="+", metavar="SESSION", help="session ids (or unique prefixes, or 'latest'); two or more")
    p.add_argument("--db", type=Path, default=argparse.SUPPRESS, help="session database (default sessions/mkb.sqlite)")
    p.add_argument("--task", default=None, help="also show the diff between the sessions' best kernels for this task")
    p.add_argument("--tie-margin", type=float, default=0.05, help="speedups within this fraction tie (default 0.05)")
    p.add_argument("--json", action="store_true", help="print everything as one JSON object")
    p.set_defaults(func=cmd_compare)


async def load_runs(db: Path, refs: list[str], task: str | None = None):
    """Runs for the given sessions, and the best kernel files of `task` per session (when asked)."""
    from mkb_tui.store import Store
    from mkb_tui.store.results import best_kernels, session_run

    async with Store(db, readonly=True) as store:
        ids = [await store.resolve(r) for r in refs]
        runs = [await session_run(store, sid) for sid in ids]
        kernels = await best_kernels(store, ids, task) if task else {}
    return runs, kernels


def kernel_diff(kernels: dict[str, dict[str, str] | None], task: str) -> list[str]:
    """Unified diffs of the first session's best kernel against each other session's (lines, no colour)."""
    names = list(kernels)
    base_name, base = names[0], kernels[names[0]] or {}
    out = []
    for name in names[1:]:
        other = kernels[name] or {}
        for path in dict.fromkeys([*base, *other]):
            out += difflib.unified_diff((base.get(path) or "").splitlines(), (other.get(path) or "").splitlines(),
                                        f"{base_name}:{path}", f"{name}:{path}", lineterm="")  # fmt: skip
        if not base or not other:
            missing = [n for n, k in ((base_name, base), (name, other)) if not k]
            out.append(f"({', '.join(missing)}: no correct kernel for {task})")
    return out or ["(the best kernels are identical)"]


def _speed(x: dict | None) -> str:
    if x is None:
        return "-"
    return "-" if x["speedup"] is None else f"{x['speedup']:.2f}x"


def task_table(data: dict) -> Table:
    names = [r["name"] for r in data["runs"]]
    table = Table(title="per task (* the better outcome)")
    table.add_column("task", no_wrap=True)
    table.add_column("category")
    for r in data["runs"]:
        table.add_column(f"{r['name']} verdict")
        table.add_column(f"{r['name']} speedup", justify="right")
    for t in data["tasks"]:
        cells = [t["task_id"], t["category"]]
        for name in names:
            x = t["runs"][name]
            mark = "*" if name in t["best"] else ""
            cells += [("-" if x is None or not x["verdict"] else x["verdict"]) + (f" {mark}" if mark else ""), _speed(x)]
        table.add_row(*cells)
    return table


def category_table(data: dict) -> Table:
    table = Table(title="per category (rates in % of the category's tasks)")
    for col in ("category", "session", "tasks", "CSR", "FCR", "fast_0.5", "fast_1.0", "fast_1.5", "geomean"):
        table.add_column(col, justify="left" if col in ("category", "session") else "right", no_wrap=col == "session")
    for category, by_run in data["per_category"].items():
        for name, m in by_run.items():
            table.add_row(category, name, str(m["tasks"]), *_figures(m))
        for pub in data.get("beside_paper") or []:  # the paper's own figure for the category, where it gives one
            if category in pub["per_category"]:
                table.add_row(category, f"paper: {pub['method']}", "", *_figures(pub["per_category"][category]), style="dim")
    if with_categories := [p for p in data.get("beside_paper") or [] if p["per_category"]]:
        table.caption = "\n".join(f"paper: {p['method']} from {p['per_category_source']}" for p in with_categories)
    return table


def _figures(m: dict) -> list[str]:
    """CSR ... fast_1.5 and the geomean of a metrics dict ('-' for what it does not hold: the paper's rows)."""
    cells = [f"{m[k]:.1f}" if m.get(k) is not None else "-" for k in ("csr", "fcr", "fast_0.5", "fast_1.0", "fast_1.5")]
    geo = m.get("geomean_speedup")
    return [*cells, "-" if geo is None else f"{geo:.2f}x"]


def overall_table(data: dict) -> Table:
    """Each session over all its tasks, and the paper's published rows for the same methods on a paper-suite run."""
    table = Table(title="overall (rates in % of each session's tasks)")
    for col in ("session", "tasks", "CSR", "FCR", "fast_0.5", "fast_1.0", "fast_1.5", "geomean"):
        table.add_column(col, justify="left" if col == "session" else "right", no_wrap=col == "session")
    for name, m in data["overall"].items():
        table.add_row(name, str(m["tasks"]), *_figures(m))
    for pub in data.get("beside_paper") or []:
        table.add_row(f"paper: {pub['method']}", "190", *_figures(pub["overall"]), style="dim")
    if data.get("beside_paper"):
        table.caption = "\n".join([*(f"paper: {p['method']} from {p['source']}" for p in data["beside_paper"]),
                                   f"the paper's set-up: {data['beside_paper'][0]['setup']}"])  # fmt: skip
    return table


def paired_table(data: dict) -> Table:
    table = Table(title=f"paired, over tasks both attempted (ties within {data['tie_margin']:.0%})")
    for col in ("session", "vs", "tasks", "wins", "losses", "ties", "geomean ratio", "over", "sign test p"):
        table.add_column(col, justify="left" if col in ("session", "vs") else "right", no_wrap=col in ("session", "vs"))
    for p in data["paired"]:
        ratio = "-" if p["geomean_ratio"] is None else f"{p['geomean_ratio']:.3f}"
        pval = "-" if p["sign_p"] is None else f"{p['sign_p']:.3g}"
        table.add_row(p["a"], p["b"], str(p["tasks"]), str(p["wins"]), str(p["losses"]), str(p["ties"]), ratio, str(p["ratio_tasks"]), pval)
    return table


def cmd_compare(args) -> int:
    from mkb_tui.bench.comparison import comparison
    from mkb_tui.cli.sessions_cmd import existing_db
    from mkb_tui.errors import ConfigError

    if len(args.sessions) < 2:
        raise ConfigError("compare needs two or more sessions")
    if args.tie_margin < 0:
        raise ConfigError("--tie-margin must not be negative")
    runs, kernels = asyncio.run(load_runs(existing_db(args), args.sessions, args.task))
    if len({r.name for r in runs}) < len(runs):
        raise ConfigError("the same session is named twice")
    data = comparison(runs, args.tie_margin)
    if args.task:
        data["diff"] = {"task": args.task, "lines": kernel_diff(kernels, args.task)}
    if args.json:
        print_json(data)
        return 0
    labels = ", ".join(f"{r['name']} = {r['label']}" for r in data["runs"])
    print(shown(f"comparing {labels}"))
    for table in (task_table(data), category_table(data), overall_table(data), paired_table(data)):
        print()
        print_table(table, keep=("task", "session", "vs"))
    if args.task:
        print(shown(f"\nbest kernels for {args.task}:"))
        if stdout_is_terminal():
            from rich.console import Console
            from rich.syntax import Syntax

            Console().print(Syntax(shown("\n".join(data["diff"]["lines"])), "diff", word_wrap=True))
        else:
            print(shown("\n".join(data["diff"]["lines"])))  # a kernel's escapes never reach the terminal
    return 0
