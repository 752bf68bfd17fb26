"""The judge on plan-2 processes (the channel): what it concludes from what a simulated supervisor measured. The
runner's own clock and report are the candidate's to write; only the supervisor's figures may decide."""

import asyncio
import base64
import hashlib
import json
import random
from pathlib import Path

import numpy as np

from mkb_tui.bench.tensorfile import read_tensors, write_tensors
from mkb_tui.device.base import ProcResult
from mkb_tui.engine.measure import Judge, TimedModels, TimingPlan
from mkb_tui.engine.schedule import InputSet
from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind

FIXED_ROUNDS = TimingPlan(rounds=12, max_rounds=12, settle_ci=0)  # no settling: tests that count processes
OVERHEAD_MS = 0.05  # the runner's own cost per run (feeding, copying out): the same on both sides


class FakeSupervisor:
    """Plays a plan-2 process: `true` is the candidate's real CPU per run (ms), `claimed` what its own clock says,
    `setup_ms` its extra CPU outside the runs, `fail_secret` makes it fail with the secret inputs in its text."""

    def __init__(self, sets: list[InputSet], *, true=0.5, claimed=None, setup_ms=0.0, wrong_on=lambda run: False, fail_secret=False):
        self.by_sealed = {s.sealed: s for s in sets}
        self.true, self.claimed, self.setup_ms, self.wrong_on, self.fail_secret = true, claimed, setup_ms, wrong_on, fail_secret
        self.rng = random.Random(1)
        self.plans: list[str] = []
        self.calls: list[tuple[str, list[str]]] = []

    async def __call__(self, side: str, plan: str, sealed: list[str], keep: list[int], max_out: int) -> ProcResult:
        self.plans.append(plan)
        self.calls.append((side, list(sealed)))
        assert plan.startswith("mkbplan 2\n") and "input " not in plan and f"runs {len(sealed)}" in plan
        chosen = [self.by_sealed[name] for name in sealed]
        if side == "candidate" and self.fail_secret and any(not s.fixed for s in chosen):
            secret = read_tensors(next(s for s in chosen if not s.fixed).reference)[0][1].ravel()[:4]
            leak = " ".join(f"{v:.6f}" for v in secret)
            return ProcResult(1, json.dumps({"ok": False, "error": f"input was {leak}"}) + "\n", f"values {leak}\n", 0.1)
        runs, kept, inside = [], {}, []
        for r, s in enumerate(chosen):
            arrays = [a for _, a in read_tensors(s.reference)]
            if side == "candidate" and self.wrong_on(r):
                arrays = [np.zeros_like(a) for a in arrays]
            raw = b"".join(a.tobytes() for a in arrays)
            per_run = 1.0 if side == "baseline" else self.true
            cpu = (per_run + OVERHEAD_MS) * self.rng.uniform(0.99, 1.01)
            runs.append([round(cpu * 1e6), round(cpu * 1.02e6), 1000, hashlib.sha256(raw).hexdigest()])
            inside.append(per_run if side == "baseline" or self.claimed is None else self.claimed)
            if r in keep:
                kept[str(r)] = base64.b64encode(raw).decode()
        setup = 30.0 + (self.setup_ms if side == "candidate" else 0.0)
        total = sum(c + g for c, _, g, _ in runs) + round(setup * 1e6)
        shape = read_tensors(chosen[0].reference)[0][1].shape
        layout = f"R {len(raw)} 1 out0 0 {len(shape)} " + " ".join(str(d) for d in shape)
        streamed = "".join(f"\nmkbrun {i} {round(t * 1e6)} {round(t * 1e6)}\n" for i, t in enumerate(inside))
        report = {"ok": True, "clock": "vdso", "times_ms": inside, "raw_ms": inside, "hashes": []}
        if side == "candidate":
            report["candidate_proof"] = {"creations": 1, "executions": len(runs), "nulls": 0}
        channel = {"layout": layout, "runs": runs, "kept": kept, "total_cpu_ns": total, "error": None}
        return ProcResult(0, streamed + json.dumps(report) + "\n", "", total / 1e9 + 0.01, channel=channel)


