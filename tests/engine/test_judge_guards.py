"""The judge's last guards: no exception escapes Pipeline.evaluate (a kernel must never end `mkb-tui eval` or a batch
sweep in a traceback), and the preprocessed unit is bounded before the harness reads it (issue 17, classes 20, 24)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from mkb_tui.engine import build_check
from mkb_tui.engine.pipeline import Pipeline
from mkb_tui.engine.slots import CANDIDATE_CPP, CANDIDATE_HPP, Slot
from mkb_tui.errors import MkbError
from mkb_tui.vocabulary.verdicts import KernelCandidate, VerdictKind


class _Device:
    name, emulated, restored = "fake", False, ()

    def containment_flags(self):
        return []

    async def end_runs(self):
        return None


def _pipeline(raising: BaseException, phase: str | None) -> Pipeline:
    """A Pipeline around a fake device whose evaluation raises `raising` inside `phase` (None: before any phase)."""
    pipeline = object.__new__(Pipeline)
    pipeline.device, pipeline.threads, pipeline.precision, pipeline.in_flight = _Device(), 1, "high", 0
    pipeline.target = SimpleNamespace(name="host")

    async def _evaluate(task, candidate, verdict, say, static):
        if phase is None:
            raise raising
        with verdict.phase(phase):
            raise raising

    pipeline._evaluate = _evaluate
    return pipeline


TASK = SimpleNamespace(id="abs", native_incorrect_for=lambda target: False)


@pytest.mark.parametrize("exc", [KeyError(77), UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"), TypeError("x"),
                                 IndexError("list index out of range"), ZeroDivisionError()])  # fmt: skip
def test_an_unexpected_error_after_the_candidate_ran_is_a_runtime_error(exc):
    verdict = asyncio.run(_pipeline(exc, "verify").evaluate(TASK, KernelCandidate({})))
    assert verdict.kind is VerdictKind.RUNTIME_ERROR and verdict.speedup is None
    assert type(exc).__name__ in verdict.message and type(exc).__name__ in verdict.log
    assert "Traceback" not in verdict.log and "test_judge_guards.py" in verdict.log  # where, not a traceback


def test_an_unexpected_error_before_the_candidate_ran_says_nothing_of_the_kernel():
    verdict = asyncio.run(_pipeline(KeyError("secret 1.2345"), "static").evaluate(TASK, KernelCandidate({})))
    assert verdict.kind is VerdictKind.DEVICE_ERROR and "KeyError" in verdict.message
    assert "1.2345" not in verdict.message + verdict.log  # the exception's text is never shown (it may quote data)


def test_harness_errors_and_cancellation_still_propagate():
    with pytest.raises(MkbError):
        asyncio.run(_pipeline(MkbError("the pristine MNN build failed"), None).evaluate(TASK, KernelCandidate({})))
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(_pipeline(asyncio.CancelledError(), "verify").evaluate(TASK, KernelCandidate({})))


SLOT = Slot("abs", "cpu", "UnaryOp", "ABS", (CANDIDATE_CPP,), (CANDIDATE_HPP,),
            ("source/backend/cpu/CPUUnary.cpp", "source/backend/cpu/CPUUnary.hpp"), "CPUUnaryCreator")  # fmt: skip


def test_a_preprocessed_flood_is_refused_unread(tmp_path, monkeypatch):
    obj = tmp_path / "build" / "MKBCandidate.cpp.o"
    obj.parent.mkdir()
    ii = obj.with_suffix(".ii")
    with open(ii, "wb") as f:
        f.truncate(170 << 20)  # 170 MB (sparse): what a header flood makes of a kernel
    judged = build_check.JudgedSource(CANDIDATE_CPP, tmp_path / CANDIDATE_CPP, obj)
    judged_texts = []
    monkeypatch.setattr(build_check, "source_findings", lambda j, text, *a, **k: judged_texts.append(len(text)) or [])
    findings = asyncio.run(build_check.judge_preprocessed([judged], SLOT, src=tmp_path, build_dir=obj.parent, compiler="g++",
                                                          oracle=False, built=False))  # fmt: skip
    assert [f.rule for f in findings] == ["size"] and "16 MiB" in findings[0].message
    assert judged_texts == []  # never parsed


def test_read_unit_reads_no_more_than_its_bound(tmp_path, monkeypatch):
    ii = tmp_path / "k.ii"
    ii.write_bytes(b"# 1 \"k.cpp\"\nint f();\n")
    assert build_check.read_unit(ii) == "# 1 \"k.cpp\"\nint f();\n"
    assert build_check.read_unit(ii, limit=8) is None
    # a unit that grows between its stat and its read: the read stops one byte past the bound
    monkeypatch.setattr(Path, "stat", lambda self, **kw: SimpleNamespace(st_size=0))
    big = tmp_path / "grown.ii"
    with open(big, "wb") as f:
        f.truncate(64 << 20)
    assert build_check.read_unit(big, limit=1 << 20) is None
