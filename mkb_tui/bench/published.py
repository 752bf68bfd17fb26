"""The MobileKernelBench paper's published figures, and which of them a run of the paper's suite is set beside.

A researcher who runs the paper's suite (`--suite paper`) wants to read our CSR, FCR and fast_p next to the paper's
for the same method. The figures below are the paper's own, copied by hand from its tables (Table 4: single query
per model; Table 5: Claude-Sonnet-4.5 pass@10 and MoKA; the per-category table for MoKA, which gives CSR, FCR and
fast_1.0 only). They were measured on the authors' set-up, not ours: one Xiaomi 13 (Snapdragon 8 Gen 2) against MNN
3.2.2's CPU kernels, every task counted out of 190. A report says so next to them.

Pure data and pure functions: `report` and `compare` (terminal, JSON, HTML) render what `beside` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mkb_tui.bench.suites import suite_of_id

PAPER = "the MobileKernelBench paper"
PAPER_SETUP = "Xiaomi 13 (Snapdragon 8 Gen 2), MNN 3.2.2 CPU kernels, rates over the 190 tasks"
FIGURES = ("csr", "fcr", "fast_0.5", "fast_1.0", "fast_1.5")


@dataclass(frozen=True)
class Published:
    """One method's published figures: overall, and per category where the paper gives them (else empty)."""

    key: str  # what a user names it by: moka, single:<model>, pass@10
    method: str  # as the paper names it
    source: str  # where in the paper
    overall: dict[str, float]
    per_category: dict[str, dict[str, float]] = field(default_factory=dict)
    per_category_source: str = ""

    def as_dict(self) -> dict:
        return {"key": self.key, "method": self.method, "source": f"{PAPER}, {self.source}", "setup": PAPER_SETUP,
                "overall": dict(self.overall), "per_category": {c: dict(m) for c, m in self.per_category.items()},
                "per_category_source": f"{PAPER}, {self.per_category_source}" if self.per_category_source else ""}  # fmt: skip


def _row(csr: float, fcr: float, f05: float, f10: float, f15: float) -> dict[str, float]:
    return dict(zip(FIGURES, (csr, fcr, f05, f10, f15), strict=True))


def _cat(csr: float, fcr: float, f10: float) -> dict[str, float]:
    return {"csr": csr, "fcr": fcr, "fast_1.0": f10}


MOKA = Published(
    "moka", "MoKA (10 iterations)", "Table 5", _row(93.7, 75.3, 62.6, 46.8, 27.4),
    {
        "Activation": _cat(100, 91.7, 8.3), "Binary": _cat(100, 75, 50), "Convolution": _cat(61.9, 42.9, 23.8),
        "Logic": _cat(92.3, 30.8, 15.4), "Matrix": _cat(94.7, 78.9, 47.4), "Normalization": _cat(100, 91.7, 75),
        "Pooling": _cat(100, 86.7, 46.7), "Reduction": _cat(100, 100, 65.7), "Trigonometry": _cat(100, 50, 33.3),
        "Tensor": _cat(96.4, 78.6, 53.6), "Unary": _cat(100, 90.9, 45.5), "Others": _cat(75, 25, 25),
    },
    "MoKA's per-category table (CSR, FCR, fast_1.0)",
)  # fmt: skip
PASS_AT_10 = Published("pass@10", "Claude-Sonnet-4.5, pass@10", "Table 5", _row(62.1, 47.9, 41.6, 20.5, 5.3))

# Table 4, one query per task; the model names as a user's model spec would contain them
SINGLE_QUERY = {
    "claude-sonnet-4": Published("single:claude-sonnet-4.5", "Claude-Sonnet-4.5, single query", "Table 4", _row(46.3, 34.2, 31.1, 16.3, 4.7)),
    "gpt-5": Published("single:gpt-5", "GPT-5, single query", "Table 4", _row(47.4, 33.2, 26.3, 13.7, 4.2)),
    "gemini-2.5-flash": Published("single:gemini-2.5-flash", "Gemini-2.5-Flash, single query", "Table 4", _row(20.5, 15.8, 13.2, 6.8, 0.5)),
    "llama-3.1-405b": Published("single:llama-3.1-405b", "Llama-3.1-405B, single query", "Table 4", _row(11.6, 6.3, 5.3, 4.2, 1.1)),
    "deepseek-r1": Published("single:deepseek-r1", "DeepSeek-R1, single query", "Table 4", _row(15.3, 10.0, 8.4, 3.2, 0.5)),
    "qwen3-235b": Published("single:qwen3-235b", "Qwen3-235B, single query", "Table 4", _row(18.9, 13.7, 11.6, 6.3, 2.1)),
}  # fmt: skip
DEFAULT_SINGLE = SINGLE_QUERY["claude-sonnet-4"]  # the paper's strongest single query, for a model it did not run

