"""Issue 21: `mkb-tui --batch --jsonl-progress`: one JSON object a line on stdout per progress event, read off the one
session view (so a doubted speedup is said and never a best), and every human line on stderr."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from mkb_tui.cli.batch_cmd import Progress
from mkb_tui.cli.jsonl_progress import JsonlProgress
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

ROOT = Path(__file__).resolve().parents[2]


def records(events: list[Event]) -> list[dict]:
    progress, out = Progress(["abs"]), io.StringIO()
    jsonl = JsonlProgress(progress.state, "s1", out)
    for event in events:
        progress(event)
        jsonl(event)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_doubted_speedup_is_said_with_its_flags_and_is_never_the_best():
    got = records([
        Event(ev.TASK_STARTED, {"category": "Unary", "op": "Abs"}, "abs"),
        Event(ev.STAGE, {"stage": "building"}, "abs", 0),
        Event(ev.STAGE, {"stage": "building"}, "abs", 0),  # the same status again: no second record
        Event(ev.TASK_STARTED, {"category": "Unary"}, "relu"),  # not one of this run's tasks
        Event(ev.VERDICT, {"verdict": "correct", "speedup": 5.0, "flags": ["suspicious_speedup"]}, "abs", 0),
        Event(ev.TASK_FINISHED, {"verdict": "correct"}, "abs"),
    ])  # fmt: skip
    assert [r["event"] for r in got] == ["task_started", "status", "verdict", "task_done"]
    assert all(r["session"] == "s1" and r["task"] == "abs" for r in got) and len({frozenset(r) for r in got}) == 1  # the same keys in each
    verdict = got[2]
    assert (verdict["verdict"], verdict["speedup"], verdict["flags"], verdict["best_speedup"]) == ("correct", 5.0, ["suspicious_speedup"], None)
    assert verdict["doubt"].startswith("suspicious_speedup: ")
    assert (got[3]["status"], got[3]["verdict"], got[3]["best_speedup"]) == ("done", "correct", None)


def test_batch_writes_json_lines_on_stdout_and_the_text_on_stderr(tmp_path):
    from tests.agents.test_service import MOKA, script

    model = script(tmp_path, MOKA)
    env = {**os.environ, "MKB_FAKE_SECONDS": "0", "PYTHONPATH": str(ROOT), "MKB_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "agents" / "fake_batch.py"), "--batch", "--tasks", "abs", "--model", model,
                          "--iterations", "3", "--db", str(tmp_path / "b.sqlite"), "--out", str(tmp_path / "out"), "--jsonl-progress"],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [json.loads(line) for line in out.stdout.splitlines()]  # every stdout line is JSON
    kinds = [r["event"] for r in lines]
    assert kinds[0] == "session_started" and kinds[1] == "task_started" and kinds[-2:] == ["task_done", "session_done"]
    verdicts = [(r["iteration"], r["verdict"], r["speedup"]) for r in lines if r["event"] == "verdict"]
    assert verdicts == [(0, "compile_error", None), (1, "correct", 1.2), (2, "correct", 2.0)]  # MOKA's script, as judged
    assert "awaiting approval" in [r["status"] for r in lines if r["event"] == "status"]
    assert (lines[-2]["best_speedup"], lines[-1]["status"], lines[-1]["metrics"]["geomean_speedup"]) == (2.0, "done", 2.0)
    assert out.stderr.startswith(f"session {lines[0]['session']}: 1 task") and "geomean" in out.stderr and "wrote " in out.stderr