def _sets(tmp: Path) -> list[InputSet]:
    sets = []
    for i in range(16):
        ref, inputs = tmp / f"ref{i}.mkbt", tmp / f"in{i}.mkbt"
        write_tensors(ref, [("out0", np.random.default_rng(i).normal(size=(4, 8)).astype(np.float32))])
        write_tensors(inputs, [("x", np.random.default_rng(100 + i).normal(size=(4, 8)).astype(np.float32))])
        fixed = i < 5
        sets.append(InputSet(f"seed {i}" if fixed else f"secret input {i - 4}", f"inputs/t/{i}.mkbt", ref, fixed, inputs=inputs,
                             sealed=f"t/in{i}.mkbt"))  # fmt: skip
    return sets


def _evaluate(tmp: Path, supervisor_class=None, timing: TimingPlan | None = None, **kw) -> tuple[Verdict, FakeSupervisor]:
    sets = _sets(tmp)
    supervisor = (supervisor_class or FakeSupervisor)(sets, **kw)

    async def never(side, plan):
        raise AssertionError("a channel judge never starts a plan-1 process")

    judge = Judge(task_id="t", tolerance=1e-4, sets=sets, models=TimedModels("models/m.mnn", "models/m.mnn"), run=never,
                  pull=None, timing=timing or TimingPlan(rounds=12, max_rounds=12), threads=1, precision="high", emulated=False,
                  lenient=False, plausible=10.0, scratch=tmp, rng=random.Random(5), channel=supervisor)  # fmt: skip
    verdict = Verdict("t", VerdictKind.RUNTIME_ERROR)

    async def go():
        if await judge.verify(verdict, require_proof=True, timeout=10):
            await judge.time(verdict, 10)

    asyncio.run(go())
    return verdict, supervisor


def test_an_honest_candidate_is_credited_by_the_outside_clock(tmp_path):
    verdict, _ = _evaluate(tmp_path, true=0.5)
    assert verdict.kind is VerdictKind.CORRECT and abs(verdict.speedup - 2.0) < 0.06, verdict.speedup
    assert verdict.timing_check["clock"] == "outside" and abs(verdict.timing_check["overhead_ms"] - OVERHEAD_MS) < 0.01


def test_a_forged_inside_clock_earns_nothing(tmp_path):
    # class 18: the candidate's own clock (and every witness in its address space) says 10x; it computes at 1.25x
    verdict, _ = _evaluate(tmp_path, true=0.8, claimed=0.1)
    assert verdict.kind is VerdictKind.CORRECT and abs(verdict.speedup - 1.25) < 0.05, verdict.speedup
    assert verdict.timing_check["inside_claim_ms"] < 0.2


def test_work_moved_out_of_the_runs_is_charged_to_them(tmp_path):
    # class 17's remainder: 40 ms of CPU outside the runs, against a 0.1 ms run: charged per counted run
    verdict, _ = _evaluate(tmp_path, true=0.1, setup_ms=40.0)
    assert verdict.timing_check["setup_charge_ms"] > 3.0 and verdict.speedup < 0.5, verdict.speedup
    honest, _ = _evaluate(tmp_path, true=0.1, setup_ms=1.0)  # start-up noise is not charged
    assert honest.timing_check["setup_charge_ms"] == 0.0 and honest.speedup > 9.0


def test_timed_runs_draw_from_the_secret_pool_only(tmp_path):
    _, supervisor = _evaluate(tmp_path, true=0.5)
    fixed = {f"t/in{i}.mkbt" for i in range(5)}
    (first_side, verification), *timing = supervisor.calls
    assert first_side == "candidate" and fixed <= set(verification)  # the verification holds every fixed seed
    assert len(timing) >= 10 and not any(fixed & set(sealed) for _, sealed in timing)  # a seed's inputs are public


def test_wrong_outputs_in_a_timed_run_are_caught_by_the_supervisors_hash(tmp_path):
    verdict, _ = _evaluate(tmp_path, true=0.5, wrong_on=lambda run: run == 9)
    assert verdict.kind is VerdictKind.WRONG_OUTPUT and verdict.speedup is None


def test_a_failure_holding_secret_inputs_says_nothing_of_them(tmp_path):
    # class 19: it fails on purpose with the secret inputs in its error text and its stderr
    sets = _sets(tmp_path)
    secrets = [f"{v:.6f}" for s in sets if not s.fixed for v in read_tensors(s.reference)[0][1].ravel()[:4]]
    verdict, _ = _evaluate(tmp_path, fail_secret=True)
    assert verdict.kind is VerdictKind.RUNTIME_ERROR
    text = verdict.message + verdict.log + json.dumps(verdict.timing_check, default=str)
    assert not any(v in text for v in secrets) and "withheld" in verdict.message
    assert "needs a secret input" in verdict.message  # the rerun on the fixed seeds alone passed


