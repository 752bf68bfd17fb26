"""Metrics against hand-computed cases."""

import math

import pytest

from mkb_tui.bench.metrics import Attempt, attempt_from_verdict, best_per_task, compute, pass_at_k, per_category

# Four tasks, two categories, two iterations each:
# t1 (A): iter0 compile error; iter1 correct 1.2x                -> compiled, correct, best 1.2
# t2 (A): iter0 correct 0.8x;  iter1 correct 1.6x                -> compiled, correct, best 1.6
# t3 (B): iter0 compiles but wrong; iter1 wrong                  -> compiled, not correct
# t4 (B): iter0 compile error; iter1 compile error               -> nothing
ATTEMPTS = [
    Attempt("t1", "A", False, False, None, 0), Attempt("t1", "A", True, True, 1.2, 1),
    Attempt("t2", "A", True, True, 0.8, 0), Attempt("t2", "A", True, True, 1.6, 1),
    Attempt("t3", "B", True, False, None, 0), Attempt("t3", "B", True, False, None, 1),
    Attempt("t4", "B", False, False, None, 0), Attempt("t4", "B", False, False, None, 1),
]  # fmt: skip


def test_best_of_iterations():
    best = {s.task_id: s for s in best_per_task(ATTEMPTS)}
    assert best["t1"].speedup == 1.2 and best["t2"].speedup == 1.6 and best["t3"].speedup is None
    assert [best[t].compiled for t in ("t1", "t2", "t3", "t4")] == [True, True, True, False]


def test_headline_metrics():
    m = compute(ATTEMPTS)
    assert m.csr == 75.0  # 3 of 4 compiled
    assert m.fcr == 50.0  # 2 of 4 correct
    assert m.fast[0.5] == 50.0  # 1.2 and 1.6 > 0.5
    assert m.fast[1.0] == 50.0  # 1.2 and 1.6 > 1.0
    assert m.fast[1.5] == 25.0  # only 1.6 > 1.5
    assert m.geomean_speedup == pytest.approx(math.sqrt(1.2 * 1.6))  # 1.3856
    d = m.as_dict()
    assert d["fast_1.0"] == 50.0 and d["fast_1.5"] == 25.0 and d["csr"] == 75.0


def test_fast_p_is_strict():
    m = compute([Attempt("t", "A", True, True, 1.0)])
    assert m.fast[1.0] == 0.0 and m.fast[0.5] == 100.0


def test_per_category():
    cats = per_category(ATTEMPTS)
    assert (cats["A"].csr, cats["A"].fcr, cats["A"].fast[1.5]) == (100.0, 100.0, 50.0)
    assert (cats["B"].csr, cats["B"].fcr, cats["B"].geomean_speedup) == (50.0, 0.0, None)


def test_pass_at_k_unbiased_estimator():
    # n=10 samples, c=3 correct, k=1: 1 - C(7,1)/C(10,1) = 1 - 7/10 = 0.3
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # k=5: 1 - C(7,5)/C(10,5) = 1 - 21/252 = 0.916666...
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)
    assert pass_at_k(10, 0, 5) == 0.0 and pass_at_k(10, 6, 5) == 1.0
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)


def test_pass_at_k_over_tasks():
    # task a: 4 samples, 1 correct -> pass@2 = 1 - C(3,2)/C(4,2) = 1 - 3/6 = 0.5
    # task b: 4 samples, 0 correct -> 0;  mean 25%
    attempts = [Attempt("a", "X", True, s == 2, 1.0 if s == 2 else None, 0, s) for s in range(4)]
    attempts += [Attempt("b", "X", True, False, None, 0, s) for s in range(4)]
    assert compute(attempts, ks=(2,)).pass_at_k[2] == pytest.approx(25.0)


