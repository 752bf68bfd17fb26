"""Verify and time a candidate with runner processes that all look alike (plans: mkb_tui.engine.schedule).

The first candidate process is the verification: every fixed seed and random secret-pool sets, every output
compared on the host. Timing rounds follow, baseline then candidate on the same plan, short and long processes
alternating; a random sample of the candidate's timed runs is compared too, so a kernel that computes less while
timed is `wrong_output`. The runner's clock is checked against two witnesses it cannot touch (timing.loop_crosscheck,
timing.host_crosscheck): a contradicted speedup is refused (`timing_mismatch`). A speedup under doubt is timed once
more with every run checked; `reverified` when that agrees.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import re
import struct

import numpy as np
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mkb_tui.bench.compare import compare_outputs
from mkb_tui.bench.tensorfile import MalformedRecord, read_tensors
from mkb_tui.device.base import ProcResult
from mkb_tui.engine.process_text import last_line, process_text
from mkb_tui.engine.schedule import InputSet, PlanText, ProcessPlan, Shape, kept_outputs, plan_text, timing_plans, verification_plan
from mkb_tui.engine.timing import (
    REVERIFY_AGREEMENT,
    UNSTABLE_HALVES,
    UNWITNESSED_SPEEDUP,
    CrossCheck,
    ProcessTimes,
    Round,
    halves_disagreement,
    host_crosscheck,
    loop_crosscheck,
    outside_crosscheck,
    speedup,
    summarize,
    timing_doubt,
    timing_flags,
)
from mkb_tui.vocabulary.verdicts import REVERIFIED, Verdict, VerdictKind, doubts

TIMING_ATTEMPTS = 3
RunProcess = Callable[[str, str], Awaitable[ProcResult]]  # (side, plan text on stdin) -> the process's result
Pull = Callable[[str, Path], Awaitable[None]]
Remove = Callable[[list[str]], Awaitable[None]]


@dataclass
class TimingPlan:
    """Rounds of one runner process per side (baseline, then candidate, on the same plan).

    Many short rounds, because where a process's buffers land in memory sets the speed of a small op for the whole
    process (avgpool_k3s1p1_incl: 17.5, 18.9 or 19.6 us per process, following the session's buffers, not the code),
    so the pooled median of 10 processes per side could land on different modes for the two sides. Cheap ops get
    more rounds, up to `max_rounds`, as long as the timing stays within `budget_s`; the number is set from the first
    round's wall time, so both sides get the same. Every process runs `warmup` runs (not counted) then `runs`, or
    `runs + extra` in a long process (short and long alternate: the host's cross-check)."""

    rounds: int = 10  # at least this many rounds
    warmup: int = 8
    runs: int = 4  # each counted run reads its own input set: a process's start-up grows with them (13 sets: +10 ms)
    extra: int = 4
    max_rounds: int = 40
    budget_s: float = 1.5  # seconds of rounds for a cheap op (about 20 rounds of two processes each, for a 30 us op)

    def __post_init__(self) -> None:
        self.max_rounds = max(self.max_rounds, self.rounds)

    def rounds_for(self, first_round_s: float) -> int:
        """How many rounds in all, given the wall time of the first (pure)."""
        if first_round_s <= 0:
            return self.max_rounds
        return max(self.rounds, min(self.max_rounds, int(self.budget_s / first_round_s)))

    def shape(self) -> Shape:
        return Shape(warmup=self.warmup, runs=self.runs, extra=self.extra)


@dataclass
class TimedModels:
    """The two models timed against each other (device paths) and the runner API each needs (session or module).
    They are the same model except for combiners, whose candidate is a model."""

    baseline: str
    candidate: str
    baseline_api: str = "session"
    candidate_api: str = "session"


def output_hash(arrays: list) -> str:
    """The runner's hash of a run's outputs (outputHash in mkb_runner.cpp), as 16 hex digits: per tensor the sum of its
    little-endian 64-bit words times 1, 3, 5, ... (mod 2^64), folded with the byte count."""
    h = 0
    for a in arrays:
        raw = np.ascontiguousarray(a).tobytes()
        words = np.frombuffer(raw + b"\0" * (-len(raw) % 8), dtype="<u8")
        with np.errstate(over="ignore"):
            total = int((words * np.arange(1, 2 * len(words), 2, dtype=np.uint64)).sum(dtype=np.uint64))
        h = (h * 1000003 + total + len(raw)) % (1 << 64)
    return f"{h:016x}"


def _digest(arrays: list) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


_STREAMED = re.compile(r"^mkbrun (\d+) (-?\d+) (-?\d+)$", re.M)


def streamed_disagreement(stdout: str, report: dict) -> str | None:
    """The runner writes each run's times (ns) on a line of its own the moment the run ends, before any candidate
    code runs again; its report must say the same. A report whose times differ was rewritten in the runner's memory
    after the fact (pure)."""
    lines = [(int(r), int(t), int(w)) for r, t, w in _STREAMED.findall(stdout)]
    times, raw = report.get("times_ms") or [], report.get("raw_ms") or []
    if [r for r, _, _ in lines] != list(range(len(times))) or len(raw) != len(times):
        return f"the runner's per-run lines ({len(lines)}) do not match its report ({len(times)} runs)"
    for (run, t, w), tm, wm in zip(lines, times, raw):
        if round(float(tm) * 1e6) != t or round(float(wm) * 1e6) != w:
            return f"run {run}'s times in the runner's report differ from those it sent when the run ended (rewritten in memory)"
    return None


def parse_runner_output(stdout: str) -> dict | None:
    """The runner's report: its last line (it writes nothing after it, and exits). A JSON line a kernel printed
    earlier is never taken for it, and a report whose times differ from the lines the runner streamed as each run
    ended is a failed run."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith("{"):
        return None
    try:
        report = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(report, dict):
        return None
    bad = malformed_report(report)
    if bad:
        return {"ok": False, "error": f"the runner's report is malformed ({bad})"}
    why = streamed_disagreement(stdout, report) if report.get("ok") else None
    return {"ok": False, "error": why} if why else report


_LISTS = ("times_ms", "raw_ms", "io_ms")
_MAX_LIST = 1 << 16


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")


def malformed_report(report: dict) -> str | None:
    """What is wrong with the types of a runner's report, or None (pure). The report is the last line of a process
    the candidate's code ran in, so it may be anything JSON can say: each field the judge reads must have the type the
    judge reads it as, or the process failed (never an exception later, where the field is used)."""
    if not isinstance(report.get("ok"), bool):
        return "ok"
    for key in _LISTS:
        value = report.get(key)
        if value is not None and not (isinstance(value, list) and len(value) <= _MAX_LIST and all(_number(v) for v in value)):
            return key
    hashes = report.get("hashes")
    if hashes is not None and not (isinstance(hashes, list) and len(hashes) <= _MAX_LIST
                                   and all(isinstance(h, str) and len(h) <= 64 for h in hashes)):  # fmt: skip
        return "hashes"
    proof = report.get("candidate_proof")
    if proof is not None and not (isinstance(proof, dict) and all(_number(v) for v in proof.values())):
        return "candidate_proof"
    for key, longest in (("error", 1 << 16), ("clock", 64), ("api", 64), ("precision", 64)):  # clock: kept in the verdict
        if report.get(key) is not None and not (isinstance(report[key], str) and len(report[key]) <= longest):
            return key
    if report.get("timed_ms") is not None and not _number(report["timed_ms"]):
        return "timed_ms"
    return None


@dataclass
class _Process:
    proc: ProcResult
    report: dict | None
    plan: ProcessPlan
    text: PlanText

    @property
    def times(self) -> ProcessTimes:
        r = self.report or {}
        return ProcessTimes(list(r.get("times_ms") or []), list(r.get("raw_ms") or []), self.proc.seconds, list(r.get("io_ms") or []))


@dataclass
class _Attempt:
    rounds: list[tuple[_Process, _Process]] = field(default_factory=list)  # (baseline, candidate)


class Judge:
    """One evaluation's verification and timing over a device (through `run` and `pull`)."""

    def __init__(self, *, task_id: str, tolerance: float, sets: list[InputSet], models: TimedModels, run: RunProcess, pull: Pull,
                 timing: TimingPlan, threads: int, precision: str, emulated: bool, lenient: bool, plausible: float,
                 scratch: Path, rng: random.Random | None = None, remove: Remove | None = None) -> None:  # fmt: skip
        self.task_id, self.tolerance, self.sets, self.models = task_id, tolerance, sets, models
        self.run, self.pull, self.timing = run, pull, timing
        self.threads, self.precision, self.emulated = threads, precision, emulated
        self.lenient = lenient  # native_incorrect: wrong outputs do not stop the timing
        self.plausible = plausible
        self.scratch = scratch
        self.remove = remove
        self.rng = rng or random.Random()
        self.shape = timing.shape()
        self.digests: dict[int, tuple[str, str]] = {}  # input set -> (digest of its outputs, where it was seen)
        self.checked = 0
        self.verified: dict[int, tuple[str, str]] = {}  # input set -> hash of an output compared with its reference
        self.hashed = 0
        self._verification: _Process | None = None

    # ---- processes ----------------------------------------------------------------------------------------------

    async def _process(self, side: str, plan: ProcessPlan, record: str) -> _Process:
        model, api = (self.models.baseline, self.models.baseline_api) if side == "baseline" else (self.models.candidate, self.models.candidate_api)
        # the baseline keeps no outputs (nobody compares them): a record of MNN's own outputs for this very plan,
        # left in out/ beside the candidate's next process, would be answers it could copy
        written = plan if side == "candidate" else replace(plan, record=())
        text = plan_text(written, self.sets, model=model, api=api, threads=self.threads, precision=self.precision, record=record)
        if self.remove is not None and side == "candidate":
            await self.remove([record])  # a record left by an earlier process must never be read as this one's
        proc = await self.run(side, text.text)
        p = _Process(proc, parse_runner_output(proc.stdout), plan, text)
        if side == "baseline" and not proc.timed_out and not (p.report or {}).get("ok"):
            # MNN's own kernel failing says nothing about the candidate: a pristine library being rebuilt by another
            # process ("error while loading shared libraries") passes; try once more, after a moment
            await asyncio.sleep(2.0)
            proc = await self.run(side, text.text)
            p = _Process(proc, parse_runner_output(proc.stdout), plan, text)
        return p

    async def _compare(self, p: _Process, verdict: Verdict, where: str) -> bool:
        """Pull and compare the outputs a candidate process kept; False (and the verdict says why) on a mismatch."""
        if p.text.record is None:
            return True
        local = self.scratch / f"{self.task_id}_{p.text.record.replace('/', '_')}"
        try:
            await self.pull(p.text.record, local)
            kept = kept_outputs(read_tensors(local, max_bytes=self._record_bound(len(p.plan.record))))
        except MalformedRecord as exc:  # the record is the run's to write: malformed is its doing
            verdict.kind = VerdictKind.RUNTIME_ERROR
            verdict.message = f"the runner's record of kept outputs is malformed ({where}): {exc}"
            return False
        except (OSError, ValueError, struct.error) as exc:
            verdict.kind = VerdictKind.RUNTIME_ERROR
            verdict.message = f"the runner's record of kept outputs is missing or unreadable ({where}): {type(exc).__name__}"
            return False
        finally:
            local.unlink(missing_ok=True)
        missing = sorted(set(p.plan.record) - set(kept))
        if missing:
            verdict.kind, verdict.message = VerdictKind.RUNTIME_ERROR, f"the runner kept no outputs of runs {missing} ({where})"
            return False
        for run in p.plan.record:
            index = p.plan.sets[run]
            chosen = self.sets[index]
            got = kept[run]
            want = [a for _, a in read_tensors(chosen.reference)]
            cmp = compare_outputs(got, want, self.tolerance)
            self.checked += 1
            verdict.max_abs_error = max(verdict.max_abs_error or 0.0, cmp.max_abs_error)
            verdict.max_rel_error = max(verdict.max_rel_error or 0.0, cmp.max_rel_error)
            if not cmp.ok:
                verdict.kind = VerdictKind.WRONG_OUTPUT
                verdict.first_mismatch = f"{chosen.label}, {cmp.first_mismatch}"
                verdict.message = f"{chosen.label}: {cmp.message}" if where == "verification" else (
                    f"the timed runs' outputs differed from the reference ({where}, run {run}, {chosen.label}): {cmp.message}")  # fmt: skip
                return False
            hashes = (p.report or {}).get("hashes") or []
            reported = hashes[run] if run < len(hashes) else None
            if reported != output_hash(got):
                verdict.kind = VerdictKind.RUNTIME_ERROR
                verdict.message = f"the runner's hash of run {run} ({where}) does not match the outputs it wrote"
                return False
            self.verified.setdefault(index, (reported, f"{where}, run {run}"))
            digest, seen = _digest(got), f"{where}, run {run}"
            first = self.digests.setdefault(index, (digest, seen))
            if first[0] != digest:
                verdict.kind = VerdictKind.RUNTIME_ERROR
                verdict.message = (f"outputs differ between runs on the same inputs ({chosen.label}: {first[1]} and {seen}): "
                                   "nondeterministic or uninitialised memory")  # fmt: skip
                return False
        return True

    def _record_bound(self, kept_runs: int) -> int:
        """The most bytes a record of `kept_runs` runs' outputs can take: the reference's elements at the widest
        element type (8 bytes: a bool reference is MNN's int32), and room for the names, per run."""
        elements = sum(a.size for _, a in read_tensors(self.sets[0].reference))
        return 4096 + kept_runs * (8 * elements + 64 * 1024)

    @staticmethod
    def _failed(p: _Process, side: str, verdict: Verdict, timeout: float) -> bool:
        if p.proc.timed_out:
            verdict.kind = VerdictKind.TIMEOUT if side == "candidate" else VerdictKind.DEVICE_ERROR
            verdict.message = f"no result from the {side} within {timeout:.0f} s"
            return True
        if p.proc.signal or p.report is None or not p.report.get("ok") or p.proc.returncode != 0:
            # the baseline (MNN's own kernel) failing is the harness's trouble, never the candidate's
            verdict.kind = VerdictKind.RUNTIME_ERROR if side == "candidate" else VerdictKind.DEVICE_ERROR
            # the report's error and the process's stderr are the candidate's to write (inputs it read, printed):
            # scrubbed of numbers and bounded (engine/process_text)
            why = f"killed by signal {p.proc.signal}" if p.proc.signal else last_line((p.report or {}).get("error")) or f"exit code {p.proc.returncode}"
            if (not p.report or p.proc.returncode != 0) and last_line(p.proc.stderr):
                why += ": " + last_line(p.proc.stderr)
            verdict.message = f"the runner failed: {why}" if side == "candidate" else f"timing run of the baseline failed: {why}"
            if side == "candidate" and ((p.report or {}).get("candidate_proof") or {}).get("nulls"):
                verdict.message = f"the candidate kernel never ran: its creator returned nullptr ({why})"
            verdict.log = (verdict.log + f"\n--- the {side}'s runner (numbers replaced by #) ---\n" + process_text(p.proc.stdout, 512, 1024)
                           + "\n" + process_text(p.proc.stderr))[-20000:]  # fmt: skip
            return True
        return False

    # ---- the secret sets MNN's own kernel passes --------------------------------------------------------------------

    async def native_passes(self, remotes: set[str]) -> dict[str, bool]:
        """MNN's own kernel on the secret sets named: whether its outputs are within the task's tolerance of the
        references, per set; {} when the baseline could not run. A secret input is drawn like the fixed seeds, but
        nobody checked the task on it: where MNN's kernel itself misses (Det eliminates without pivoting, so a rare
        small pivot costs it 1%), the input judges no candidate. Its outputs are pulled and deleted at once."""
        todo = [i for i, s in enumerate(self.sets) if not s.fixed and s.remote in remotes]
        if not todo:
            return {}
        plan = ProcessPlan(tuple(todo), tuple(range(len(todo))))
        record = "out/native.mkbt"
        text = plan_text(plan, self.sets, model=self.models.baseline, api=self.models.baseline_api, threads=self.threads,
                         precision=self.precision, record=record)  # fmt: skip
        local = self.scratch / f"{self.task_id}_native.mkbt"
        if self.remove is not None:
            await self.remove([record])  # a name the harness lets this run write, and nothing under it yet
        try:
            proc = await self.run("baseline", text.text)
            report = parse_runner_output(proc.stdout)
            if proc.timed_out or not (report or {}).get("ok"):
                return {}
            await self.pull(record, local)
            kept = kept_outputs(read_tensors(local, max_bytes=self._record_bound(len(todo))))
        except (OSError, ValueError, struct.error):  # MalformedRecord included
            return {}
        finally:
            local.unlink(missing_ok=True)
            if self.remove is not None:
                await self.remove([record])
        passes = {}
        for run, index in enumerate(todo):
            want = [a for _, a in read_tensors(self.sets[index].reference)]
            passes[self.sets[index].remote] = run in kept and compare_outputs(kept[run], want, self.tolerance).ok
        return passes

    # ---- verification -------------------------------------------------------------------------------------------

    async def verify(self, verdict: Verdict, *, require_proof: bool, timeout: float, geometry_op: str | None = None) -> bool:
        """The first candidate process; sets the verdict. True when the candidate goes on to be timed."""
        plan = verification_plan(self.sets, self.shape, self.rng)
        p = await self._process("candidate", plan, "out/candidate.mkbt")
        if self._failed(p, "candidate", verdict, timeout):
            return False
        verdict.timing_check["clock"] = p.report.get("clock")
        if require_proof:
            proof = p.report.get("candidate_proof") or {}
            if proof.get("creations", 0) < 1 or proof.get("executions", 0) < 1:
                verdict.kind = VerdictKind.RUNTIME_ERROR
                verdict.message = (f"the candidate kernel never ran (creations {proof.get('creations', 0)}, "
                                   f"executions {proof.get('executions', 0)}): its creator returned nullptr or did not handle the op")  # fmt: skip
                if geometry_op:  # the dispatcher counts registrations of the op and its computer's computations
                    verdict.message = (f"the candidate geometry never ran (registrations for OpType_{geometry_op}: "
                                       f"{proof.get('creations', 0)}, computations: {proof.get('executions', 0)}): MNN's default "
                                       f"would run instead; register it with GeometryComputer::registerGeometryComputer")  # fmt: skip
                return False
        self._verification = p
        used = set(plan.sets)
        fixed = sum(1 for i in used if self.sets[i].fixed)
        if await self._compare(p, verdict, "verification"):
            verdict.kind = VerdictKind.CORRECT
            verdict.message = f"all {fixed} seeds and {len(used) - fixed} secret inputs within {self.tolerance:g}"
            return True
        return self.lenient and verdict.kind is VerdictKind.WRONG_OUTPUT

    # ---- timing -------------------------------------------------------------------------------------------------

    async def _rounds(self, verdict: Verdict, timeout: float, *, reuse_verification: bool, check_all: bool = False) -> _Attempt | None:
        attempt = _Attempt()
        output_bytes = sum(a.nbytes for _, a in read_tensors(self.sets[0].reference))
        if reuse_verification and self._verification is not None:
            first_plan, cand = self._verification.plan, self._verification
        else:
            first_plan = timing_plans(self.sets, self.shape, 1, output_bytes, self.rng, first_long=True, check_all=True)[0]
            cand = None
        # round 0: a long process; the verification process is its candidate half
        base = await self._process("baseline", first_plan, "out/baseline.mkbt")
        if self._failed(base, "baseline", verdict, timeout):
            return None
        if cand is None:
            cand = await self._process("candidate", first_plan, "out/candidate.mkbt")
            if self._failed(cand, "candidate", verdict, timeout) or not await self._checked(cand, verdict, "timing round 0"):
                return None
        attempt.rounds.append((base, cand))
        wanted = self.timing.rounds_for(base.proc.seconds + cand.proc.seconds)
        plans = timing_plans(self.sets, self.shape, wanted - 1, output_bytes, self.rng, check_all=check_all)
        for r, plan in enumerate(plans, start=1):
            base = await self._process("baseline", plan, "out/baseline.mkbt")
            if self._failed(base, "baseline", verdict, timeout):
                return None
            cand = await self._process("candidate", plan, "out/candidate.mkbt")
            if self._failed(cand, "candidate", verdict, timeout) or not await self._checked(cand, verdict, f"timing round {r}"):
                return None
            attempt.rounds.append((base, cand))
        for r, (_, cand) in enumerate(attempt.rounds):
            if not self._hashes_match(cand, verdict, f"timing round {r}"):
                return None
        return attempt

    def _hashes_match(self, p: _Process, verdict: Verdict, where: str) -> bool:
        """Every run of a candidate process, kept or not, against an output of the same input that was compared with
        the reference (bitwise: the kernel must be deterministic): a run that computed something else is caught even
        though its outputs were never written."""
        hashes = (p.report or {}).get("hashes") or []
        if len(hashes) != p.plan.runs:
            verdict.kind, verdict.message = VerdictKind.RUNTIME_ERROR, f"the runner reported {len(hashes)} output hashes for {p.plan.runs} runs ({where})"
            return False
        for run, (index, h) in enumerate(zip(p.plan.sets, hashes)):
            known = self.verified.get(index)
            if known is None:
                continue
            self.hashed += 1
            # lenient or not: a verified hash is of an output that matched its reference (a wrong one is never
            # recorded), so another output for the same input is a cheat or nondeterminism on every task
            if known[0] != h:
                verdict.kind, verdict.speedup = VerdictKind.WRONG_OUTPUT, None
                verdict.message = (f"the timed runs' outputs differed from the reference ({where}, run {run}, {self.sets[index].label}): "
                                   f"not the output verified for this input at {known[1]} (computed something else, or nondeterministic)")  # fmt: skip
                return False
        return True

    async def _checked(self, p: _Process, verdict: Verdict, where: str) -> bool:
        ok = await self._compare(p, verdict, where)
        if not ok and self.lenient and verdict.kind is VerdictKind.WRONG_OUTPUT:
            return True  # a task whose native kernel is wrong is timed whatever the outputs
        if not ok:
            verdict.speedup = None
        return ok

    def _samples(self, attempt: _Attempt) -> list[Round]:
        w = self.shape.warmup
        return [(b.times.times_ms[w:], c.times.times_ms[w:]) for b, c in attempt.rounds]

    def _crosschecks(self, attempt: _Attempt) -> list[CrossCheck]:
        pairs = [(b.times, c.times) for b, c in attempt.rounds]
        checks = [loop_crosscheck(pairs)]
        return checks + [c for c in (outside_crosscheck(pairs, self.shape.warmup), host_crosscheck(pairs)) if c is not None]

    async def time(self, verdict: Verdict, timeout: float) -> None:
        """Time baseline against candidate; sets the timings, speedup and flags (or a failing verdict)."""
        # A timing whose halves disagree or whose runs spread widely was disturbed (a shared machine): time again,
        # up to TIMING_ATTEMPTS in all, and keep the most trustworthy
        attempts: list[tuple[float, _Attempt]] = []
        for n in range(1 if self.emulated else TIMING_ATTEMPTS):
            attempt = await self._rounds(verdict, timeout, reuse_verification=n == 0)
            if attempt is None:
                verdict.timing_check["checked_runs"], verdict.timing_check["hash_matched_runs"] = self.checked, self.hashed
                return
            attempts.append((timing_doubt(self._samples(attempt)), attempt))
            if attempts[-1][0] <= 1.0:
                break
        _, attempt = min(attempts, key=lambda a: a[0])
        ratio = self._summarize(attempt, verdict)
        if len(attempts) > 1:
            verdict.flags.append("retimed")
        if self.emulated:
            verdict.timing_check["checked_runs"], verdict.timing_check["hash_matched_runs"] = self.checked, self.hashed
            return
        checks = self._crosschecks(attempt)
        verdict.timing_check["crosschecks"] = [c.as_dict() for c in checks]
        if any(c.mismatch for c in checks):
            verdict.flags.append("timing_mismatch")
        elif ratio is not None and ratio > UNWITNESSED_SPEEDUP and not any(c.resolved for c in checks):
            verdict.flags.append("timing_unverified")
        if ratio is not None and verdict.kind is VerdictKind.CORRECT and doubts(verdict.flags):
            await self._reverify(verdict, ratio, timeout)
        if "timing_mismatch" in verdict.flags and REVERIFIED not in verdict.flags:
            verdict.speedup = None  # the runner's clock was contradicted: no speedup is credited
        if verdict.kind is not VerdictKind.CORRECT and ratio is not None:
            verdict.flags.append(f"timed_speedup={ratio:.3f}")
        verdict.timing_check["checked_runs"], verdict.timing_check["hash_matched_runs"] = self.checked, self.hashed

    def _summarize(self, attempt: _Attempt, verdict: Verdict) -> float | None:
        samples = self._samples(attempt)
        verdict.timing_rounds = len(samples)
        verdict.baseline = summarize([t for b, _ in samples for t in b], emulated=self.emulated)
        verdict.candidate = summarize([t for _, c in samples for t in c], emulated=self.emulated)
        ratio = speedup(verdict.baseline, verdict.candidate)
        verdict.speedup = ratio if verdict.kind is VerdictKind.CORRECT else None
        verdict.flags += timing_flags(verdict.baseline, verdict.candidate, ratio, self.plausible)
        if halves_disagreement(samples) > UNSTABLE_HALVES:
            verdict.flags.append("unstable_timing")
        return ratio

    async def _reverify(self, verdict: Verdict, ratio: float, timeout: float) -> None:
        """A second, independent timing with every candidate output checked: `reverified` when it is clean, its
        witnesses agree with the runner and its speedup is within REVERIFY_AGREEMENT of the first."""
        attempt = await self._rounds(verdict, timeout, reuse_verification=False, check_all=True)
        if attempt is None:
            return
        samples = self._samples(attempt)
        base = summarize([t for b, _ in samples for t in b])
        cand = summarize([t for _, c in samples for t in c])
        again = speedup(base, cand)
        checks = self._crosschecks(attempt)
        witnessed = again is None or again <= UNWITNESSED_SPEEDUP or any(c.resolved for c in checks)
        clean = timing_doubt(samples) <= 1.0 and witnessed and not any(c.mismatch for c in checks)
        verdict.timing_check["reverify_speedup"] = again
        if again is not None and clean and abs(again - ratio) <= REVERIFY_AGREEMENT * ratio:
            verdict.flags.append(REVERIFIED)