ALL = {p.key: p for p in (MOKA, PASS_AT_10, *SINGLE_QUERY.values())}
CHOICES = ("auto", "none", *ALL)


def is_paper_run(task_ids: list[str]) -> bool:
    """Only a run wholly on the paper's suite is set beside the paper (our own suite's tasks are other tasks)."""
    return bool(task_ids) and all(suite_of_id(t)[0] == "paper" for t in task_ids)


def _normal(model: str) -> str:
    return model.lower().replace("_", "-").replace(" ", "-")


def single_query_for(model: str) -> Published:
    """Table 4's row for a model spec (anthropic:claude-sonnet-4-5-20250929 is Claude-Sonnet-4.5), else Claude's."""
    name = _normal(model)
    return next((p for key, p in SINGLE_QUERY.items() if key in name), DEFAULT_SINGLE)


def same_method(method: str, model: str = "") -> Published:
    """The paper's figures for the method a run used: MoKA's loop, pass@k (the paper's pass@10), or one query."""
    if method == "moka":
        return MOKA
    if method == "pass@k":
        return PASS_AT_10
    return single_query_for(model)


def infer_method(attempts: list[dict]) -> str:
    """For a results file with no session settings: several samples are pass@k, several iterations MoKA's loop."""
    if any((a.get("sample") or 0) > 0 for a in attempts):
        return "pass@k"
    if any((a.get("iteration") or 0) > 0 for a in attempts):
        return "moka"
    return "single"


def beside(report: dict, choice: str = "auto") -> dict | None:
    """What a report of a paper-suite run sets beside the paper: the published figures, ours, and the caveats.

    `choice` is auto (the run's own method), none, or a key of ALL. None for a run that is not on the paper's suite.
    """
    task_ids = [t["task_id"] for t in report.get("tasks") or []] or [a["task_id"] for a in report.get("attempts") or []]
    if choice == "none" or not is_paper_run(task_ids):
        return None
    settings = report.get("settings") or {}
    method = settings.get("method") or infer_method(report.get("attempts") or [])
    published = ALL[choice] if choice in ALL else same_method(method, settings.get("model") or "")
    n = len(set(task_ids))
    notes = [f"paper: {published.method}, from {PAPER}, {published.source}"
             + (f"; per category from {published.per_category_source}" if published.per_category_source else "; no per-category figures published"),
             f"the paper's set-up: {PAPER_SETUP}"]  # fmt: skip
    session = report.get("session") or {}
    ours = ", ".join(f"{k} {session[k]}" for k in ("id", "model", "device", "mnn_version") if session.get(k))
    notes.append(f"ours: {ours or 'this results file'}, rates over the {n} tasks of this run" + ("" if n == 190 else " (the paper: 190)"))
    model = settings.get("model") or ""
    if choice == "auto" and method == "single" and published is DEFAULT_SINGLE and "claude-sonnet-4" not in _normal(model):
        notes.append(f"the paper ran no {model or 'such model'}: its strongest single query is shown")
    if method == "pass@k" and (settings.get("k") or 10) != 10:
        notes.append(f"this run is pass@{settings.get('k')}; the paper's figure is pass@10")
    return {"published": published.as_dict(), "method": method, "tasks": n, "notes": notes}


def beside_rows(report: dict, side: dict) -> list[dict]:
    """Per category, then `all`: our figure and the paper's (None where the paper gives none) for each of FIGURES."""
    pub = side["published"]
    rows = []
    for name, ours in [*report["per_category"].items(), ("all", report["metrics"])]:
        theirs = pub["overall"] if name == "all" else pub["per_category"].get(name, {})
        rows.append({"category": name, "tasks": ours["tasks"],
                     **{f: {"ours": ours.get(f), "paper": theirs.get(f)} for f in FIGURES}})  # fmt: skip
    return rows