def test_a_slow_candidate_stops_early(tmp_path):
    verdict, supervisor = _evaluate(tmp_path, true=20.0)  # 20x slower than MNN's kernel
    assert verdict.kind is VerdictKind.CORRECT and verdict.speedup < 0.1
    assert verdict.timing_check["early_stop"] == 4 and "retimed" not in verdict.flags
    assert len(supervisor.calls) == 1 + 2 * 4  # the verification and four rounds


def test_the_device_time_budget_ends_an_evaluation_as_timeout(tmp_path, monkeypatch):
    from mkb_tui.engine import measure

    monkeypatch.setattr(measure, "BUDGET_MIN_S", 0.5)
    monkeypatch.setattr(measure, "BUDGET_FACTOR", 1.0)  # the budget: one native timing; the candidate needs 20
    verdict, _ = _evaluate(tmp_path, true=20.0)
    assert verdict.kind is VerdictKind.TIMEOUT and verdict.speedup is None
    assert "over its budget of" in verdict.message and "device time" in verdict.message


class _Drifting(FakeSupervisor):
    """A candidate whose real cost per run is `first` in its first `processes` processes and `then` after (two clean
    timings of one honest kernel that disagree by more than the re-check's agreement)."""

    def __init__(self, sets, *, first, then, processes):
        super().__init__(sets, true=first)
        self.first, self.then, self.processes, self.seen = first, then, processes, 0

    async def __call__(self, side, plan, sealed, keep, max_out):
        if side == "candidate":
            self.seen += 1
            self.true = self.first if self.seen <= self.processes else self.then
        return await super().__call__(side, plan, sealed, keep, max_out)


def test_two_clean_timings_that_disagree_credit_the_lower(tmp_path):
    # 15.5x then 12.6x, both clean (1% noise): above the plausible bound, so re-checked; each is a measurement of the
    # same honest kernel by the supervisor's clock, so the lower is credited, re-verified (it used to credit nothing, or the higher one)
    for first, then, lower in ((1 / 15.5, 1 / 12.6, 12.6), (1 / 12.6, 1 / 15.5, 12.6)):
        verdict, _ = _evaluate(tmp_path, _Drifting, first=first, then=then, processes=13)
        assert verdict.kind is VerdictKind.CORRECT and "reverified" in verdict.flags, (verdict.speedup, verdict.flags, verdict.timing_check)
        assert abs(verdict.speedup - lower) < 0.05 * lower, (verdict.speedup, verdict.timing_check.get("reverify_speedup"))


class _ByProcess(FakeSupervisor):
    """A candidate whose real cost per run is `cost(n)` in its n-th process (1: the verification)."""

    def __init__(self, sets, *, cost):
        super().__init__(sets, true=cost(1))
        self.cost, self.seen = cost, 0

    async def __call__(self, side, plan, sealed, keep, max_out):
        if side == "candidate":
            self.seen += 1
            self.true = self.cost(self.seen)
        return await super().__call__(side, plan, sealed, keep, max_out)


def test_a_disturbed_recheck_is_timed_again(tmp_path):
    # 20x, clean; the re-check's first attempt is disturbed halfway (its halves disagree by a fifth), the next is clean:
    # re-verified at 20x (a single disturbed re-check used to throw a confirmed figure away)
    disturbed = range(20, 26)  # the second half of the re-check's first attempt (processes 14-25)
    verdict, supervisor = _evaluate(tmp_path, _ByProcess, cost=lambda n: 1 / 16 if n in disturbed else 1 / 20)
    assert verdict.kind is VerdictKind.CORRECT and "reverified" in verdict.flags, (verdict.speedup, verdict.flags)
    assert abs(verdict.speedup - 20) < 1.0 and supervisor.seen > 25, (verdict.speedup, supervisor.seen)


def test_a_recheck_disturbed_every_time_confirms_the_lower_figure(tmp_path):
    # 15x, clean; every re-check is disturbed halfway (a loaded CI machine: erf credited nothing at 15.5x, its re-checks
    # 13.5x with their halves apart): every re-check output was compared, both clocks are the supervisor's, so the
    # lower figure is credited and re-verified, never the higher
    disturbed = {n for start in (14, 26, 38) for n in range(start + 6, start + 12)}  # by process: every round runs
    verdict, supervisor = _evaluate(tmp_path, _ByProcess, FIXED_ROUNDS, cost=lambda n: 1 / 11 if n in disturbed else 1 / 15)
    assert verdict.kind is VerdictKind.CORRECT and "reverified" in verdict.flags, (verdict.speedup, verdict.flags)
    assert "recheck_disturbed" in verdict.flags and supervisor.seen >= 49, (verdict.flags, supervisor.seen)
    again = verdict.timing_check["reverify_speedup"]
    assert again < 14.5 and verdict.speedup == again, (verdict.speedup, again)


