"""The judge's host side on simulated runner processes: what it concludes from the outputs and times it is given."""

import asyncio
import json
import random
import shutil
from pathlib import Path

import numpy as np

from mkb_tui.bench.tensorfile import read_tensors, write_tensors
from mkb_tui.device.base import ProcResult
from mkb_tui.engine.measure import Judge, TimedModels, TimingPlan
from mkb_tui.engine.runner_report import output_hash
from mkb_tui.engine.schedule import InputSet
from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind


class FakeDevice:
    """Runs plans the way the real runner does, with outputs and clocks chosen by the test: `cheat(process, run, kept)`
    says whether the candidate returns garbage in that run (`kept`: whether the plan writes its outputs, which the
    real runner holds in memory); `claimed`/`true` are its per-run times (ms); `flip(process, run)` flips the last bit
    of the run's first value (nondeterminism)."""

    def __init__(self, root: Path, sets: list[InputSet], cheat=lambda process, run, kept: False, claimed: float = 0.5, true: float = 0.5,
                 flip=lambda process, run: False, rewrite_report: bool = False) -> None:  # fmt: skip
        self.root, self.sets, self.cheat, self.claimed, self.true, self.flip = root, sets, cheat, claimed, true, flip
        self.rewrite_report = rewrite_report
        self.by_remote = {s.remote: s for s in sets}
        self.candidate_processes = 0
        self.rng = random.Random(0)

    async def run(self, side: str, plan: str) -> ProcResult:
        lines = [l.split() for l in plan.splitlines()]
        inputs = [l[1] for l in lines if l[0] == "input"]
        record = next((l[1] for l in lines if l[0] == "record"), None)
        runs = [(int(l[1]), len(l) > 2) for l in lines if l[0] == "run"]
        process = self.candidate_processes
        if side == "candidate":
            self.candidate_processes += 1
        kept, hashes = [], []
        for i, (index, keep) in enumerate(runs):
            outputs = []
            for name, array in read_tensors(self.by_remote[inputs[index]].reference):
                if side == "candidate" and self.cheat(process, i, keep):
                    array = np.full_like(array, np.nan)
                if side == "candidate" and self.flip(process, i) and not outputs:
                    array = array.copy()
                    array.reshape(-1).view(np.uint32)[0] ^= 1
                outputs.append((name, array))
            hashes.append(output_hash([a for _, a in outputs]))
            if keep:
                kept += [(f"{i}:{name}", array) for name, array in outputs]
        if record:
            write_tensors(self.root / record.replace("/", "_"), kept)
        claimed, true = (1.0, 1.0) if side == "baseline" else (self.claimed, self.true)
        times_ns = [round(claimed * self.rng.uniform(0.99, 1.01) * 1e6) for _ in runs]
        raw_ns = [round((true * self.rng.uniform(0.99, 1.01) + 0.01) * 1e6) for _ in runs]
        times, raw = [t / 1e6 for t in times_ns], [t / 1e6 for t in raw_ns]
        wall = 0.030 + self.rng.uniform(-1e-4, 1e-4) + sum(raw) / 1000.0
        report = {"ok": True, "clock": "vdso", "times_ms": times, "timed_ms": sum(times), "raw_ms": raw, "hashes": hashes}
        if side == "candidate":
            report["candidate_proof"] = {"creations": 1, "executions": len(runs), "nulls": 0}
        streamed = "".join(f"\nmkbrun {i} {t} {w}\n" for i, (t, w) in enumerate(zip(times_ns, raw_ns)))
        if side == "candidate" and self.rewrite_report:  # the report's times halved after the runs: a rewrite in memory
            report["times_ms"] = [t / 2 for t in times]
        return ProcResult(0, streamed + json.dumps(report) + "\n", "", wall)

    async def pull(self, remote: str, local: Path) -> None:
        shutil.copy(self.root / remote.replace("/", "_"), local)


def _sets(tmp: Path) -> list[InputSet]:
    sets = []
    for i in range(16):
        ref = tmp / f"ref{i}.mkbt"
        write_tensors(ref, [("out0", np.random.default_rng(i).normal(size=(4, 8)).astype(np.float32))])
        sets.append(InputSet(f"seed {i}" if i < 5 else f"secret input {i - 4}", f"inputs/t/{i}.mkbt", ref, i < 5))
    return sets


def _judge(tmp: Path, device: FakeDevice, sets) -> Judge:
    return Judge(task_id="t", tolerance=1e-4, sets=sets, models=TimedModels("models/m.mnn", "models/m.mnn"), run=device.run,
                 pull=device.pull, timing=TimingPlan(rounds=12, max_rounds=12), threads=1, precision="high", emulated=False,
                 lenient=False, plausible=10.0, scratch=tmp, rng=random.Random(5))  # fmt: skip


def _evaluate(tmp: Path, **kw) -> Verdict:
    sets = _sets(tmp)
    judge = _judge(tmp, FakeDevice(tmp, sets, **kw), sets)
    verdict = Verdict("t", VerdictKind.RUNTIME_ERROR)

    async def go():
        if await judge.verify(verdict, require_proof=True, timeout=10):
            await judge.time(verdict, 10)

    asyncio.run(go())
    return verdict


