"""Views beyond the session panes: a benchmark task in browse mode, the open session's results, and a comparison of
stored sessions. Each renders data it is given (pure functions in bench/ compute it); none runs pipeline logic."""

from __future__ import annotations

import json

from rich.syntax import Syntax
from rich.text import Text
from textual.content import Content
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.widgets import DataTable, Label, Static
from textual_plotext import PlotextPlot

from mkb_tui.tui.safe import TextTable, as_text, markup, shown
from mkb_tui.bench.charts import best_speedups, histogram, iteration_series, task_steps
from mkb_tui.bench.metrics import FAST_PS, Attempt
from mkb_tui.tui.cpp import cpp_text_area
from mkb_tui.tui.diff import unified


def _geo(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


class TaskInfoPane(VerticalScroll):
    """Browse mode: a task's PyTorch source, ONNX node and tolerance, MNN's native kernel, its results in every session."""

    task = None  # the bench Task shown

    def compose(self) -> ComposeResult:
        yield Label("", id="task-title")
        yield Static("", id="task-meta")
        yield Static("", id="task-source")
        yield Label("Results in stored sessions", classes="section")
        yield TextTable(id="task-history", cursor_type="row")
        yield Label("MNN's native kernel", classes="section", id="native-title")
        yield cpp_text_area("native-source")

    def on_mount(self) -> None:
        self.query_one("#task-history", DataTable).add_columns("session", "model", "status", "verdict", "best", "iterations")

    def show_node(self, node: list[dict] | str | None) -> None:
        """Tolerance, mechanism and the ONNX node (a list of node summaries, a line saying why not, or None: pending)."""
        task = self.task
        if node is None:
            nodes = "  (exporting ...)"
        elif isinstance(node, str):
            nodes = f"  {node}"
        else:
            nodes = "\n".join(f"  {n['op_type']}({', '.join(n['inputs'])}) -> {', '.join(n['outputs'])}  {json.dumps(n['attributes'], default=str)}"
                              for n in node)  # fmt: skip
        meta = markup("[b]tolerance[/b] $tolerance$reason\n[b]mechanism[/b] $mechanism   [b]MNN ops[/b] $ops\n[b]ONNX node[/b]\n$nodes",
                      tolerance=f"{task.tolerance:g}", reason=f" ({task.tolerance_reason})" if task.tolerance_reason else "",
                      mechanism=task.mechanism, ops=", ".join(task.mnn_ops), nodes=nodes)  # fmt: skip
        try:
            shown = self.query_one("#task-meta", Static)
        except NoMatches:  # removed while the node was exported (the app closing): nothing to show it in
            return
        shown.update(meta)

    def show(self, task, node: list[dict] | str | None, native: dict[str, str] | None, history: list) -> None:
        """task: a bench Task; node: its ONNX node summary (None: still exporting); native: {path: text} from the user's
        MNN tree; history: TaskHistory rows."""
        self.task = task
        self.query_one("#task-title", Label).update(as_text(f"{task.id}  ·  {task.category}  ·  ONNX {task.op}"))
        self.show_node(node)
        self.query_one("#task-source", Static).update(Syntax(task.source, "python", line_numbers=True, word_wrap=True))
        table = self.query_one("#task-history", DataTable)
        table.clear()
        for h in history:
            table.add_row(h.session_id, h.model, h.status, h.verdict or "-", _geo(h.best_speedup), str(h.iterations))  # newest first
        if not history:
            table.add_row("(no stored session ran this task)", "", "", "", "", "")
        source = self.query_one("#native-source")
        if native:
            path, text = next(iter(native.items()))
            self.query_one("#native-title", Label).update(as_text(f"MNN's native kernel: {path} (from your MNN tree)"))
            source.load_text(shown(text))
        else:
            self.query_one("#native-title", Label).update("MNN's native kernel: MNN is not set up (mkb-tui setup mnn)")
            source.load_text("")


def category_rows(report: dict) -> list[list[str]]:
    fast = [f"fast_{p:.1f}" for p in FAST_PS]
    rows = []
    for name, m in [*report["per_category"].items(), ("all", report["metrics"])]:
        rows.append([name, str(m["tasks"]), f"{m['csr']:.1f}", f"{m['fcr']:.1f}", *(f"{m[f]:.1f}" for f in fast), _geo(m["geomean_speedup"])])
    return rows


def paper_rows(report: dict) -> list[list[str]]:
    """Ours beside the paper's published figure, per category then `all` ('-' where the paper published none)."""
    from mkb_tui.bench.published import FIGURES, beside_rows

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    return [[r["category"], str(r["tasks"]), *(pct(r[f][side]) for f in FIGURES for side in ("ours", "paper"))]
            for r in beside_rows(report, report["beside_paper"])]  # fmt: skip


def flagged_lines(flagged: list[dict]) -> str:
    """Each doubted speedup with its flag's one-line reason: the figure is shown, and why it counts nowhere."""
    from mkb_tui.vocabulary.verdicts import doubt_reason

    return "\n".join(f"not counted: {f['task_id']} {f['speedup']:.2f}x (iteration {f['iteration']}) - {doubt_reason(f['reasons'])}"
                     for f in flagged)  # fmt: skip


class ResultsView(Vertical):
    """The open session at a glance: per-category metrics, the speedup distribution, speedup per iteration (sawtooth)."""

    def compose(self) -> ComposeResult:
        yield TextTable(id="results-table", cursor_type="row")
        yield Static(id="results-flagged")  # doubted speedups, each with why it does not count (as `report` lists them)
        # on a run of the paper's suite: the paper's published figures for the same method beside ours (as `report`)
        yield TextTable(id="results-paper", cursor_type="row")
        yield Static(id="results-paper-notes")
        with Horizontal(id="results-charts"):
            yield PlotextPlot(id="results-distribution")
            yield PlotextPlot(id="results-sawtooth")

    def on_mount(self) -> None:
        from mkb_tui.bench.published import FIGURES

        self.query_one("#results-table", DataTable).add_columns("category", "tasks", "CSR", "FCR", *(f"fast_{p:.1f}" for p in FAST_PS), "geomean")
        paper = self.query_one("#results-paper", DataTable)
        paper.add_columns("category", "tasks", *(name for f in FIGURES for name in (f.upper() if f in ("csr", "fcr") else f, "paper")))
        self._show_paper(None)

    def show(self, attempts: list[Attempt], universe: list[tuple[str, str]], run: dict | None = None) -> None:
        """`run`: the session's model, method and device, which choose the paper's figures to set beside ours."""
        from mkb_tui.bench.report import build_report, with_paper

        report = build_report(attempts, tasks=universe)
        report["settings"] = {k: v for k, v in (run or {}).items() if k in ("model", "method") and v}
        report["session"] = {k: v for k, v in (run or {}).items() if k in ("model", "device") and v}
        table = self.query_one("#results-table", DataTable)
        table.clear()
        for row in category_rows(report):
            table.add_row(*row)
        self.query_one("#results-flagged", Static).update(as_text(flagged_lines(report["flagged"])))
        self._show_paper(with_paper(report) if universe else None)
        best = best_speedups(attempts)
        dist = self.query_one("#results-distribution", PlotextPlot)
        plt = dist.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"best speedup per task ({len(best)} correct, timed)")
        bins = histogram(list(best.values()), bins=8)
        if bins:
            plt.bar([f"{lo:.2f}" if lo == hi else f"{lo:.2f}-{hi:.2f}" for lo, hi, _ in bins], [c for *_, c in bins], width=0.6)
        plt.xlabel("speedup over MNN (tasks per bin)")
        dist.refresh()
        saw = self.query_one("#results-sawtooth", PlotextPlot)
        plt = saw.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("speedup per iteration across tasks")
        points = iteration_series(attempts)
        for i, (_, xs, ys) in enumerate(task_steps(points)):
            plt.plot(xs, ys, marker="braille", color="blue", label="task's best so far" if i == 0 else None)
        timed = [p for p in points if p.speedup is not None]
        if timed:
            plt.scatter([p.x for p in timed], [p.speedup for p in timed], marker="dot", color="green", label="iteration")
        if points:
            plt.hline(1.0, "orange")
            plt.xlim(-0.5, points[-1].x + 0.5)
        plt.xlabel("iteration (tasks in order)")
        saw.refresh()

    def _show_paper(self, report: dict | None) -> None:
        table = self.query_one("#results-paper", DataTable)
        notes = self.query_one("#results-paper-notes", Static)
        side = (report or {}).get("beside_paper")
        table.display = notes.display = bool(side)
        table.clear()
        if not side:
            return
        for row in paper_rows(report):
            table.add_row(*row)
        notes.update(as_text("\n".join([f"beside the paper: {side['published']['method']}", *side["notes"]])))


