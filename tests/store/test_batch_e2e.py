"""--batch end to end on the host through the real pipeline, with a scripted model: pass@k killed with SIGKILL,
resumed and reported; a token budget that stops a session cleanly. (The MoKA kill/resume path is covered by
tests/agents/test_session_e2e.py; these cover what it does not.)"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

from mkb_tui.vocabulary.verdicts import doubts
from tests.adversarial.kernels import BAD, CORRECT
from tests.kill import kill_when_stored


def answer(text: str) -> str:
    return f"```cpp\n// source/backend/cpu/MKBCandidate.cpp\n{text}```\n"


def _script(path, responses) -> str:
    path.write_text("\n".join(json.dumps(r) for r in responses) + "\n")
    return f"scripted:{path}"


def _batch(*args):
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.Popen([sys.executable, "-m", "mkb_tui", "--batch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _mkb(*args):
    return subprocess.run([sys.executable, "-m", "mkb_tui", *args], capture_output=True, text=True, timeout=120)


def _wait_for_verdicts(db, count, proc, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    if con.execute("SELECT count(*) FROM events WHERE kind='verdict'").fetchone()[0] >= count:
                        return
            except sqlite3.OperationalError:
                pass  # schema not created yet
        time.sleep(0.05)
    raise AssertionError(f"no {count} verdicts before the batch ended: {proc.poll()}")


def test_pass_at_k_killed_resumed_reported(pipeline, tmp_path):
    # three independent samples for abs: a syntax error, a correct kernel, a fast but wrong one
    samples = [BAD["syntax_error"][0], CORRECT, BAD["garbage_fast"][0]]
    model = _script(tmp_path / "k.jsonl", [{"role": "coder", "text": answer(k), "output_tokens": 100} for k in samples])
    db, out = tmp_path / "mkb.sqlite", tmp_path / "out"
    proc = _batch("--tasks", "abs", "--model", model, "--method", "pass@k", "--k", "3", "--db", str(db), "--out", str(out))
    _wait_for_verdicts(db, 1, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as con:
        (session_id, status, settings) = con.execute("SELECT id, status, settings FROM sessions").fetchone()
        first = con.execute("SELECT iteration, verdict FROM runs ORDER BY id").fetchall()
    assert status == "running" and first[0] == (0, "compile_error") and json.loads(settings)["k"] == 3

    resumed = _batch("--resume", session_id[:7], "--db", str(db), "--out", str(out))
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr[-3000:]
    with sqlite3.connect(db) as con:
        runs = con.execute("SELECT iteration, verdict FROM runs ORDER BY iteration").fetchall()
        status = con.execute("SELECT status FROM sessions").fetchone()[0]
    # each sample evaluated exactly once across the kill: the committed one kept, the rest run after the resume
    assert runs == [(0, "compile_error"), (1, "correct"), (2, "wrong_output")] and status == "done"
    report = json.loads((out / "report.json").read_text())
    m = report["metrics"]
    # one task, n=3 samples, c=1 correct: pass@1 = 1 - C(2,1)/C(3,1) = 1/3; pass@3 = 1 - C(2,3)/C(3,3) = 1
    # best-of-samples: compiled and correct -> CSR = FCR = 100
    assert abs(m["pass@1"] - 100 / 3) < 1e-9 and m["pass@3"] == 100.0 and (m["csr"], m["fcr"]) == (100.0, 100.0)
    assert report["session"]["id"] == session_id and "pass@3" in stdout and "CSR" in stdout
    assert f"{session_id} (resumed)" in stderr and "abs: correct" in stderr  # the progress display, as lines off a terminal
    # the report command agrees with what the batch wrote; export writes the correct sample's kernel
    again = _mkb("report", session_id, "--db", str(db), "--out", str(tmp_path / "again"))
    assert again.returncode == 0 and json.loads((tmp_path / "again" / "report.json").read_text())["metrics"] == m
    export = _mkb("export", session_id, "--db", str(db), "--out", str(tmp_path / "exp"))
    assert export.returncode == 0, export.stderr
    assert (tmp_path / "exp" / "kernels" / "abs" / "MKBCandidate.cpp").read_text() == CORRECT
    listing = json.loads(_mkb("sessions", "--db", str(db), "--json").stdout)
    assert listing[0]["id"] == session_id and listing[0]["done"] == listing[0]["tasks"] == 1


def test_token_budget_stops_the_session_cleanly(pipeline, tmp_path):
    # the draft (400 output tokens) and the Debugger's answer spend a 300-token budget: no second iteration starts
    model = _script(tmp_path / "b.jsonl", [
        {"role": "coder", "text": answer(BAD["syntax_error"][0]), "input_tokens": 100, "output_tokens": 400},
        {"role": "debugger", "text": '```json\n{"local_error_suggestion": "add the semicolon", "crossfile_error_suggestion": "none"}\n```'},
        {"role": "coder", "text": answer(CORRECT)},
    ])  # fmt: skip
    db, out = tmp_path / "mkb.sqlite", tmp_path / "out"
    proc = _batch("--tasks", "abs,neg", "--model", model, "--iterations", "3", "--budget-tokens", "300", "--db", str(db), "--out", str(out))
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]  # the harness worked: stopping at the budget is not a failure
    with sqlite3.connect(db) as con:
        status, tokens = con.execute("SELECT status, tokens FROM sessions").fetchone()
        runs = con.execute("SELECT task_id, verdict FROM runs").fetchall()
    assert status == "budget" and tokens >= 500 and runs == [("abs", "compile_error")]
    m = json.loads((out / "report.json").read_text())["metrics"]
    assert (m["tasks"], m["csr"], m["fcr"]) == (2, 0.0, 0.0)  # neg was planned and never reached: still in the denominator
    listing = json.loads(_mkb("sessions", "--db", str(db), "--json").stdout)[0]
    assert (listing["status"], listing["done"]) == ("budget", 0)  # abs stopped early, not finished

    # resumed as it was, the budget is still spent (it covers the whole session): nothing more runs
    same = _batch("--resume", "latest", "--db", str(db), "--out", str(out))
    _, stderr = same.communicate(timeout=300)
    assert same.returncode == 0, stderr[-3000:]
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1 and con.execute("SELECT status FROM sessions").fetchone()[0] == "budget"

    # resumed with a bigger budget, abs continues at iteration 1 with the repaired kernel; then the recorded
    # responses run out (no Accelerator answer, nothing for neg): the provider failed, so the run is incomplete (exit 1)
    resumed = _batch("--resume", "latest", "--budget-tokens", "100000", "--db", str(db), "--out", str(out))
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 1 and "the model provider failed on abs, neg" in stderr, stderr[-3000:]
    with sqlite3.connect(db) as con:
        runs = con.execute("SELECT task_id, iteration, verdict FROM runs ORDER BY id").fetchall()
    assert runs == [("abs", 0, "compile_error"), ("abs", 1, "correct")]
    m = json.loads((out / "report.json").read_text())["metrics"]
    assert (m["tasks"], m["csr"], m["fcr"]) == (2, 50.0, 50.0)  # the report is still written


def test_batch_bad_input_is_one_error_line(tmp_path):
    model = _script(tmp_path / "m.jsonl", [{"text": "x"}])
    db = str(tmp_path / "db.sqlite")
    for args, message in [
        (["--tasks", "abs", "--model", model, "--device", "toaster"], "unknown device 'toaster'"),
        (["--tasks", "abs", "--model", model, "--method", "pass@3", "--k", "5"], "disagree"),
        (["--tasks", "abs", "--model", model, "--method", "moka", "--k", "5"], "--k applies to --method pass@k"),
        (["--tasks", "abs", "--model", model, "--iterations", "0"], "--iterations must be at least 1"),
        (["--tasks", "abs", "--model", model, "--budget-usd", "-1"], "--budget-usd must be positive"),
        (["--tasks", "abs"], "needs --tasks and --model"),
        (["--resume", "nope"], "no session 'nope'"),
    ]:
        proc = _batch(*args, "--db", db, "--out", str(tmp_path / "out"))
        _, stderr = proc.communicate(timeout=120)
        code = 2 if args[0] == "--resume" else 1  # a session ref naming nothing is a usage error (issue 21)
        assert proc.returncode == code and message in stderr and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, (args, stderr)
    assert not (tmp_path / "out").exists()  # nothing written for refused input


def test_harness_crash_is_one_line_with_a_log_and_resumable(mnn, tmp_path):
    # a recorded response whose token count is not a number makes the provider itself fail: a harness crash, not a kernel's
    model = _script(tmp_path / "m.jsonl", [{"role": "coder", "text": answer(CORRECT), "output_tokens": "many"}])
    db, out = tmp_path / "db.sqlite", tmp_path / "out"
    proc = _batch("--tasks", "abs", "--model", model, "--db", str(db), "--out", str(out))
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 3 and "harness failure: ValueError" in stderr and "Traceback" not in stderr, stderr
    assert "Traceback" in (out / "batch-error.log").read_text() and "--resume" in stderr
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT status FROM sessions").fetchone()[0] == "error"


def test_moka_killed_mid_build_redoes_only_that_step(pipeline, tmp_path):
    import uuid

    from tests.agents.scripted import RESPONSES

    # draft with a compile error, Debugger fix, repaired kernel, plan, faster kernel. The repaired kernel carries a fresh
    # comment so ccache cannot answer its build at once: the kill below lands while it compiles, even on a busy machine
    responses = [dict(r) for r in RESPONSES]
    responses[2]["text"] = responses[2]["text"].replace("MKBCandidate.cpp\n", f"MKBCandidate.cpp\n// run {uuid.uuid4()}\n", 1)
    model = _script(tmp_path / "s.jsonl", responses)
    db, out = tmp_path / "mkb.sqlite", tmp_path / "out"
    proc = _batch("--tasks", "abs", "--model", model, "--iterations", "3", "--db", str(db), "--out", str(out))
    # kill -9 once iteration 1's kernel is committed: its build is in flight
    kill_when_stored(proc, db, "SELECT count(*) FROM events WHERE kind='kernel' AND iteration=1")
    with sqlite3.connect(db) as con:
        session_id = con.execute("SELECT id FROM sessions").fetchone()[0]
        before = con.execute("SELECT iteration, verdict FROM runs ORDER BY id").fetchall()
    assert before == [(0, "compile_error")]  # iteration 1 was in flight: no verdict committed for it

    listing = json.loads(_mkb("sessions", "--db", str(db), "--json").stdout)
    assert listing[0]["status"] == "interrupted"
    resumed = _batch("--resume", session_id, "--db", str(db), "--out", str(out))
    stdout, stderr = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, stderr[-3000:]
    with sqlite3.connect(db) as con:
        runs = con.execute("SELECT iteration, verdict FROM runs ORDER BY id").fetchall()
        kernels = con.execute("SELECT iteration FROM kernels ORDER BY id").fetchall()
        status = con.execute("SELECT status FROM sessions").fetchone()[0]
    # iteration 0 kept, iteration 1 redone (its first kernel stays in the history), iteration 2 run: one verdict each
    assert runs == [(0, "compile_error"), (1, "correct"), (2, "correct")] and status == "done"
    assert [k[0] for k in kernels] == [0, 1, 1, 2]
    m = json.loads((out / "report.json").read_text())["metrics"]
    assert (m["csr"], m["fcr"], m["pass@1"]) == (100.0, 100.0, 100.0)
    # a speedup counts towards the geomean unless its timing is under doubt (a busy machine flags some unstable)
    with sqlite3.connect(db) as con:
        correct = [json.loads(p) for (p,) in con.execute("SELECT payload FROM events WHERE kind='verdict'")]
    correct = [v for v in correct if v["verdict"] == "correct" and v.get("speedup") is not None]
    assert correct
    assert (m["geomean_speedup"] is not None) == any(not doubts(v["flags"]) for v in correct), [v["flags"] for v in correct]
