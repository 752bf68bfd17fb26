"""`mkb-tui report --html`: one self-contained HTML file with the metrics tables and the results charts.

The tables are the terminal's rows (per category; beside the paper on a paper-suite run) plus one row per task; the
charts are inline SVG (cli/html_charts.py): no script, nothing fetched, a few tens of KB.
"""

from __future__ import annotations

import html
import time

from mkb_tui.bench.charts import best_speedups, iteration_series
from mkb_tui.bench.metrics import FAST_PS, Attempt, best_per_task
from mkb_tui.cli.html_charts import sawtooth, speedup_bars
from mkb_tui.untrusted import shown

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.all td { font-weight: bold; }
svg text { font-family: system-ui, sans-serif; fill: #444; }
.note { color: #666; font-size: 0.9em; }
"""


def esc(value: object) -> str:
    """Stored text for the HTML report: controls made visible (mkb_tui.untrusted.shown), then HTML-escaped."""
    return html.escape(shown(value))


def metrics_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    ks = [k for k in report["metrics"] if k.startswith("pass@")]
    fast = [f"fast_{p:.1f}" for p in FAST_PS]
    headers = ["category", "tasks", "CSR", "FCR", *fast, *ks, "geomean"]
    rows = []
    for name, m in [*report["per_category"].items(), ("all", report["metrics"])]:
        geo = "-" if m["geomean_speedup"] is None else f"{m['geomean_speedup']:.2f}x"
        rows.append([name, str(m["tasks"]), f"{m['csr']:.1f}", f"{m['fcr']:.1f}", *(f"{m[f]:.1f}" for f in fast), *(f"{m.get(k, 0):.1f}" for k in ks), geo])
    return headers, rows


def table_html(headers: list[str], rows: list[list[str]], last_is_total: bool = True) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = ' class="all"' if last_is_total and i == len(rows) - 1 else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def task_rows(report: dict, attempts: list[Attempt]) -> tuple[list[str], list[list[str]]]:
    """One row per task of the run (attempted or not): its best outcome, counted speedup and any speedup held back."""
    universe = [(t["task_id"], t["category"]) for t in report.get("tasks") or []]
    tries: dict[str, int] = {}
    for a in attempts:
        tries[a.task_id] = tries.get(a.task_id, 0) + 1
    held = {}
    for f in report.get("flagged") or []:
        held.setdefault(f["task_id"], []).append(f"{f['speedup']:.2f}x ({', '.join(f['reasons'])})")
    incorrect = set(report.get("native_incorrect") or [])
    rows = []
    for s in best_per_task(attempts, universe):
        outcome = "correct" if s.correct else "wrong output" if s.compiled else "not compiled" if s.task_id in tries else "not attempted"
        note = "; ".join(held.get(s.task_id, []) + (["MNN's own kernel is wrong here"] if s.task_id in incorrect else []))
        speed = "-" if s.speedup is None else f"{s.speedup:.2f}x"
        rows.append([s.task_id, s.category, str(tries.get(s.task_id, 0)), outcome, speed, note])
    return ["task", "category", "attempts", "best outcome", "speedup", "not counted"], rows


def beside_paper_rows(report: dict) -> tuple[list[str], list[list[str]]] | None:
    from mkb_tui.bench.published import beside_rows

    side = report.get("beside_paper")
    if not side:
        return None
    figures = ("csr", "fcr", "fast_1.0", "fast_1.5")
    headers = ["category", "tasks", *(h for f in ("CSR", "FCR", "fast_1.0", "fast_1.5") for h in (f, "paper"))]
    rows = []
    for row in beside_rows(report, side):
        cells = [row["category"], str(row["tasks"])]
        for f in figures:
            cells += ["-" if row[f][w] is None else f"{row[f][w]:.1f}" for w in ("ours", "paper")]
        rows.append(cells)
    return headers, rows


def render_html(report: dict, title: str) -> str:
    """The whole page: session facts, the per-category table, the paper's figures beside ours (a paper-suite run),
    the per-task table and the two charts (inline SVG: nothing fetched, no script)."""
    from mkb_tui.bench.report import attempt_from_row

    attempts = [a for a in (attempt_from_row(row) for row in report.get("attempts", [])) if a is not None]
    headers, rows = metrics_rows(report)
    facts = report.get("session") or {}
    facts_line = ", ".join(f"{k} {esc(str(v))}" for k, v in facts.items() if v not in (None, ""))
    incorrect = report.get("native_incorrect") or []
    notes = f"<p class=note>native MNN kernel incorrect (not comparable): {esc(', '.join(incorrect))}</p>" if incorrect else ""
    paper = ""
    if (side := beside_paper_rows(report)) is not None:
        paper_notes = "".join(f"<p class=note>{esc(n)}</p>" for n in report["beside_paper"]["notes"])
        paper = (f"<h2>Beside the paper: {esc(report['beside_paper']['published']['method'])}</h2>{table_html(*side)}"
                 f"<p class=note>'paper' columns: the paper's published figures ('-': not published per category)</p>{paper_notes}")  # fmt: skip
    task_headers, task_table = task_rows(report, attempts)
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class=note>{facts_line}</p><p class=note>written {time.strftime('%Y-%m-%d %H:%M')} by mkb-tui</p>"
        f"<h2>Per category</h2>{table_html(headers, rows)}"
        "<p class=note>rates in % of tasks; fast_p: correct and speedup &gt; p; geomean over correct kernels; emulated timings never count</p>"
        f"{notes}{paper}"
        f"<h2>Best speedup per task</h2>{speedup_bars(best_speedups(attempts), esc)}"
        f"<h2>Iterations</h2>{sawtooth(iteration_series(attempts), esc)}"
        f"<h2>Per task</h2>{table_html(task_headers, task_table, last_is_total=False)}"
        "</body></html>"
    )
