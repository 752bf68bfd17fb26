"""Which of the paper's published figures a report sets beside ours (bench/published.py), and the HTML report's
charts drawn without a plotting library (cli/html_charts.py). No suite or MNN needed: reports are built here."""

from __future__ import annotations

import re

from mkb_tui.bench.metrics import Attempt
from mkb_tui.bench.published import ALL, MOKA, PASS_AT_10, SINGLE_QUERY, beside, beside_rows
from mkb_tui.bench.report import build_report, with_paper
from mkb_tui.cli.html_charts import MAX_BAR, MIN_BAR, speedup_bars
from mkb_tui.cli.html_report import render_html


def _report(task_ids, settings=None, **attempt):
    attempts = [Attempt(t, "Unary", True, True, 2.0, **attempt) for t in task_ids]
    report = build_report(attempts, tasks=[(t, "Unary") for t in task_ids])
    if settings is not None:
        report["settings"] = settings
    return report


def test_only_a_run_wholly_on_the_papers_suite_is_set_beside_it():
    assert beside(_report(["abs", "relu"], {"method": "moka"})) is None  # our suite: other tasks, other shapes
    assert beside(_report(["paper/Abs", "abs"], {"method": "moka"})) is None  # a mixed run is neither
    assert beside(_report(["paper/Abs"], {"method": "moka"}), "none") is None
    assert beside(_report(["paper/Abs"], {"method": "moka"}))["published"]["key"] == "moka"


def test_the_same_method_is_chosen_and_said():
    assert beside(_report(["paper/Abs"], {"method": "single", "model": "openai:gpt-5"}))["published"]["overall"]["csr"] == 47.4
    claude = beside(_report(["paper/Abs"], {"method": "single", "model": "anthropic:claude-sonnet-4-5-20250929"}))
    assert claude["published"]["key"] == SINGLE_QUERY["claude-sonnet-4"].key
    assert not any("ran no" in n for n in claude["notes"])  # the paper did run that model
    other = beside(_report(["paper/Abs"], {"method": "single", "model": "openai-compatible:qwen2.5-coder"}))
    assert other["published"]["key"] == "single:claude-sonnet-4.5" and any("ran no openai-compatible:qwen2.5-coder" in n for n in other["notes"])
    five = beside(_report(["paper/Abs"], {"method": "pass@k", "k": 5}))
    assert five["published"]["key"] == PASS_AT_10.key and any("pass@5" in n and "pass@10" in n for n in five["notes"])
    assert beside(_report(["paper/Abs"], {"method": "single"}), "moka")["published"]["key"] == "moka"  # asked for


def test_a_results_file_without_settings_is_read_for_its_method():
    assert beside(_report(["paper/Abs"], sample=3))["method"] == "pass@k"
    assert beside(_report(["paper/Abs"], iteration=4))["method"] == "moka"
    assert beside(_report(["paper/Abs"]))["method"] == "single"


def test_rows_hold_the_papers_figure_only_where_it_published_one():
    report = _report([f"paper/U{i}" for i in range(11)], {"method": "moka"})
    rows = {r["category"]: r for r in beside_rows(report, beside(report))}
    assert rows["Unary"]["csr"] == {"ours": 100.0, "paper": 100} and rows["Unary"]["fcr"]["paper"] == 90.9
    assert rows["Unary"]["fast_1.5"]["paper"] is None  # MoKA's per-category table gives CSR, FCR and fast_1.0 only
    assert rows["all"]["fast_1.5"] == {"ours": 100.0, "paper": 27.4}
    assert all(set(p.overall) == {"csr", "fcr", "fast_0.5", "fast_1.0", "fast_1.5"} for p in ALL.values())
    assert sum(1 for _ in MOKA.per_category) == 12


def test_the_html_report_is_small_and_names_every_task(tmp_path):
    ids = [f"paper/T{i}" for i in range(190)]
    attempts = [Attempt(t, "Unary", True, i % 3 != 0, 0.5 + i / 40, iteration=i % 4) for i, t in enumerate(ids)]
    report = with_paper(build_report(attempts, tasks=[(t, "Unary") for t in ids]))
    page = render_html(report, "a sweep")
    assert len(page.encode()) < 400_000 and "<script" not in page  # plotly.js inlined was 4.8 MB for 2 tasks
    assert all(f"<td>{t}</td>" in page for t in ids)  # the per-task table
    assert "Beside the paper: MoKA (10 iterations)" in page


def test_bars_are_never_hairlines_nor_one_block():
    def widths(n):
        svg = speedup_bars({f"t{i}": 0.5 + i for i in range(n)}, str)
        return [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', svg)]

    assert all(w == MAX_BAR for w in widths(2))
    many = widths(380)
    assert len(many) == 380 and all(w >= MIN_BAR for w in many)
    assert "nothing to draw" in speedup_bars({}, str)


def test_many_bars_widen_the_chart_rather_than_overlap():
    svg = speedup_bars({f"t{i}": 0.5 + i for i in range(380)}, str)
    xs = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', svg)]
    width = float(re.findall(r'<rect [^>]*width="([\d.]+)"', svg)[0])
    assert all(b - a >= width for a, b in zip(xs, xs[1:]))  # each bar clear of the next
