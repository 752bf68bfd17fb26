"""CLI tests for issue 21's defect 15: each runs the issue's command (or its formatter) and checks what a person reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind
from tests.cli.test_pipes import mkb, store_two_sessions

ROOT = Path(__file__).resolve().parents[2]


def test_oracle_fail_line_says_the_witnesses_in_words_not_a_python_list():
    from mkb_tui.cli.engine_cmd import oracle_message

    raw = ("timing_mismatch on MNN's own kernel: [{'witness': 'perf', 'mismatch': True, 'resolved': True, 'claimed_ms': 0.004, "
           "'seen_ms': 0.0005}]")  # fmt: skip
    line = oracle_message(raw)
    assert line == "timing_mismatch on MNN's own kernel: perf witness contradicts (claimed 4.00 us/run gain, seen 0.50)"
    assert "[" not in line and "{" not in line
    assert oracle_message("compile_error: x.cpp:3: [bad]") == "compile_error: x.cpp:3: [bad]"  # other messages as they are


def test_eval_says_what_the_bound_applies_to_beside_a_larger_plain_rel_error():
    from mkb_tui.cli.engine_cmd import verdict_table

    v = Verdict("abs", VerdictKind.CORRECT, "all 4 seeds and 2 secret inputs within 0.001", max_abs_error=1e-6, max_rel_error=0.008,
                accuracy={"error": 4e-7, "native_error": 3e-7, "bound": 0.001, "tolerance": 0.001})  # fmt: skip
    console = Console(width=200, record=True)
    console.print(verdict_table(v))
    row = next(line for line in console.export_text().splitlines() if "max abs / rel error" in line)
    assert "0.008" in row and "the tolerance bounds the scaled error (4e-07), not these" in row


def test_eval_says_each_flag_with_its_meaning_and_the_withheld_figure():
    from mkb_tui.cli.engine_cmd import verdict_table
    from mkb_tui.vocabulary.flags import Flag

    v = Verdict("abs", VerdictKind.CORRECT, "ok", flags=[Flag.TIMING_IMPOSSIBLE], timed_speedup=41.5, node="worker/ab12", attempts=2)
    console = Console(width=220, record=True)
    console.print(verdict_table(v))
    text = console.export_text()
    assert f"timing_impossible: {Flag.TIMING_IMPOSSIBLE.meaning}" in text
    assert "measured, not credited" in text and "41.500x" in text
    assert "worker/ab12 (attempt 2)" in text


def test_piped_batch_does_not_wrap_and_says_1_task(tmp_path):
    from tests.agents.test_service import MOKA, script

    model = script(tmp_path, MOKA)
    env = {**os.environ, "MKB_FAKE_SECONDS": "0", "PYTHONPATH": str(ROOT), "COLUMNS": "80", "MKB_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "agents" / "fake_batch.py"), "--batch", "--tasks", "abs", "--model", model,
                          "--iterations", "3", "--db", str(tmp_path / "b.sqlite"), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    first = out.stderr.splitlines()[0]
    assert ": 1 task, " in first and "1 tasks" not in out.stderr
    assert len(first) > 80 and first.startswith("session ") and ", device " in first  # one line, not wrapped at 80


def test_tasks_list_with_an_unknown_category_exits_non_zero_with_one_line():
    out = mkb("tasks", "list", "--category", "Nope")
    assert out.returncode == 1 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no category 'Nope'" in lines[0] and "Unary" in lines[0]
    close = mkb("tasks", "list", "--category", "Unar")
    assert close.returncode == 1 and "did you mean Unary?" in close.stderr


def test_an_unknown_task_id_gets_a_did_you_mean():
    out = mkb("tasks", "show", "softmx_axis1")
    assert out.returncode == 1
    assert out.stderr.strip().startswith("mkb-tui: error: unknown task 'softmx_axis1': did you mean softmax_axis1") and len(out.stderr.strip().splitlines()) == 1
    far = mkb("tasks", "show", "no_such_task")
    assert far.stderr.strip() == "mkb-tui: error: unknown task 'no_such_task' (see `mkb-tui tasks list`)"  # nothing close: no guess


def test_report_of_a_session_writes_no_files_unless_asked(tmp_path):
    db = tmp_path / "s.sqlite"
    ids = store_two_sessions(db)
    out = mkb("report", ids[0], "--db", str(db), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "out").exists() and "no files written" in out.stdout
    asked = mkb("report", ids[0], "--db", str(db), "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert asked.returncode == 0 and (tmp_path / "r" / "report.json").exists() and "wrote" in asked.stdout


def test_doctor_shows_progress_and_says_no_phone_when_adb_sees_none(tmp_path):
    """`doctor` was silent for 22 s and said `phones ok` with adb and no phone. A fake adb that lists no device."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    adb = bin_dir / "adb"
    adb.write_text("#!/bin/sh\nprintf 'List of devices attached\\n\\n'\n")
    adb.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "COLUMNS": "200", "MKB_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "doctor", "--no-oracle"], capture_output=True, text=True, env=env, timeout=120)
    row = next(line for line in out.stdout.splitlines() if "phones (adb)" in line)
    assert "no phone" in row and "adb found, no phone attached" in row and " ok " not in row
    from mkb_tui.cli.engine_cmd import attached_phones

    os.environ["PATH"], saved = f"{bin_dir}:{os.environ['PATH']}", os.environ["PATH"]
    try:
        assert attached_phones() == []
        adb.write_text("#!/bin/sh\nprintf 'List of devices attached\\nR58M123\\tdevice\\nEMU1\\toffline\\n\\n'\n")
        assert attached_phones() == ["R58M123"]
    finally:
        os.environ["PATH"] = saved
