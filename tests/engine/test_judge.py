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
from mkb_tui.engine.schedule import InputSet
from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind


class FakeDevice:
    """Runs plans the way the real runner does, with outputs and clocks chosen by the test: `cheat(process, run)`
    says whether the candidate returns garbage in that run; `claimed`/`true` are its per-run times (ms)."""

    def __init__(self, root: Path, sets: list[InputSet], cheat=lambda process, run: False, claimed: float = 0.5, true: float = 0.5) -> None:
        self.root, self.sets, self.cheat, self.claimed, self.true = root, sets, cheat, claimed, true
        self.by_remote = {s.remote: s for s in sets}
        self.candidate_processes = 0
        self.rng = random.Random(0)
        self.argvs: list[str] = []

    async def run(self, side: str, plan: str) -> ProcResult:
        lines = [l.split() for l in plan.splitlines()]
        inputs = [l[1] for l in lines if l[0] == "input"]
        record = next((l[1] for l in lines if l[0] == "record"), None)
        runs = [(int(l[1]), len(l) > 2) for l in lines if l[0] == "run"]
        process = self.candidate_processes
        if side == "candidate":
            self.candidate_processes += 1
        kept = []
        for i, (index, keep) in enumerate(runs):
            if keep:
                for name, array in read_tensors(self.by_remote[inputs[index]].reference):
                    if side == "candidate" and self.cheat(process, i):
                        array = np.full_like(array, np.nan)
                    kept.append((f"{i}:{name}", array))
        if record:
            write_tensors(self.root / record.replace("/", "_"), kept)
        claimed, true = (1.0, 1.0) if side == "baseline" else (self.claimed, self.true)
        times = [claimed * self.rng.uniform(0.99, 1.01) for _ in runs]
        raw = [true * self.rng.uniform(0.99, 1.01) + 0.01 for _ in runs]
        wall = 0.030 + self.rng.uniform(-1e-4, 1e-4) + sum(raw) / 1000.0
        report = {"ok": True, "clock": "vdso", "times_ms": times, "timed_ms": sum(times), "raw_ms": raw}
        if side == "candidate":
            report["candidate_proof"] = {"creations": 1, "executions": len(runs), "nulls": 0}
        return ProcResult(0, json.dumps(report) + "\n", "", wall)

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
    verdict = _evaluate(tmp_path, cheat=lambda process, run: process > 0 and run % 2 == 0)
    assert verdict.kind is VerdictKind.WRONG_OUTPUT and verdict.speedup is None
    assert "the timed runs' outputs differed from the reference" in verdict.message


def test_wrong_in_verification_names_the_input(tmp_path):
    verdict = _evaluate(tmp_path, cheat=lambda process, run: True)
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


def test_nondeterministic_outputs_fail(tmp_path):
    sets = _sets(tmp_path)
    device = FakeDevice(tmp_path, sets)
    runs_seen = []
    original = device.run

    async def noisy(side, plan):
        result = await original(side, plan)
        if side == "candidate" and device.candidate_processes > 1:  # a later process: last bit flipped in one output
            record = next(l.split()[1] for l in plan.splitlines() if l.startswith("record"))
            path = tmp_path / record.replace("/", "_")
            tensors = read_tensors(path)
            if tensors:
                name, array = tensors[0]
                array = array.copy()
                array.view(np.uint32)[0, 0] ^= 1
                tensors[0] = (name, array)
                write_tensors(path, tensors)
                runs_seen.append(name)
        return result

    device.run = noisy
    judge = _judge(tmp_path, device, sets)
    verdict = Verdict("t", VerdictKind.RUNTIME_ERROR)

    async def go():
        assert await judge.verify(verdict, require_proof=True, timeout=10)
        await judge.time(verdict, 10)

    asyncio.run(go())
    # a flipped last bit is within tolerance, but differs from the same input's earlier output
    assert runs_seen
    assert verdict.kind is VerdictKind.RUNTIME_ERROR and "nondeterministic" in verdict.message, verdict.message