def test_report_cli_writes_json_and_csv(tmp_path):
    import json
    import subprocess
    import sys

    results = tmp_path / "results.jsonl"
    results.write_text("\n".join(json.dumps(a.__dict__) for a in ATTEMPTS))
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "report", str(results), "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["metrics"]["csr"] == 75.0 and report["metrics"]["fast_1.5"] == 25.0
    assert report["per_category"]["A"]["fcr"] == 100.0
    csv_lines = (tmp_path / "r" / "report.csv").read_text().splitlines()
    assert csv_lines[0].startswith("category,tasks,csr,fcr") and csv_lines[-1].startswith("all,4,75.0,50.0")
    assert "CSR" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "mkb_tui", "report", str(tmp_path / "nope.jsonl")], capture_output=True, text=True)
    assert bad.returncode == 1 and "no such file" in bad.stderr


def test_emulated_timings_never_count():
    # t1 correct at 2.0x but timed under qemu: correct (FCR 100) yet no speedup, so every fast_p is 0 and no geomean
    m = compute([Attempt("t1", "A", True, True, 2.0, 0, 0, emulated=True)])
    assert (m.fcr, m.fast[0.5], m.fast[1.0], m.geomean_speedup) == (100.0, 0.0, 0.0, None)
    # an emulated 3.0x next to a real 1.2x: the best counted speedup is 1.2
    best = best_per_task([Attempt("t", "A", True, True, 3.0, 0, emulated=True), Attempt("t", "A", True, True, 1.2, 1)])
    assert best[0].speedup == 1.2


def test_speedup_of_a_wrong_kernel_never_counts():
    # a wrong kernel that happened to carry a timing: 0 correct of 1 -> FCR 0, fast_0.5 0, geomean None
    m = compute([Attempt("t", "A", True, False, 5.0)])
    assert (m.csr, m.fcr, m.fast[0.5], m.geomean_speedup) == (100.0, 0.0, 0.0, None)


def test_unattempted_tasks_are_in_the_denominator():
    # ATTEMPTS covers t1..t4; the run planned t5 (category B) too and never reached it:
    # CSR 3/5 = 60, FCR 2/5 = 40, fast_1.5 1/5 = 20; category B: CSR 1/3 = 33.33.., FCR 0
    universe = [("t1", "A"), ("t2", "A"), ("t3", "B"), ("t4", "B"), ("t5", "B")]
    m = compute(ATTEMPTS, tasks=universe)
    assert (m.tasks, m.csr, m.fcr, m.fast[1.5]) == (5, 60.0, 40.0, 20.0)
    cats = per_category(ATTEMPTS, tasks=universe)
    assert cats["B"].tasks == 3 and cats["B"].csr == pytest.approx(100 / 3) and cats["B"].fcr == 0.0
    # a category with no attempt at all still appears, with zeros
    assert per_category([], tasks=[("x", "C")])["C"].as_dict()["csr"] == 0.0


def test_fast_p_for_any_p_and_geomean_over_three():
    # correct speedups 0.5, 2.0, 4.0 plus one wrong task (4 tasks):
    # fast_0.5: 2.0, 4.0 (0.5 is not > 0.5) -> 2/4 = 50; fast_3.0: only 4.0 -> 25; fast_0.0: all three correct -> 75
    # geomean = (0.5 * 2 * 4) ** (1/3) = 4 ** (1/3) = 1.5874...
    attempts = [Attempt("a", "A", True, True, 0.5), Attempt("b", "A", True, True, 2.0), Attempt("c", "A", True, True, 4.0),
                Attempt("d", "A", True, False)]  # fmt: skip
    m = compute(attempts, ps=(0.0, 0.5, 3.0))
    assert m.fast == {0.0: 75.0, 0.5: 50.0, 3.0: 25.0}
    assert m.geomean_speedup == pytest.approx(4 ** (1 / 3))