def test_a_disturbed_first_timing_and_recheck_credit_nothing(tmp_path):
    # both timings disturbed: nothing is confirmed, the speedup stays doubted
    from mkb_tui.vocabulary.verdicts import doubts

    verdict, _ = _evaluate(tmp_path, _ByProcess, cost=lambda n: 1 / 11 if n % 12 >= 6 else 1 / 15)
    assert verdict.kind is VerdictKind.CORRECT and "reverified" not in verdict.flags, verdict.flags
    assert doubts(verdict.flags), verdict.flags


class _KeepLog(FakeSupervisor):
    def __init__(self, sets, **kw):
        super().__init__(sets, **kw)
        self.keeps: list[tuple[str, list[str], list[int]]] = []

    async def __call__(self, side, plan, sealed, keep, max_out):
        self.keeps.append((side, list(sealed), list(keep)))
        return await super().__call__(side, plan, sealed, keep, max_out)


def test_both_sides_of_a_round_keep_the_same_runs(tmp_path):
    # handing outputs to the supervisor costs the runner: a baseline that kept none timed MNN's own Abs at 0.93x
    verdict, supervisor = _evaluate(tmp_path, _KeepLog, FIXED_ROUNDS, true=0.5)
    assert verdict.kind is VerdictKind.CORRECT
    # the two processes of a round run the same plan, either side first (they take turns)
    pairs = [(a, b) for a, b in zip(supervisor.keeps, supervisor.keeps[1:]) if {a[0], b[0]} == {"baseline", "candidate"} and a[1] == b[1]]
    assert len(pairs) >= 12 and any(b[2] for _, b in pairs)
    assert all(a[2] == b[2] for a, b in pairs), [(a[2], b[2]) for a, b in pairs if a[2] != b[2]]


def test_a_stable_timing_settles_after_a_few_rounds(tmp_path):
    # 1% noise per run: the speedup's interval is tight by the eighth round, so the timing stops there with the figure
    verdict, supervisor = _evaluate(tmp_path, true=0.5)
    assert verdict.kind is VerdictKind.CORRECT and abs(verdict.speedup - 2.0) < 0.06, verdict.speedup
    settled = verdict.timing_check["settled"]
    assert settled["rounds"] == 8 and settled["ci"] <= 0.015 and len(supervisor.calls) == 1 + 2 * 8, (settled, len(supervisor.calls))
    fixed, _ = _evaluate(tmp_path, timing=FIXED_ROUNDS, true=0.5)  # the same figure as the full twelve rounds
    assert "settled" not in fixed.timing_check and abs(fixed.speedup - verdict.speedup) < 0.02 * fixed.speedup


class _Noisy(FakeSupervisor):
    """An honest candidate on a busy machine: each of its processes is up to 15% slower or faster than the last."""

    async def __call__(self, side, plan, sealed, keep, max_out):
        if side == "candidate":
            self.true = 0.5 * self.rng.uniform(0.85, 1.15)
        return await super().__call__(side, plan, sealed, keep, max_out)


def test_a_noisy_timing_gets_its_full_rounds(tmp_path):
    verdict, supervisor = _evaluate(tmp_path, _Noisy)
    assert verdict.kind is VerdictKind.CORRECT and "settled" not in verdict.timing_check, verdict.timing_check
    assert verdict.timing_rounds == 12 and abs(verdict.speedup - 2.0) < 0.2, (verdict.timing_rounds, verdict.speedup)


def test_the_interval_of_a_speedup():
    from mkb_tui.engine.timing import ratio_interval

    same = [([1.0, 1.0], [0.5, 0.5])] * 6
    assert ratio_interval(same) == 0.0 and ratio_interval(same[:2]) is None
    spread = [([1.0], [0.5 * f]) for f in (0.9, 1.1, 0.9, 1.1, 0.9, 1.1)]
    half = ratio_interval(spread)
    assert 0.11 < half < 0.13, half  # expm1(t(5) * sd / sqrt(6)) of the logs (+/-0.1 each): about +/-12%
    assert ratio_interval([([1.0], [0.0])] * 4) is None
