"""`mkb-tui report RESULTS`: the metrics table, report.json and report.csv."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="metrics (CSR, FCR, fast_p, pass@k, geomean, per category) from results")
    p.add_argument("results", type=Path, help="attempts as JSONL, or a report.json")
    p.add_argument("--out", type=Path, default=None, help="write report.json and report.csv here (default: beside RESULTS)")
    p.add_argument("--k", type=int, action="append", default=[], help="pass@k to report (repeatable)")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from mkb_tui.bench.report import build_report, load_attempts, metrics_table, write_report

    report = build_report(load_attempts(args.results), ks=tuple(args.k))
    Console().print(metrics_table(report, title=f"MobileKernelBench: {args.results.name}"))
    json_path, csv_path = write_report(report, args.out or args.results.parent)
    print(f"wrote {json_path} and {csv_path}")
    return 0
