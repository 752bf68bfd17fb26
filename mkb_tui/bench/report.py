"""Reports: the metrics table (rich), report.json and report.csv, from attempts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.table import Table

from mkb_tui.bench.metrics import Attempt, compute, per_category
from mkb_tui.errors import ConfigError

ATTEMPT_FIELDS = ("task_id", "category", "compiled", "correct", "speedup", "iteration", "sample")


def load_attempts(path: Path) -> list[Attempt]:
    """A JSONL file of attempts, or a JSON file with an `attempts` array (as report.json holds)."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    text = path.read_text()
    try:
        if path.suffix == ".jsonl":
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            data = json.loads(text)
            rows = data["attempts"] if isinstance(data, dict) else data
        return [Attempt(**{k: row[k] for k in ATTEMPT_FIELDS if k in row}) for row in rows]
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a results file ({exc}); expected JSONL of attempts with {', '.join(ATTEMPT_FIELDS)}") from exc


def build_report(attempts: list[Attempt], ks: tuple[int, ...] = ()) -> dict:
    overall = compute(attempts, ks=ks)
    return {
        "metrics": overall.as_dict(),
        "per_category": {c: m.as_dict() for c, m in per_category(attempts, ks=ks).items()},
        "attempts": [a.__dict__ for a in attempts],
    }


def metrics_table(report: dict, title: str = "MobileKernelBench") -> Table:
    table = Table(title=title)
    cols = ["category", "tasks", "CSR %", "FCR %", "fast_0.5 %", "fast_1.0 %", "fast_1.5 %", "geomean"]
    ks = [k for k in report["metrics"] if k.startswith("pass@")]
    for col in cols + ks:
        table.add_column(col, justify="right" if col != "category" else "left")

    def row(name: str, m: dict, style: str = "") -> None:
        geo = "-" if m["geomean_speedup"] is None else f"{m['geomean_speedup']:.2f}x"
        cells = [name, str(m["tasks"]), f"{m['csr']:.1f}", f"{m['fcr']:.1f}", f"{m['fast_0.5']:.1f}", f"{m['fast_1.0']:.1f}", f"{m['fast_1.5']:.1f}", geo]
        table.add_row(*cells, *[f"{m.get(k, 0):.1f}" for k in ks], style=style)

    for name, m in report["per_category"].items():
        row(name, m)
    row("all", report["metrics"], "bold")
    return table


def write_report(report: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "report.json", out / "report.csv"
    json_path.write_text(json.dumps(report, indent=1))
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        keys = list(report["metrics"])
        writer.writerow(["category", *keys])
        for name, m in report["per_category"].items():
            writer.writerow([name, *[m.get(k) for k in keys]])
        writer.writerow(["all", *[report["metrics"][k] for k in keys]])
    return json_path, csv_path