def test_an_honest_candidate_gets_its_speedup(tmp_path):
    verdict = _evaluate(tmp_path)
    assert verdict.kind is VerdictKind.CORRECT and "5 seeds and 4 secret inputs" in verdict.message
    assert abs(verdict.speedup - 2.0) < 0.05 and "timing_mismatch" not in verdict.flags
    assert verdict.timing_check["checked_runs"] >= 9 + 4 and verdict.timing_check["clock"] == "vdso"


def test_computing_less_while_timed_is_wrong_output(tmp_path):
    # an impossible oracle cheat (it knows which process verifies): honest there, garbage in half the timed runs
    verdict = _evaluate(tmp_path, cheat=lambda process, run, kept: process > 0 and run % 2 == 0)
    assert verdict.kind is VerdictKind.WRONG_OUTPUT and verdict.speedup is None
    assert "the timed runs' outputs differed from the reference" in verdict.message


def test_wrong_in_verification_names_the_input(tmp_path):
    verdict = _evaluate(tmp_path, cheat=lambda process, run, kept: True)
    assert verdict.kind is VerdictKind.WRONG_OUTPUT and verdict.message.startswith(("seed ", "secret input "))


def test_a_lying_clock_gets_no_speedup(tmp_path):
    verdict = _evaluate(tmp_path, claimed=0.1, true=1.0)  # says 10x, computes like the baseline
    assert verdict.kind is VerdictKind.CORRECT
    assert "timing_mismatch" in verdict.flags and verdict.speedup is None
    loop = next(c for c in verdict.timing_check["crosschecks"] if c["witness"] == "loop")
    assert loop["mismatch"] and loop["claimed_ms"] > 0.8 and abs(loop["seen_ms"]) < 0.1
    assert "reverified" not in verdict.flags


def test_a_suspicious_speedup_that_holds_is_reverified(tmp_path):
    verdict = _evaluate(tmp_path, claimed=0.05, true=0.05)  # really 20x
    assert "suspicious_speedup" in verdict.flags and "reverified" in verdict.flags
    assert verdict.speedup > 15 and verdict.timing_check["reverify_speedup"] > 15


def test_a_run_whose_outputs_are_not_written_is_still_checked(tmp_path):
    # a kernel that knows which runs the plan keeps (the plan sits in the runner's memory) and skips the others: their
    # outputs are never written, but their hashes are not the verified output's for the same input
    verdict = _evaluate(tmp_path, cheat=lambda process, run, kept: not kept and run >= 8)
    assert verdict.kind is VerdictKind.WRONG_OUTPUT and verdict.speedup is None
    assert "the timed runs' outputs differed from the reference" in verdict.message and "not the output verified" in verdict.message


def test_every_run_is_matched_to_a_verified_output(tmp_path):
    verdict = _evaluate(tmp_path)
    runs = verdict.timing_check["hash_matched_runs"]
    assert runs > 3 * verdict.timing_check["checked_runs"]  # far more runs matched than written


def test_nondeterministic_outputs_fail(tmp_path):
    # a later process gives a last-bit different output for some run: within tolerance, but not the same bits
    verdict = _evaluate(tmp_path, flip=lambda process, run: process == 2)
    assert verdict.kind in (VerdictKind.RUNTIME_ERROR, VerdictKind.WRONG_OUTPUT), verdict.message
    assert "nondeterministic" in verdict.message, verdict.message


def test_output_hash_matches_the_runner_definition():
    # per tensor: sum of little-endian u64 words times 1, 3, 5... mod 2^64, folded with the byte count
    a = np.arange(3, dtype=np.float32)  # 12 bytes: one full word and a half one
    raw = a.tobytes() + b"\0" * 4
    w0, w1 = int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")
    assert output_hash([a]) == f"{(w0 * 1 + w1 * 3 + 12) % (1 << 64):016x}"
    big = np.full(4, 0xFFFFFFFFFFFFFFFF, dtype=np.uint64)  # wraps mod 2^64 like the C++ side
    assert output_hash([big]) == f"{(((1 << 64) - 1) * (1 + 3 + 5 + 7) + 32) % (1 << 64):016x}"


def test_a_report_rewritten_after_the_runs_is_a_failed_run(tmp_path):
    """The runner streams each run's times as the run ends; a report whose times differ (halved in the runner's memory
    before it was printed) is the candidate's runtime_error, with no speedup."""
    verdict = _evaluate(tmp_path, rewrite_report=True)
    assert verdict.kind is VerdictKind.RUNTIME_ERROR and verdict.speedup is None
    assert "rewritten in memory" in verdict.message


def test_streamed_lines_must_match_the_report_one_for_one():
    from mkb_tui.engine.runner_report import parse_runner_output

    report = {"ok": True, "times_ms": [0.5, 0.25], "raw_ms": [0.6, 0.3]}
    good = "\nmkbrun 0 500000 600000\nkernel debug line\nmkbrun 1 250000 300000\n" + json.dumps(report)
    assert parse_runner_output(good) == report
    missing = "\nmkbrun 0 500000 600000\n" + json.dumps(report)
    forged = "\nmkbrun 0 500000 600000\nmkbrun 0 100 100\nmkbrun 1 250000 300000\n" + json.dumps(report)
    for stdout in (missing, forged, json.dumps(report)):
        assert parse_runner_output(stdout)["ok"] is False
