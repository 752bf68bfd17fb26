"""`mkb-tui report --html`: one self-contained HTML file with the metrics tables and the results charts.

The charts are plotly figures with plotly.js inlined once (no network needed to open the file); the tables are the
same rows as the terminal's metrics table.
"""

from __future__ import annotations

import html
import time

from mkb_tui.bench.charts import best_speedups, iteration_series
from mkb_tui.bench.metrics import FAST_PS, Attempt
from mkb_tui.untrusted import shown

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tr.all td { font-weight: bold; }
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


def distribution_figure(attempts: list[Attempt]):
    import plotly.graph_objects as go

    best = best_speedups(attempts)
    fig = go.Figure(go.Histogram(x=list(best.values()), nbinsx=20, name="tasks", hovertext=list(best), marker_color="#3a7"))
    for level, label in ((1.0, "1.0x (as fast as MNN)"), (1.5, "1.5x")):
        fig.add_vline(x=level, line_dash="dash", line_color="#c80", annotation_text=label)
    fig.update_layout(title=f"Best speedup per task ({len(best)} tasks with a correct, timed kernel)", xaxis_title="speedup over MNN",
                      yaxis_title="tasks", height=380, margin={"t": 50})  # fmt: skip
    return fig


def sawtooth_figure(attempts: list[Attempt]):
    import plotly.graph_objects as go

    points = iteration_series(attempts)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[p.x for p in points], y=[p.best_so_far for p in points], mode="lines", name="task's best so far",
                             line={"shape": "hv", "color": "#37a"}, connectgaps=False,
                             text=[f"{p.task_id} it{p.iteration}" for p in points]))  # fmt: skip
    fig.add_trace(go.Scatter(x=[p.x for p in points], y=[p.speedup for p in points], mode="markers", name="iteration's speedup",
                             marker={"color": "#3a7"}, text=[f"{p.task_id} it{p.iteration}" for p in points]))  # fmt: skip
    starts = {}
    for p in points:
        starts.setdefault(p.task_id, p.x)
    for task_id, x in list(starts.items())[1:]:
        fig.add_vline(x=x - 0.5, line_color="#ddd")
    fig.add_hline(y=1.0, line_dash="dash", line_color="#c80")
    fig.update_layout(title="Speedup per iteration across tasks (resets at each task)", xaxis_title="iteration (all tasks in order)",
                      yaxis_title="speedup over MNN", height=420, margin={"t": 50})  # fmt: skip
    return fig


def render_html(report: dict, title: str) -> str:
    """The whole page: session facts, the per-category table, and the two charts (plotly.js inlined once)."""
    from mkb_tui.bench.report import attempt_from_row

    attempts = [a for a in (attempt_from_row(row) for row in report.get("attempts", [])) if a is not None]
    headers, rows = metrics_rows(report)
    facts = report.get("session") or {}
    facts_line = ", ".join(f"{k} {esc(str(v))}" for k, v in facts.items() if v not in (None, ""))
    charts = [distribution_figure(attempts).to_html(full_html=False, include_plotlyjs=True),
              sawtooth_figure(attempts).to_html(full_html=False, include_plotlyjs=False)]  # fmt: skip
    incorrect = report.get("native_incorrect") or []
    notes = f"<p class=note>native MNN kernel incorrect (not comparable): {esc(', '.join(incorrect))}</p>" if incorrect else ""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class=note>{facts_line}</p><p class=note>written {time.strftime('%Y-%m-%d %H:%M')} by mkb-tui</p>"
        f"<h2>Per category</h2>{table_html(headers, rows)}"
        "<p class=note>rates in % of tasks; fast_p: correct and speedup &gt; p; geomean over correct kernels; emulated timings never count</p>"
        f"{notes}<h2>Speedups</h2>{charts[0]}<h2>Iterations</h2>{charts[1]}</body></html>"
    )
