"""Reports: the metrics table (rich), report.json and report.csv, from attempts.

Results files (`mkb-tui report RESULTS`):
- JSONL: one attempt per line, `{"task_id", "category", "compiled", "correct", "speedup", "iteration", "sample",
  "emulated", "flags"}`; only task_id and category are required. Instead of compiled/correct a line may carry `verdict`
  (an engine verdict kind: compile_error, wrong_output, correct, ...); device_error lines are skipped (they say
  nothing about the kernel).
- JSON: an array of such attempts, or an object with `attempts` (and optionally `tasks`, a list of
  {"task_id", "category"} naming every task of the run, attempted or not) -- the report.json this module writes.
A stored session (a session id, or a .sqlite database) is read through mkb_tui.store.results.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from mkb_tui.bench.metrics import FAST_PS, Attempt, attempt_from_record, compute, flagged, per_category
from mkb_tui.errors import ConfigError

ATTEMPT_FIELDS = ("task_id", "category", "compiled", "correct", "speedup", "iteration", "sample", "emulated", "flags")


def attempt_from_row(row: dict[str, Any]) -> Attempt | None:
    if "verdict" in row and ("compiled" not in row or "correct" not in row):
        _flags(row)  # a malformed flags list is refused, not read as no flags
        return attempt_from_record(row, row["task_id"], row["category"], row.get("iteration") or 0, row.get("sample") or 0)
    values = {k: row[k] for k in ATTEMPT_FIELDS if k in row}
    values["flags"] = _flags(row)
    if not isinstance(values.get("compiled"), bool) or not isinstance(values.get("correct"), bool):
        raise ValueError(f"attempt for {row.get('task_id')!r} needs boolean compiled and correct (or a verdict)")
    return Attempt(**values)


def _flags(row: dict[str, Any]) -> tuple[str, ...]:
    flags = row.get("flags") or ()
    if isinstance(flags, str) or not all(isinstance(f, str) for f in flags):
        raise ValueError(f"attempt for {row.get('task_id')!r}: flags must be a list of strings")
    return tuple(flags)


def load_attempts(path: Path) -> tuple[list[Attempt], list[tuple[str, str]]]:
    """Attempts and the named task universe (empty when the file names none) from a results file."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    text = path.read_text()
    tasks: list[tuple[str, str]] = []
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            rows = data["attempts"] if isinstance(data, dict) else data
            if isinstance(data, dict):
                tasks = [(t["task_id"], t["category"]) for t in data.get("tasks") or []]
        attempts = [a for a in (attempt_from_row(row) for row in rows) if a is not None]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path}: not a results file ({type(exc).__name__}: {exc}); expected JSONL of attempts with {', '.join(ATTEMPT_FIELDS)}"
        ) from exc
    return attempts, tasks


def default_ks(attempts: list[Attempt]) -> tuple[int, ...]:
    """pass@1, and pass@n for the largest number of samples any task has."""
    samples: dict[str, set[int]] = {}
    for a in attempts:
        samples.setdefault(a.task_id, set()).add(a.sample)
    most = max((len(s) for s in samples.values()), default=1)
    return tuple(sorted({1, most}))


def build_report(attempts: list[Attempt], ks: tuple[int, ...] = (1,), tasks: list[tuple[str, str]] = ()) -> dict:
    tasks = list(tasks)
    overall = compute(attempts, tasks=tasks, ks=ks)
    return {
        "metrics": overall.as_dict(),
        "per_category": {c: m.as_dict() for c, m in per_category(attempts, tasks=tasks, ks=ks).items()},
        "tasks": [{"task_id": t, "category": c} for t, c in tasks],
        # correct kernels whose speedup is left out of fast_p and the geomean until re-verified, with the reason
        "flagged": [asdict(f) for f in flagged(attempts)],
        "attempts": [asdict(a) for a in attempts],
    }


def metrics_table(report: dict, title: str = "MobileKernelBench") -> Table:
    """Rates in percent of the tasks; headers kept short so the table fits an 80-column terminal."""
    caption = "rates in % of tasks; fast_p: correct and speedup > p; geomean over correct kernels"
    if report.get("native_incorrect"):  # speedups against a wrong native kernel are shown apart
        caption += f"\nnative MNN kernel incorrect (not comparable): {', '.join(report['native_incorrect'])}"
    if report.get("flagged"):  # speedups that do not count until re-verified
        caption += "\nnot counted until re-verified: " + ", ".join(
            f"{f['task_id']} {f['speedup']:.2f}x ({', '.join(f['reasons'])})" for f in report["flagged"])
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)
    ks = [k for k in report["metrics"] if k.startswith("pass@")]
    fast = [f"fast_{p:.1f}" for p in FAST_PS]
    for col in ["category", "tasks", "CSR", "FCR", *fast, *ks, "geomean"]:
        table.add_column(col, justify="left" if col == "category" else "right")

    def row(name: str, m: dict, style: str = "") -> None:
        geo = "-" if m["geomean_speedup"] is None else f"{m['geomean_speedup']:.2f}x"
        cells = [name, str(m["tasks"]), f"{m['csr']:.1f}", f"{m['fcr']:.1f}", *(f"{m[f]:.1f}" for f in fast), *(f"{m.get(k, 0):.1f}" for k in ks)]
        table.add_row(*cells, geo, style=style)

    for name, m in report["per_category"].items():
        row(name, m)
    row("all", report["metrics"], "bold")
    return table


def with_paper(report: dict, choice: str = "auto") -> dict:
    """The report with `beside_paper`: the paper's published figures for the run's method, when it ran the paper's
    suite (bench/published.py); None otherwise or with choice `none`."""
    from mkb_tui.bench.published import beside

    report["beside_paper"] = beside(report, choice)
    return report


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def beside_paper_table(report: dict) -> Table | None:
    """Ours beside the paper's, per category and overall: CSR, FCR, fast_1.0 and fast_1.5 (the paper gives no
    per-category fast_1.5 or fast_0.5; those cells read '-')."""
    from mkb_tui.bench.published import beside_rows

    side = report.get("beside_paper")
    if not side:
        return None
    table = Table(title=f"beside the paper: {side['published']['method']}", caption="\n".join(side["notes"]),
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, collapse_padding=True)  # fmt: skip
    table.add_column("category")
    table.add_column("tasks", justify="right")
    for figure in ("CSR", "FCR", "fast_1.0", "fast_1.5"):
        table.add_column(figure, justify="right")
        table.add_column("paper", justify="right", style="dim")
    for row in beside_rows(report, side):
        cells = [row["category"], str(row["tasks"])]
        for figure in ("csr", "fcr", "fast_1.0", "fast_1.5"):
            cells += [_pct(row[figure]["ours"]), _pct(row[figure]["paper"])]
        table.add_row(*cells, style="bold" if row["category"] == "all" else "")
    return table


def report_tables(report: dict, title: str) -> list[Table]:
    """What a terminal shows of a report: the metrics table, and the paper's figures beside ours when they apply."""
    side = beside_paper_table(report)
    return [metrics_table(report, title=title), *([side] if side is not None else [])]


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    """report.json (everything) and report.csv (one row per category, then `all`)."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "report.json", out / "report.csv"
    json_path.write_text(json.dumps(report, indent=1, default=str))
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        keys = list(report["metrics"])
        writer.writerow(["category", *keys])
        for name, m in report["per_category"].items():
            writer.writerow([name, *[m.get(k) for k in keys]])
        writer.writerow(["all", *[report["metrics"][k] for k in keys]])
    return json_path, csv_path