def test_pass_at_k_with_samples_of_several_iterations():
    # task a: sample 0 = [compile error, correct] -> correct; sample 1 = [wrong] ; sample 2 = [correct]  -> n=3, c=2
    #   pass@1 = 1 - C(1,1)/C(3,1) = 1 - 1/3 = 2/3;  pass@2 = 1 - C(1,2)/C(3,2) = 1 - 0/3 = 1
    # task b: one sample, wrong -> n=1 < k=2: scored on what it has -> 0 for both
    # mean over 2 tasks: pass@1 = (2/3 + 0)/2 = 33.33..%, pass@2 = (1 + 0)/2 = 50%
    attempts = [Attempt("a", "X", False, False, None, 0, 0), Attempt("a", "X", True, True, 1.0, 1, 0),
                Attempt("a", "X", True, False, None, 0, 1), Attempt("a", "X", True, True, 1.1, 0, 2),
                Attempt("b", "X", True, False, None, 0, 0)]  # fmt: skip
    m = compute(attempts, ks=(1, 2))
    assert m.pass_at_k[1] == pytest.approx(100 / 3) and m.pass_at_k[2] == pytest.approx(50.0)
    assert m.as_dict()["pass@2"] == pytest.approx(50.0)
    # with fewer than k samples but one correct, the task passes: n=1, c=1, k=5 -> 1
    assert compute([Attempt("c", "X", True, True, 1.0)], ks=(5,)).pass_at_k[5] == 100.0


def test_attempt_from_verdict():
    # compiled = the kernel built (runtime_error, timeout, wrong_output, correct); unknown verdicts are not correct
    assert [attempt_from_verdict("t", "A", v).compiled for v in ("compile_error", "rejected", "format_error", "runtime_error", "wrong_output", "correct")] == [
        False, False, False, True, True, True]  # fmt: skip
    assert attempt_from_verdict("t", "A", "correct", 1.5).counted_speedup == 1.5
    assert attempt_from_verdict("t", "A", "banana").correct is False


def test_doubted_speedups_do_not_count_until_reverified():
    from mkb_tui.bench.metrics import flagged

    attempts = [
        Attempt("a", "A", True, True, 2.0),
        Attempt("b", "A", True, True, 40.0, flags=("suspicious_speedup",)),
        Attempt("c", "A", True, True, 3.0, flags=("high_dispersion", "retimed")),
        Attempt("d", "A", True, True, 1.8, flags=("timing_mismatch", "unstable_timing")),
        Attempt("e", "A", True, True, 30.0, flags=("suspicious_speedup", "reverified")),
    ]
    m = compute(attempts)
    assert m.fcr == 100.0  # doubted kernels are still correct
    assert m.fast[1.0] == 40.0  # a and e only
    assert m.geomean_speedup == pytest.approx((2.0 * 30.0) ** 0.5)
    apart = {f.task_id: f.reasons for f in flagged(attempts)}
    assert apart == {"b": ("suspicious_speedup",), "c": ("high_dispersion",), "d": ("timing_mismatch", "unstable_timing")}


def test_a_doubted_attempt_does_not_hide_a_clean_one():
    attempts = [Attempt("t", "A", True, True, 9.0, 0, flags=("high_dispersion",)), Attempt("t", "A", True, True, 1.4, 1)]
    assert best_per_task(attempts)[0].speedup == 1.4


def test_report_lists_flagged_results_apart(tmp_path):
    from mkb_tui.bench.report import build_report, load_attempts, metrics_table

    path = tmp_path / "r.jsonl"
    path.write_text('{"task_id": "a", "category": "A", "verdict": "correct", "speedup": 2.0}\n'
                    '{"task_id": "b", "category": "A", "verdict": "correct", "speedup": 25.0, "flags": ["suspicious_speedup"]}\n')
    attempts, _ = load_attempts(path)
    report = build_report(attempts)
    assert [f["task_id"] for f in report["flagged"]] == ["b"] and tuple(report["flagged"][0]["reasons"]) == ("suspicious_speedup",)
    assert report["metrics"]["fast_1.0"] == 50.0
    from rich.console import Console

    console = Console(record=True, width=120)
    console.print(metrics_table(report))
    assert "not counted until re-verified: b 25.00x (suspicious_speedup)" in console.export_text()
