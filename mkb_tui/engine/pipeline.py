"""The evaluation pipeline: candidate in, classified Verdict out.

static check -> place into a scratch workspace -> incremental build -> convert the task's model -> run the runner on
the device for every seed (fresh process, repeated run for determinism) -> compare with the PyTorch reference ->
time baseline and candidate interleaved A/B/A/B -> Verdict. Kernel faults never raise.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.bench.compare import compare_outputs
from mkb_tui.bench.tasks import Task
from mkb_tui.bench.tensorfile import read_tensors
from mkb_tui.device.base import Device, ProcResult
from mkb_tui.engine import slots as slotlib
from mkb_tui.engine.baseline import Baseline, ensure_baseline, link_static_runner
from mkb_tui.engine.evaluator import EvaluatorInfo
from mkb_tui.engine.mnn import MnnInfo, require_mnn
from mkb_tui.engine.static_check import check as static_check
from mkb_tui.engine.timing import UNSTABLE_HALVES, Round, halves_disagreement, speedup, summarize, timing_doubt, timing_flags
from mkb_tui.engine.toolchain import get_target
from mkb_tui.engine.workspace import WorkspacePool
from mkb_tui.errors import DeviceError, MkbError
from mkb_tui.paths import cache_dir
from mkb_tui.vocabulary.verdicts import KernelCandidate, Verdict, VerdictKind

Progress = Callable[[str], None]
TIMING_ATTEMPTS = 3


@dataclass
class TimingPlan:
    """A/B/A/B rounds, one runner process per side per round.

    Many short rounds, because where a process's buffers land in memory sets the speed of a small op for the whole
    process: the same library gives avgpool_k3s1p1_incl 17.5, 18.9 or 19.6 us per process (and the modes follow the
    session's buffers, not the code), so the pooled median of 10 processes per side can land on different modes for the
    two sides (0.93-1.04 for the oracle). Cheap ops therefore get more rounds, up to `max_rounds`, as long as the timing
    stays within `budget_s`; the number is set from the first round's wall time, so both sides get the same."""

    rounds: int = 10  # at least this many rounds
    warmup: int = 10
    iters_per_round: int = 15  # >= 100 timed runs per side
    max_rounds: int = 40
    budget_s: float = 3.0

    def __post_init__(self) -> None:
        self.max_rounds = max(self.max_rounds, self.rounds)

    def rounds_for(self, first_round_s: float) -> int:
        """How many rounds in all, given the wall time of the first (pure)."""
        if first_round_s <= 0:
            return self.max_rounds
        return max(self.rounds, min(self.max_rounds, int(self.budget_s / first_round_s)))


@dataclass
class TimedModels:
    """The two models timed against each other (device paths) and the runner arguments each needs. They are the same
    model except for combiners, whose candidate is a model."""

    baseline: str
    candidate: str
    baseline_args: list[str]
    candidate_args: list[str]


def parse_runner_output(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


class Pipeline:
    def __init__(
        self,
        device: Device,
        *,
        threads: int = 1,
        precision: str = "high",
        workspaces: int = 1,
        mnn: MnnInfo | None = None,
        timing: TimingPlan | None = None,
        run_timeout: float = 60.0,
        build_timeout: float = 900.0,
        workspace_name: str = "",
    ) -> None:
        self.mnn = mnn or require_mnn()
        self.device = device
        self.target = get_target(device.target)
        self.threads = threads
        self.precision = precision
        self.pool = WorkspacePool(self.mnn, self.target, workspaces, workspace_name)
        # emulated timings never count: a short A/B run only shows them, and keeps qemu runs cheap
        self.timing = timing or (TimingPlan(rounds=2, warmup=1, iters_per_round=5, max_rounds=2) if device.emulated else TimingPlan())
        self.run_timeout = run_timeout
        self.build_timeout = build_timeout
        self._baseline: Baseline | None = None

    async def baseline(self) -> Baseline:
        if self._baseline is None:
            base, result = await ensure_baseline(self.mnn, self.target)
            if base is None:
                raise MkbError(f"the pristine MNN build failed: {result.log.strip().splitlines()[-1] if result.log.strip() else 'no log'}")
            self._baseline = base
        return self._baseline

    def slot(self, task: Task) -> slotlib.Slot:
        return slotlib.slot_for(task, self.mnn.root)

    def describe(self) -> EvaluatorInfo:
        return EvaluatorInfo(self.target.name, self.device.name, self.mnn.version, self.mnn.root, self.device.emulated, (self.device.name,))

    async def evaluate(self, task: Task, candidate: KernelCandidate, *, progress: Progress | None = None, static: bool = True) -> Verdict:
        started = time.monotonic()
        say = progress or (lambda stage: None)
        verdict = Verdict(task.id, VerdictKind.RUNTIME_ERROR, device=self.device.name, threads=self.threads, precision=self.precision)
        if task.native_incorrect_for(self.target.name):
            verdict.flags.append("native_incorrect")
        restored_before = len(getattr(self.device, "restored", ()))
        try:
            await self._evaluate(task, candidate, verdict, say, static)
        except DeviceError as exc:
            verdict.kind, verdict.message = VerdictKind.DEVICE_ERROR, str(exc)
        restored = list(getattr(self.device, "restored", ()))[restored_before:]
        if restored:  # a device copy was changed since it was pushed (by this candidate or an earlier one): put back
            verdict.flags.append("device_inputs_restored")
            verdict.log += f"\n--- device copies changed since they were pushed, sent again before the run: {', '.join(sorted(set(restored)))} ---"
        verdict.seconds = time.monotonic() - started
        say("done")
        return verdict.make_safe()  # the one boundary where candidate-made text leaves the engine

    async def _evaluate(self, task: Task, candidate: KernelCandidate, verdict: Verdict, say: Progress, static: bool) -> None:
        slot = self.slot(task)
        if not slot.supported:
            verdict.kind, verdict.message = VerdictKind.REJECTED, f"unsupported slot: {slot.reason}"
            return
        say("static_check")
        missing = [f for f in slot.files if f not in candidate.files]
        if missing:
            verdict.kind, verdict.message = VerdictKind.FORMAT_ERROR, f"the candidate does not provide {', '.join(missing)}"
            return
        if static:
            with verdict.phase("static"):
                problems = static_check(candidate, slot)
            if problems:
                verdict.kind, verdict.message = VerdictKind.REJECTED, "; ".join(problems)
                return
        with verdict.phase("baseline"):
            base = await self.baseline()
        with verdict.phase("acquire"):
            ws = await self.pool.acquire()
        try:
            await self._in_workspace(task, slot, candidate, base, ws, verdict, say)
        finally:
            try:
                with verdict.phase("restore"):
                    left = await asyncio.to_thread(ws.check)
                if left.damaged:
                    # an honest kernel writes no file: one that did escaped the checks and the sandbox
                    verdict.kind = VerdictKind.REJECTED
                    verdict.speedup = None
                    verdict.message = "the candidate's processes changed the workspace (put back): " + left.summary("workspace")
                    verdict.flags.append("workspace_restored")
            finally:
                self.pool.release(ws)

    async def _in_workspace(self, task, slot, candidate, base, ws, verdict, say) -> None:
        say("building")
        with verdict.phase("place"):
            failed = await ws.ensure_ready()
            if failed is not None:
                raise MkbError(f"configuring the workspace failed: {failed.log.strip().splitlines()[-1] if failed.log.strip() else ''}")
            ws.place(slotlib.placement(slot, candidate, self.mnn.root))
        combiner = slot.mechanism == "combiner"
        # a combiner lives in the converter; its model then runs on the pristine library
        with verdict.phase("build"):
            built = await (ws.build_converter(timeout=max(self.build_timeout, 3600)) if combiner else ws.build(timeout=self.build_timeout))
        verdict.log = built.log[-20000:]
        if not built.ok:
            verdict.kind = VerdictKind.COMPILE_ERROR if not built.timed_out else VerdictKind.TIMEOUT
            verdict.diagnostics = [d for d in built.diagnostics if d.severity in ("error", "fatal error")] or built.diagnostics
            verdict.message = "build timed out" if built.timed_out else _first_error(built)
            return
        if not combiner:
            if self.target.static:  # linked now, so that the sealed build dir holds it
                with verdict.phase("build"):
                    failed_link = await self._link_candidate_runner(ws.lib_dir())
                if failed_link:
                    verdict.kind, verdict.message = VerdictKind.COMPILE_ERROR, "linking the static runner failed: " + failed_link[-500:]
                    return
            ws.seal(ws.build_dir)  # candidate code runs from here on
            await self._run(task, slot, base, ws.lib_dir(), verdict, say)
            return
        ws.seal(ws.converter_dir)
        say("converting")
        with verdict.phase("convert"):
            model = await self._convert_with_candidate(task, slot, ws, verdict)
        if model is not None:
            await self._run(task, slot, base, base.build_dir, verdict, say, candidate_model=model)

    async def _convert_with_candidate(self, task: Task, slot: slotlib.Slot, ws, verdict: Verdict) -> Path | None:
        """The task's ONNX model through the workspace's converter (the candidate's code runs here); None on failure."""
        from mkb_tui.bench.export import onnx_path
        from mkb_tui.engine import converter
        from mkb_tui.engine.convert import DEFAULT_FLAGS

        exe = converter.converter_exe(ws.converter_dir)
        out = ws.root / "models" / f"{task.id}-candidate.mnn"
        flags = tuple(task.export_options.get("mnn_flags", DEFAULT_FLAGS))
        proc = await converter.run_converter(exe, onnx_path(task), out, flags, timeout=self.run_timeout)
        log = (proc.stdout[-4000:] + proc.stderr[-4000:]).strip()
        verdict.log = (verdict.log + "\n--- converter ---\n" + log)[-20000:]
        if proc.timed_out:
            verdict.kind, verdict.message = VerdictKind.TIMEOUT, f"the converter with the candidate did not finish within {self.run_timeout:.0f} s"
            return None
        if not converter.converted(proc, out):
            verdict.kind = VerdictKind.RUNTIME_ERROR
            if f"ONNX::{slot.op_type}" in log and "Not Support" in log:
                verdict.message = (f"the candidate transform never ran: the converter found no transform for ONNX {slot.op_type} "
                                   "(register it with OnnxExtraManager::get()->insert for this op)")  # fmt: skip
            else:
                why = f"killed by signal {proc.signal}" if proc.signal else (log.splitlines()[-1] if log else f"exit code {proc.returncode}")
                verdict.message = f"converting the model with the candidate failed: {why}"
            return None
        # proof of run: the native transform is registered under another name, so an ONNX op left unconverted
        # (an Extra op) means the candidate's transform did not handle it
        ops = await converter.dump_ops(exe, out)
        if not ops:
            verdict.kind, verdict.message = VerdictKind.RUNTIME_ERROR, "the converted model could not be read back"
            return None
        left = [op for op in ops if op["type"] == "Extra"]
        if left:
            verdict.kind = VerdictKind.RUNTIME_ERROR
            verdict.message = (f"the candidate transform never ran: the converter left {len(left)} {slot.op_type} node(s) "
                               "unconverted (not registered for this op, or onExecute returned nullptr)")  # fmt: skip
            return None
        verdict.log += "\n--- the candidate's model runs: " + ", ".join(sorted({str(op["type"]) for op in ops})) + " ---"
        return out

    async def _push_case(self, task: Task, candidate_model: Path | None = None) -> tuple[TimedModels, list[tuple[str, str, Path]]]:
        """Push the model(s) and every seed's inputs; returns the models and the (seed, device input, reference) cases."""
        import hashlib

        from mkb_tui.bench.references import reference_case
        from mkb_tui.engine.convert import convert_to_mnn

        model = convert_to_mnn(task)
        keep = cache_dir() / "runs" / ".keep"
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.touch()
        files: dict[str, Path] = {f"models/{model.name}": model, "out/.keep": keep}
        models = TimedModels(f"models/{model.name}", f"models/{model.name}", _runner_api(model), _runner_api(model))
        if candidate_model is not None:
            digest = hashlib.sha256(candidate_model.read_bytes()).hexdigest()[:12]
            models.candidate, models.candidate_args = f"models/{task.id}-candidate-{digest}.mnn", _runner_api(candidate_model)
            files[models.candidate] = candidate_model
        cases = []
        for seed in task.seeds:
            case = reference_case(task, seed)  # cached: torch is imported only to make a missing one
            remote = f"refs/{task.id}-{task.content_hash}/inputs_{seed}.mkbt"
            files[remote] = case.inputs_path
            cases.append((str(seed), remote, case.outputs_path))
        await self.device.push(files)
        return models, cases

    async def _runner(self, base: Baseline, lib_dir: Path, args: list[str], timeout: float) -> ProcResult:
        if not self.target.static:  # one runner; the library under test comes from LD_LIBRARY_PATH
            return await self.device.run([str(base.runner), *args], timeout=timeout, env={"LD_LIBRARY_PATH": str(lib_dir)})
        side = "baseline" if lib_dir == base.build_dir else "candidate"
        exe = base.runner if side == "baseline" else lib_dir / "mkb_runner"
        if side == "candidate":
            failed = await self._link_candidate_runner(lib_dir)
            if failed:
                return ProcResult(1, json.dumps({"ok": False, "error": "linking the static runner failed: " + failed[-500:]}), failed, 0.0)
        await self.device.push({f"bin/{side}_mkb_runner": exe})
        return await self.device.run([f"bin/{side}_mkb_runner", *args], timeout=timeout)

    async def _link_candidate_runner(self, lib_dir: Path) -> str | None:
        """The static runner with the candidate's libMNN.a (static targets), when it is older than the library."""
        exe = lib_dir / "mkb_runner"
        if not exe.exists() or exe.stat().st_mtime < (lib_dir / "libMNN.a").stat().st_mtime:
            return await link_static_runner(self.mnn, self.target, lib_dir, exe)
        return None

    async def _run(self, task: Task, slot: slotlib.Slot, base: Baseline, lib_dir: Path, verdict: Verdict, say: Progress,
                   candidate_model: Path | None = None) -> None:
        """Verify and time. A cpu/geometry candidate is a library (lib_dir) running the task's model; a combiner
        candidate is a model (candidate_model) running on the pristine library."""
        say("verifying")
        with verdict.phase("push"):
            models, cases = await self._push_case(task, candidate_model)
        common = ["--threads", str(self.threads), "--precision", self.precision]
        with verdict.phase("verify"):
            timed = await self._verify(task, slot, base, lib_dir, verdict, models, cases, common)
        if not timed:
            return
        # native_incorrect tasks are timed whatever the outputs, so reports can show them apart
        say("timing")
        with verdict.phase("time"):
            await self._time(models, cases[0][1], base, lib_dir, verdict, common)

    async def _verify(self, task: Task, slot: slotlib.Slot, base: Baseline, lib_dir: Path, verdict: Verdict, models: TimedModels,
                      cases: list[tuple[str, str, Path]], common: list[str]) -> bool:
        """Run every seed and compare; sets the verdict. True when the candidate goes on to be timed."""
        # every seed in one process, one after another: a kernel caching results across runs fails the later seeds
        outs = [f"out/{task.id}_{seed}.mkbt" for seed, _, _ in cases]
        await self.device.remove(outs)  # an output left by an earlier run must never be read as this run's
        args = [models.candidate, ",".join(c[1] for c in cases), ",".join(outs), *common, "--repeat", "2", *models.candidate_args]
        proc = await self._runner(base, lib_dir, args, self.run_timeout)
        report = parse_runner_output(proc.stdout)
        if proc.timed_out:
            verdict.kind, verdict.message = VerdictKind.TIMEOUT, f"no result within {self.run_timeout:.0f} s"
            return False
        if proc.signal or report is None or not report.get("ok"):
            verdict.kind = VerdictKind.RUNTIME_ERROR
            why = f"killed by signal {proc.signal}" if proc.signal else (report or {}).get("error") or f"exit code {proc.returncode}"
            verdict.message = f"the runner failed: {why}"
            if ((report or {}).get("candidate_proof") or {}).get("nulls"):
                verdict.message = f"the candidate kernel never ran: its creator returned nullptr ({why})"
            verdict.log = (verdict.log + "\n" + proc.stdout[-4000:] + proc.stderr[-4000:])[-20000:]
            return False
        if slot.mechanism == "cpu":
            proof = report.get("candidate_proof") or {}
            if proof.get("creations", 0) < 1 or proof.get("executions", 0) < 1:
                verdict.kind = VerdictKind.RUNTIME_ERROR
                verdict.message = (f"the candidate kernel never ran (creations {proof.get('creations', 0)}, "
                                   f"executions {proof.get('executions', 0)}): its creator returned nullptr or did not handle the op")  # fmt: skip
                return False
        worst_abs = worst_rel = 0.0
        for (seed, _, expected_path), out_remote in zip(cases, outs):
            local_out = cache_dir() / "runs" / f"{task.id}_{seed}.mkbt"
            await self.device.pull(out_remote, local_out)
            got = [a for _, a in read_tensors(local_out)]
            want = [a for _, a in read_tensors(expected_path)]
            cmp = compare_outputs(got, want, task.tolerance)
            worst_abs, worst_rel = max(worst_abs, cmp.max_abs_error), max(worst_rel, cmp.max_rel_error)
            verdict.max_abs_error, verdict.max_rel_error = worst_abs, worst_rel
            if not cmp.ok:
                verdict.kind = VerdictKind.WRONG_OUTPUT
                verdict.first_mismatch = f"seed {seed}, {cmp.first_mismatch}"
                verdict.message = f"seed {seed}: {cmp.message}"
                if not task.native_incorrect_for(self.target.name):
                    return False
                break
        else:
            verdict.kind, verdict.message = VerdictKind.CORRECT, f"all {len(cases)} seeds within {task.tolerance:g}"
        return True

    async def _time(self, models: TimedModels, remote_in: str, base: Baseline, lib_dir: Path, verdict: Verdict,
                    common: list[str]) -> None:
        # A timing whose halves disagree or whose runs spread widely was disturbed (a shared machine): time again,
        # up to TIMING_ATTEMPTS in all, and keep the most trustworthy
        attempts: list[tuple[float, list[Round]]] = []  # (doubt, rounds)
        for _ in range(1 if self.device.emulated else TIMING_ATTEMPTS):
            rounds = await self._time_rounds(models, remote_in, base, lib_dir, verdict, common)
            if rounds is None:
                return
            attempts.append((timing_doubt(rounds), rounds))
            if attempts[-1][0] <= 1.0:
                break
        _, rounds = min(attempts, key=lambda attempt: attempt[0])
        disagreement = halves_disagreement(rounds)
        verdict.timing_rounds = len(rounds)
        emulated = self.device.emulated
        verdict.baseline = summarize([t for b, _ in rounds for t in b], emulated=emulated)
        verdict.candidate = summarize([t for _, c in rounds for t in c], emulated=emulated)
        ratio = speedup(verdict.baseline, verdict.candidate)
        verdict.speedup = ratio if verdict.kind is VerdictKind.CORRECT else None
        verdict.flags += timing_flags(verdict.baseline, verdict.candidate, ratio)
        if len(attempts) > 1:
            verdict.flags.append("retimed")
        if disagreement > UNSTABLE_HALVES:
            verdict.flags.append("unstable_timing")
        if verdict.kind is not VerdictKind.CORRECT and ratio is not None:
            verdict.flags.append(f"timed_speedup={ratio:.3f}")

    async def _time_rounds(self, models: TimedModels, remote_in: str, base: Baseline, lib_dir: Path, verdict: Verdict,
                           common: list[str]) -> list[Round] | None:
        """The A/B rounds, or None (and the verdict says why) when a timing run fails."""
        plan = self.timing
        rest = [remote_in, "out/timing.mkbt", *common, "--warmup", str(plan.warmup), "--iters", str(plan.iters_per_round)]
        rounds: list[Round] = []
        wanted = plan.rounds
        while len(rounds) < wanted:
            round_started = time.monotonic()
            times: dict[str, list[float]] = {}
            for side, lib, model, extra in (("baseline", base.build_dir, models.baseline, models.baseline_args),
                                            ("candidate", lib_dir, models.candidate, models.candidate_args)):
                proc = await self._runner(base, lib, [model, *rest, *extra], self.run_timeout)
                report = parse_runner_output(proc.stdout)
                if proc.timed_out or report is None or not report.get("ok"):
                    verdict.kind = VerdictKind.TIMEOUT if proc.timed_out else VerdictKind.RUNTIME_ERROR
                    verdict.message = f"timing run of the {side} failed: " + ("timeout" if proc.timed_out else str((report or {}).get("error", proc.returncode)))
                    return None
                times[side] = report["times_ms"]
            rounds.append((times["baseline"], times["candidate"]))
            if len(rounds) == 1:
                wanted = plan.rounds_for(time.monotonic() - round_started)
        return rounds


def _runner_api(mnn_file: Path) -> list[str]:
    from mkb_tui.engine.convert import has_subgraphs

    return ["--api", "module"] if has_subgraphs(mnn_file) else []


def _first_error(built) -> str:
    for d in built.diagnostics:
        if d.severity in ("error", "fatal error"):
            return f"{d.file}:{d.line}:{d.column}: {d.message}"
    lines = [l for l in built.log.splitlines() if "error" in l.lower()]
    return lines[0][:300] if lines else "the build failed"


class PipelinePool:
    """Several devices (e.g. phones): each evaluation goes to a free one, one at a time per device, since timing
    needs a quiet device. Same interface as Pipeline for the agents."""

    def __init__(self, devices: list[Device], **kw) -> None:
        if not devices:
            raise DeviceError("no device to run on")
        self.pipelines = [Pipeline(d, workspace_name=f"d{i}-", **kw) for i, d in enumerate(devices)]
        first = self.pipelines[0]
        self.mnn, self.target, self.device = first.mnn, first.target, first.device
        if len({p.target.name for p in self.pipelines}) != 1:
            raise DeviceError("a device pool must share one build target (all phones, or all qemu)")
        self._free: asyncio.Queue[Pipeline] = asyncio.Queue()
        for p in self.pipelines:
            self._free.put_nowait(p)

    def slot(self, task: Task) -> slotlib.Slot:
        return self.pipelines[0].slot(task)

    def describe(self) -> EvaluatorInfo:
        names = tuple(p.device.name for p in self.pipelines)
        return EvaluatorInfo(self.target.name, ", ".join(names), self.mnn.version, self.mnn.root, self.device.emulated, names)

    async def evaluate(self, task: Task, candidate: KernelCandidate, **kw) -> Verdict:
        pipeline = await self._free.get()
        try:
            return await pipeline.evaluate(task, candidate, **kw)
        finally:
            self._free.put_nowait(pipeline)
