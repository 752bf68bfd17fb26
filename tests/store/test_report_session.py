"""`mkb-tui report` on a stored session (by id and by database file) and on verdict-style JSONL."""

import asyncio
import json
import subprocess
import sys

from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event


def _mkb(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mkb_tui", *args], capture_output=True, text=True, cwd=cwd)


def _session(db, method="moka", k=1):
    """abs: compile error then correct 1.6x; relu: wrong; neg: device error only; sin: planned, never reached."""

    async def write():
        async with Store(db) as store:
            sid = await store.create_session({"tasks": ["abs", "relu", "neg", "sin"], "method": method, "k": k, "model": "scripted:x"})
            for task, cat, verdicts in (("abs", "Unary", [("compile_error", None), ("correct", 1.6)]), ("relu", "Activation", [("wrong_output", None)]),
                                        ("neg", "Unary", [("device_error", None)])):  # fmt: skip
                await store.append(sid, Event(ev.TASK_STARTED, {"category": cat}, task))
                for it, (verdict, speedup) in enumerate(verdicts):
                    flags = ["native_incorrect"] if task == "relu" else []
                    await store.append(sid, Event(ev.VERDICT, {"verdict": verdict, "speedup": speedup, "flags": flags}, task, it))
            return sid

    return asyncio.run(write())


def test_report_of_a_stored_session(tmp_path):
    db = tmp_path / "mkb.sqlite"
    sid = _session(db)
    out = _mkb("report", sid[:6], "--db", str(db), "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    m = report["metrics"]
    # 4 planned tasks (sin never attempted, neg only hit a device error: both count as failures)
    # CSR: abs, relu compiled -> 2/4 = 50; FCR: abs -> 25; fast_1.5: abs 1.6 > 1.5 -> 25; geomean = 1.6; pass@1 = FCR
    assert (m["tasks"], m["csr"], m["fcr"], m["fast_1.0"], m["fast_1.5"], m["pass@1"]) == (4, 50.0, 25.0, 25.0, 25.0, 25.0)
    assert m["geomean_speedup"] == 1.6
    # Unary: abs, neg -> CSR 1/2; sin's category comes from the task files (it never started)
    cats = report["per_category"]
    assert (cats["Unary"]["tasks"], cats["Unary"]["csr"], cats["Activation"]["csr"], cats["Trigonometry"]["tasks"]) == (2, 50.0, 100.0, 1)
    assert report["session"]["id"] == sid and {a["task_id"] for a in report["attempts"]} == {"abs", "relu"}
    assert report["native_incorrect"] == ["relu"] and "native MNN kernel incorrect (not comparable): relu" in out.stdout
    assert "CSR" in out.stdout and (tmp_path / "r" / "report.csv").read_text().splitlines()[-1].startswith("all,4,50.0,25.0")
    # the database file itself names its latest session; re-scoring the written report.json gives the same metrics
    by_file = _mkb("report", str(db), "--out", str(tmp_path / "f"))
    assert by_file.returncode == 0, by_file.stderr
    assert json.loads((tmp_path / "f" / "report.json").read_text())["metrics"] == m
    again = _mkb("report", str(tmp_path / "r" / "report.json"), "--out", str(tmp_path / "again"))
    assert again.returncode == 0 and json.loads((tmp_path / "again" / "report.json").read_text())["metrics"] == m


def test_report_of_a_pass_at_k_session_and_bad_inputs(tmp_path):
    db = tmp_path / "mkb.sqlite"
    _session(db, method="pass@k", k=2)
    out = _mkb("report", "latest", "--db", str(db), "--out", str(tmp_path / "r"))
    assert out.returncode == 0, out.stderr
    m = json.loads((tmp_path / "r" / "report.json").read_text())["metrics"]
    # pass@k: samples are the iterations. abs n=2, c=1: pass@1 = 1 - C(1,1)/C(2,1) = 1/2, pass@2 = 1 - C(1,2)/C(2,2) = 1;
    # relu n=1, c=0 -> 0; neg, sin no attempts -> 0.  Over 4 tasks: pass@1 = 0.5/4 = 12.5 %, pass@2 = 1/4 = 25 %
    assert (m["pass@1"], m["pass@2"]) == (12.5, 25.0)
    # explicit --k: pass@3 with abs's n=2 < 3 samples scores what it has (one correct -> 1): 1/4 = 25 %
    explicit = _mkb("report", "latest", "--db", str(db), "--k", "3", "--out", str(tmp_path / "k3"))
    m3 = json.loads((tmp_path / "k3" / "report.json").read_text())["metrics"]
    assert explicit.returncode == 0 and m3["pass@3"] == 25.0 and "pass@1" not in m3
    for args, message in [(["nope-session", "--db", str(db)], "no session"), (["x", "--db", str(tmp_path / "none.sqlite")], "no session database"),
                          ([str(tmp_path / "missing.jsonl")], "no such file")]:  # fmt: skip
        bad = _mkb("report", *args)
        assert bad.returncode == (2 if args[0] == "nope-session" else 1) and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr  # issue 21: an unknown ref is usage


def test_report_of_verdict_lines(tmp_path):
    results = tmp_path / "results.jsonl"
    rows = [{"task_id": "a", "category": "C", "verdict": "timeout"}, {"task_id": "b", "category": "C", "verdict": "correct", "speedup": 0.9},
            {"task_id": "c", "category": "C", "verdict": "correct", "speedup": 3.0, "emulated": True}, {"task_id": "d", "category": "C", "verdict": "device_error"}]  # fmt: skip
    results.write_text("\n".join(json.dumps(r) for r in rows))
    out = _mkb("report", str(results))
    assert out.returncode == 0, out.stderr
    m = json.loads((tmp_path / "report.json").read_text())["metrics"]
    # d (device error) is no attempt and the file names no task list: 3 tasks. CSR 3/3, FCR 2/3,
    # fast_0.5: only b (0.9; c's 3.0x was emulated) -> 1/3; fast_1.0: none; geomean 0.9
    assert (m["tasks"], m["csr"], m["fast_1.0"], m["geomean_speedup"]) == (3, 100.0, 0.0, 0.9)
    assert abs(m["fcr"] - 200 / 3) < 1e-9 and abs(m["fast_0.5"] - 100 / 3) < 1e-9
    results.write_text('{"task_id": "a", "category": "C", "compiled": "yes"}')
    bad = _mkb("report", str(results))
    assert bad.returncode == 1 and "not a results file" in bad.stderr