class CompareView(Vertical):
    """Stored sessions side by side: per task (the better marked), per category, paired, and the best kernels' diff."""

    def compose(self) -> ComposeResult:
        yield Label("Compare: mark sessions with m in the Sessions pane (default: the two latest)", id="compare-title")
        with Horizontal(id="compare-top"):
            yield TextTable(id="compare-tasks", cursor_type="row")
            with VerticalScroll(id="compare-diff-scroll"):
                yield Static("", id="compare-diff")
        with Horizontal(id="compare-bottom"):
            yield TextTable(id="compare-categories", cursor_type="row")
            yield Static("", id="compare-paired")

    def show(self, data: dict | None) -> None:
        tasks = self.query_one("#compare-tasks", DataTable)
        cats = self.query_one("#compare-categories", DataTable)
        tasks.clear(columns=True)
        cats.clear(columns=True)
        if data is None:
            self.query_one("#compare-paired", Static).update("fewer than two stored sessions")
            return
        names = [r["name"] for r in data["runs"]]
        self.query_one("#compare-title", Label).update(as_text("Compare: " + "  vs  ".join(f"{r['name']} ({r['label']})" for r in data["runs"])))
        tasks.add_column("task", key="task")
        for i in range(len(names)):
            tasks.add_column(f"S{i + 1}")
        for t in data["tasks"]:
            cells: list = [as_text(t["task_id"])]
            for name in names:
                x = t["runs"][name]
                better = name in t["best"]
                verdict = "-" if x is None or not x["verdict"] else x["verdict"]
                speed = "" if x is None or x["speedup"] is None else f" {x['speedup']:.2f}x"
                cells.append(Text(("★ " if better else "  ") + verdict + speed, style="bold green" if better else ""))
            tasks.add_row(*cells, key=t["task_id"])
        for col in ("category", "session", "CSR", "FCR", *(f"fast_{p:.1f}" for p in FAST_PS), "geomean"):
            cats.add_column(col)
        papers = data.get("beside_paper") or []  # on runs of the paper's suite: its figures for the same methods

        def figures(m: dict) -> list[str]:  # '-' for what the paper did not publish
            return [*("-" if m.get(k) is None else f"{m[k]:.1f}" for k in ("csr", "fcr", *(f"fast_{p:.1f}" for p in FAST_PS))),
                    _geo(m.get("geomean_speedup"))]  # fmt: skip

        for category, by_run in [*data["per_category"].items(), ("all", data.get("overall") or {})]:
            for name, m in by_run.items():
                cats.add_row(category, f"S{names.index(name) + 1}", *figures(m))
            for pub in papers:
                if (theirs := pub["overall"] if category == "all" else pub["per_category"].get(category)) is not None:
                    cats.add_row(Text(category, style="dim"), Text("paper", style="dim"), *(Text(c, style="dim") for c in figures(theirs)))
        lines = [markup("$line", line=f"S{i + 1} = {n}") for i, n in enumerate(names)]
        lines += [markup("[dim]$line[/dim]", line=f"paper = {p['method']} ({p['source']}; {p['setup']})") for p in papers]
        for p in data["paired"]:
            ratio = "-" if p["geomean_ratio"] is None else f"{p['geomean_ratio']:.3f}"
            pval = "-" if p["sign_p"] is None else f"{p['sign_p']:.3g}"
            lines.append(markup("[b]$pair[/b]: $rest", pair=f"S{names.index(p['a']) + 1} vs S{names.index(p['b']) + 1}", rest=f"over {p['tasks']} tasks both attempted: "
                         f"{p['wins']} wins, {p['losses']} losses, {p['ties']} ties; geomean speedup ratio {ratio} "
                         f"(over {p['ratio_tasks']}); sign test p {pval}"))  # fmt: skip
        self.query_one("#compare-paired", Static).update(Content("\n").join(lines))

    @property
    def selected_task(self) -> str | None:
        table = self.query_one("#compare-tasks", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def show_diff(self, task_id: str, kernels: dict[str, dict[str, str] | None]) -> None:
        names = list(kernels)
        base = kernels[names[0]] or {}
        parts = [as_text(f"{task_id}: best kernels, S1 against the others\n", style="bold")]
        for i, name in enumerate(names[1:], 2):
            other = kernels[name] or {}
            if not base or not other:
                parts.append(as_text(f"S{1 if not base else i} has no correct kernel for {task_id}\n", style="dim"))
                continue
            for path in dict.fromkeys([*base, *other]):
                parts.append(unified(base.get(path, ""), other.get(path, ""), f"S1 {path}", f"S{i} {path}"))
        self.query_one("#compare-diff", Static).update(Text("\n").join(parts))
