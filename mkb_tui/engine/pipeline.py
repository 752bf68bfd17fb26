"""The evaluation pipeline: candidate in, classified Verdict out.

static check -> place into a scratch workspace -> incremental build -> convert the task's model -> verify and time
with runner processes that all look alike (mkb_tui.engine.measure: the fixed seeds and secret inputs compared on the
host, baseline and candidate interleaved A/B/A/B, a sample of the timed runs compared too) -> Verdict. Kernel faults
never raise.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.bench.precision import Bound, error_bound
from mkb_tui.bench.tasks import Task
from mkb_tui.device.base import Device, ProcResult
from mkb_tui.engine import slots as slotlib
from mkb_tui.engine.baseline import Baseline, ensure_baseline, link_static_runner
from mkb_tui.engine.evaluator import EvaluatorInfo
from mkb_tui.engine.mnn import MnnInfo, require_mnn
from mkb_tui.engine.concurrency import DeviceRuns, PerLoop, builds_share_timing_core
from mkb_tui.engine import build_check, converter
from mkb_tui.engine.static_check import findings as static_findings
from mkb_tui.engine.types import Finding
from mkb_tui.engine.measure import Judge, TimedModels, TimingPlan  # noqa: F401 (TimingPlan: re-exported)
from mkb_tui.engine.schedule import InputSet
from mkb_tui.engine.toolchain import get_target
from mkb_tui.engine.workspace import WorkspacePool
from mkb_tui.engine import plugin as pluginlib
from mkb_tui.errors import DeviceError, MkbError
from mkb_tui.paths import cache_dir
from mkb_tui.vocabulary.flags import Flag
from mkb_tui.vocabulary.verdicts import KernelCandidate, Verdict, VerdictKind

Progress = Callable[[str], None]



def _write_record(record: Path, data: dict) -> None:
    """A per-task record kept on the host (MNN's native errors, its op profile), written atomically: another
    process reading it sees the old record or the new one, never half of one."""
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, record)

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
        plugins: bool | None = None,
    ) -> None:
        self.mnn = mnn or require_mnn()
        self.device = device
        self.device.threads = threads  # a contained run may start no more threads than this (none beyond the first)
        self.target = get_target(device.target)
        self.threads = threads
        self.precision = precision
        self.pool = WorkspacePool(self.mnn, self.target, workspaces, workspace_name)
        # CPU candidates as plug-ins into the slot-able library (engine/plugin.py) wherever the runner can load one (the
        # host); MKB_PLUGINS=0 relinks a workspace instead, the path static runners, geometry and combiner tasks take
        wanted = os.environ.get("MKB_PLUGINS", "1") != "0" if plugins is None else plugins
        self.plugins = wanted and pluginlib.available(self.target)
        self.slotable = pluginlib.SlotableLibrary(self.mnn, self.target)
        self.lanes = pluginlib.Lanes(self.mnn.home / f"lanes-{self.target.name}")
        self._slotable_ready = False
        # emulated timings never count: a short A/B run only shows them, and keeps qemu runs cheap
        self.timing = timing or (TimingPlan(rounds=2, warmup=1, runs=2, extra=2, max_rounds=2) if device.emulated else TimingPlan())
        self.run_timeout = run_timeout
        self.build_timeout = build_timeout
        self._baseline: Baseline | None = None
        self._baseline_lock = PerLoop(asyncio.Lock)  # several tasks in flight ask for it at once: build it once
        # one run (verification or timing) at a time on the device; builds stay off the host's timing core, or on a
        # one-core host wait for the runs like another run would
        self.runs = DeviceRuns(device.name)
        self._builds_wait_for_runs = builds_share_timing_core() and device.target == "host" and not device.emulated
        self._caps = None  # the device's measured bandwidth and peak (mkb_tui.engine.roofline), False: not measurable
        self.in_flight = 0  # evaluations under way (PipelinePool sends the next to the least busy device)

    async def baseline(self) -> Baseline:
        async with self._baseline_lock.get():
            if self._baseline is None:
                base, result = await ensure_baseline(self.mnn, self.target)
                if base is None:
                    raise MkbError(f"the pristine MNN build failed: {result.log.strip().splitlines()[-1] if result.log.strip() else 'no log'}")
                self._baseline = base
        return self._baseline

    def slot(self, task: Task) -> slotlib.Slot:
        return slotlib.slot_for(task, self.mnn.root)

    def describe(self) -> EvaluatorInfo:
        return EvaluatorInfo(self.target.name, self.device.name, self.mnn.version, self.mnn.root, self.device.emulated, (self.device.name,),
                             capacity=self.pool.size)  # fmt: skip

    async def evaluate(self, task: Task, candidate: KernelCandidate, *, progress: Progress | None = None, static: bool = True) -> Verdict:
        started = time.monotonic()
        say = progress or (lambda stage: None)
        verdict = Verdict(task.id, VerdictKind.RUNTIME_ERROR, device=self.device.name, threads=self.threads, precision=self.precision)
        if task.native_incorrect_for(self.target.name):
            verdict.flags.append(Flag.NATIVE_INCORRECT)
        restored_before = len(getattr(self.device, "restored", ()))
        self.in_flight += 1
        try:
            await self._evaluate(task, candidate, verdict, say, static)
        except DeviceError as exc:
            verdict.kind, verdict.message = VerdictKind.DEVICE_ERROR, str(exc)
        except MkbError:
            raise  # the harness's own trouble (MNN missing, a workspace that cannot be configured): one line, said by the CLI
        except Exception as exc:  # the last resort: nothing a kernel leaves behind may end an evaluation in a traceback
            unexpected(verdict, exc)
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:  # the last evaluation under way: its sandbox ends (each run's leftovers already did)
                await self.device.end_runs()
        restored = sorted(set(list(getattr(self.device, "restored", ()))[restored_before:]))
        if restored:
            # push() put back what earlier evaluations left, so a copy found changed (or a file no push accounts for)
            # before one of this evaluation's runs came from one of its runs: only the candidate's code could write
            verdict.kind, verdict.speedup = VerdictKind.REJECTED, None
            verdict.message = (f"the candidate's processes changed or left {len(restored)} file(s) in the device's work dir "
                               f"(put back or removed): {', '.join(restored[:3])}{', ...' if len(restored) > 3 else ''}")  # fmt: skip
            verdict.flags.append(Flag.DEVICE_INPUTS_RESTORED)
        verdict.flags += [f for f in self.device.containment_flags() if f not in verdict.flags]  # what the runs lacked
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
        unwritable = [path for path, text in candidate.files.items() if not _utf8(path) or not _utf8(text)]
        if unwritable:  # a lone surrogate has no UTF-8 form: no file can hold it (it ended as the judge's device_error)
            verdict.kind = VerdictKind.FORMAT_ERROR
            verdict.message = f"the candidate's text is not valid Unicode (a lone surrogate) in {len(unwritable)} file(s)"
            return
        if static:
            with verdict.phase("static"):
                findings = static_findings(candidate, slot)
            if findings:
                reject(verdict, findings)
                return
        with verdict.phase("baseline"):
            base = await self.baseline()
        if self.plugins and slot.mechanism == "cpu":
            await self._as_plugin(task, slot, candidate, base, verdict, say, oracle=not static)
            return
        with verdict.phase("acquire"):
            ws = await self.pool.acquire()
        try:
            await self._in_workspace(task, slot, candidate, base, ws, verdict, say, oracle=not static)
        finally:
            try:
                with verdict.phase("restore"):
                    left = await asyncio.to_thread(ws.check)
                if left.damaged:
                    # an honest kernel writes no file: one that did escaped the checks and the sandbox
                    verdict.kind = VerdictKind.REJECTED
                    verdict.speedup = None
                    verdict.message = "the candidate's processes changed the workspace (put back): " + left.summary("workspace")
                    verdict.flags.append(Flag.WORKSPACE_RESTORED)
            finally:
                self.pool.release(ws)

    async def _in_workspace(self, task, slot, candidate, base, ws, verdict, say, *, oracle: bool = False) -> None:
        fresh = ws.fresh  # its first use: copy MNN, configure, build from ccache (the progress display says so)
        say("preparing a new workspace (first use: copy MNN, configure, build from ccache)" if fresh else "building")
        with verdict.phase("workspace" if fresh else "place"):
            failed = await ws.ensure_ready()
            if failed is not None:
                raise MkbError(f"configuring the workspace failed: {failed.log.strip().splitlines()[-1] if failed.log.strip() else ''}")
            placed = slotlib.placement(slot, candidate, self.mnn.root)
            ws.place(placed)
        ws.untrusted = tuple(rel for rel in placed if rel in candidate.files)  # compiled in the strict sandbox
        combiner = slot.mechanism == "combiner"
        # a combiner lives in the converter; its model then runs on the pristine library
        with verdict.phase("first_build" if fresh else "build"):
            async with self._device_turn(verdict) if self._builds_wait_for_runs else nullcontext():
                built, judged = await self._build(ws, slot)
        verdict.log = built.log[-20000:]
        if await self._rejected_after_build(slot, ws, built, judged, verdict, oracle=oracle):
            return
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
            say("waiting for the device")
            async with self._device_turn(verdict):
                await self._run(task, slot, base, ws.lib_dir(), verdict, say)
            return
        ws.seal(ws.converter_dir)
        say("converting")
        with verdict.phase("convert"):
            model = await self._convert_with_candidate(task, slot, ws, verdict)
        if model is not None:
            say("waiting for the device")
            async with self._device_turn(verdict):
                await self._run(task, slot, base, base.build_dir, verdict, say, candidate_model=model)

    async def _as_plugin(self, task, slot, candidate, base, verdict, say, *, oracle: bool = False) -> None:
        """A CPU candidate as one shared object in a lane, loaded by the runner into the slot-able library."""
        if not self._slotable_ready:
            say("building the slot-able MNN library (once per MNN release)" if not self.slotable.ready() else "building")
            with verdict.phase("slotable"):
                made = await self.slotable.ensure()
            if not made.ok:
                raise MkbError(f"the slot-able MNN build failed: {made.log.strip().splitlines()[-1] if made.log.strip() else 'no log'}")
            self._slotable_ready = True
        lane = self.lanes.acquire()
        try:
            with verdict.phase("place"):
                lane.place(pluginlib.plugin_files(slot, candidate))
            judged = [build_check.JudgedSource(slotlib.CANDIDATE_CPP, lane.src / slotlib.CANDIDATE_CPP, lane.build_dir / pluginlib.PLUGIN_OBJECT)]
            build_check.drop_stale(judged)
            say("building")
            with verdict.phase("build"):
                async with self._device_turn(verdict) if self._builds_wait_for_runs else nullcontext():
                    built = await lane.build(self.slotable, self.target, build_check.judge_env(judged), self.build_timeout)
            verdict.log = built.log[-20000:]
            if await self._rejected_after_build(slot, None, built, judged, verdict, oracle=oracle, lane=lane):
                return
            if not built.ok:
                verdict.kind = VerdictKind.COMPILE_ERROR if not built.timed_out else VerdictKind.TIMEOUT
                verdict.diagnostics = [d for d in built.diagnostics if d.severity in ("error", "fatal error")] or built.diagnostics
                verdict.message = "build timed out" if built.timed_out else _first_error(built)
                return
            traps = "" if oracle else await asyncio.to_thread(self._native_traps, task, slot)  # before the device is held
            say("waiting for the device")
            async with self._device_turn(verdict):
                # another process's rebuild of the library or its prelude waits for this run, and this run for it:
                # the seal below then sees only what this candidate changed
                async with self.slotable.shared.reading():
                    # candidate code runs from here on: what it could write if its containment failed is held to this state
                    sealed = pluginlib.RunSeal.of(lane.root, lane.prelude_dir, self.slotable.build_dir)
                    try:
                        await self._run(task, slot, base, self.slotable.build_dir, verdict, say, plugin=(lane.plugin, pluginlib.slot_env(slot), traps))
                    finally:
                        with verdict.phase("restore"):
                            left = await asyncio.to_thread(self.slotable.workspace.check)  # its source tree
                            broken = await asyncio.to_thread(sealed.broken)
                            if broken:
                                await asyncio.to_thread(sealed.discard, broken)
                                self._slotable_ready = False  # the library may be gone: the next evaluation makes it again
                        if left.damaged or broken:
                            # an honest kernel writes no file: one that did escaped the checks and the sandbox
                            verdict.kind, verdict.speedup = VerdictKind.REJECTED, None
                            what = "; ".join(filter(None, [left.summary("the slot-able library"),
                                                           f"its lane, prelude or library: {len(broken)} file(s) changed ({', '.join(list(broken)[:5])}), removed"
                                                           if broken else ""]))  # fmt: skip
                            verdict.message = "the candidate's processes changed the harness's files (put back): " + what
                            verdict.flags.append(Flag.WORKSPACE_RESTORED)
        finally:
            self.lanes.release(lane)

    def _native_traps(self, task: Task, slot: slotlib.Slot) -> str:
        """MKB_TRAP for a candidate's processes: MNN's own implementation of the slot's op in the slot-able library,
        its file's functions and the compute it calls (engine/native_trap.py), less what the model's other nodes need;
        nothing when the model itself needs the native file beside the slot."""
        from dataclasses import replace as with_files

        from mkb_tui.engine import core_table
        from mkb_tui.engine.convert import convert_to_mnn, model_ops
        from mkb_tui.engine.native_trap import model_needs_native, native_functions, trap_env
        from mkb_tui.engine.object_check import pristine_helpers, tools_for
        from mkb_tui.engine.static_check import native_table_members

        ops = model_ops(convert_to_mnn(task))
        registrations = slotlib.cpu_registrations(self.mnn.root)
        if model_needs_native(slot.op_type, slot.subtype, slot.native_files[0], ops, registrations):
            return ""
        nm = tools_for(self.target.compiler).nm
        tree, build = self.slotable.src, self.slotable.build_dir
        stems = build_check.object_policy(slot, oracle=False).native_sources
        by_stem = pristine_helpers(build, nm)
        others = {registrations[o["type"]][0] for o in ops if o.get("type") != slot.op_type and o.get("type") in registrations}
        needed = {h for path in others for h in by_stem.get(Path(path).stem, ())}  # what the other nodes compute with
        needed_members = set().union(*(native_table_members(with_files(slot, native_files=(path,)), tree) for path in others))
        helpers = frozenset(h for stem in stems for h in by_stem.get(stem, ()) if h not in needed)
        members = frozenset(native_table_members(slot, tree) - needed_members)
        # what the tables hold for those members (the slot-able build's probe), less what the other nodes' members hold
        table = core_table.current(build, self.slotable.library) or {}
        held = frozenset(o for m in members for o in table.get(m, ())) - {o for m in needed_members for o in table.get(m, ())}
        return trap_env(native_functions(build, self.slotable.library, stems, nm, helpers=helpers, members=members, held=held))

    @asynccontextmanager
    async def _device_turn(self, verdict: Verdict) -> AsyncIterator[None]:
        """The device to this evaluation alone (DeviceRuns); the time waited for it is the phase `wait`."""
        started = time.perf_counter()
        async with self.runs.hold():
            verdict.phases["wait"] = round(verdict.phases.get("wait", 0.0) + time.perf_counter() - started, 4)
            yield

    async def _build(self, ws, slot: slotlib.Slot):
        """Build with the candidate's sources compiled for the judge (-save-temps=obj); returns the build and them."""
        combiner = slot.mechanism == "combiner"
        build_dir = ws.converter_dir if combiner else ws.build_dir

        async def build(judged):
            env = build_check.judge_env(judged)
            return await (ws.build_converter(timeout=max(self.build_timeout, 3600), env=env) if combiner
                          else ws.build(timeout=self.build_timeout, env=env))  # fmt: skip

        judged = build_check.judged_sources(slot, ws.src, build_dir) if (build_dir / "build.ninja").exists() else []
        build_check.drop_stale(judged)
        built = await build(judged)
        if built.ok:
            judged = build_check.judged_sources(slot, ws.src, build_dir)
            stale = [j for j in judged if not build_check.fresh(j)]
            if stale:  # compiled earlier without the judge's flags (first build, or a build from elsewhere): again
                for j in stale:
                    j.obj.unlink(missing_ok=True)
                built = await build(judged)
        return built, judged

    async def _rejected_after_build(self, slot: slotlib.Slot, ws, built, judged, verdict: Verdict, *, oracle: bool,
                                    lane: pluginlib.Lane | None = None) -> bool:  # fmt: skip
        """The judge on what the compiler saw and produced, in a workspace or a plug-in's lane (read against the
        slot-able tree and library); a broken rule makes the verdict `rejected` (the build's own output is then
        dropped: it may quote files the candidate had no business reading)."""
        combiner = slot.mechanism == "combiner"
        compiler = get_target("converter").compiler if combiner else self.target.compiler
        src, build_dir = (lane.src, lane.build_dir) if lane else (ws.src, ws.converter_dir if combiner else ws.build_dir)
        mnn_tree = self.slotable.src if lane else None
        with verdict.phase("static"):
            findings = await build_check.judge_preprocessed(judged, slot, src=src, build_dir=build_dir, compiler=compiler,
                                                            oracle=oracle, built=built.ok, mnn_tree=mnn_tree)  # fmt: skip
        if not findings and not built.ok:  # an include the compile sandbox kept out: the same rule as a read one
            findings = build_check.unreachable_includes(built.diagnostics, src, mnn_tree=mnn_tree)  # tree-relative already
        if not findings and built.ok:
            if lane:
                pristine, lib, pristine_lib = self.slotable.build_dir, lane.plugin, self.slotable.library
            else:
                base = await self.baseline()
                pristine = converter.pristine_converter_dir(self.mnn) if combiner else base.build_dir
                lib = None if combiner or self.target.static else ws.lib_dir() / "libMNN.so"
                pristine_lib = base.build_dir / "libMNN.so"
            with verdict.phase("object"):
                findings = await build_check.judge_objects(judged, slot, compiler=compiler, pristine_build=pristine, oracle=oracle,
                                                           lib=lib, pristine_lib=pristine_lib, plugin=lane is not None)  # fmt: skip
        if not findings:
            return False
        reject(verdict, findings)
        return True

    async def _convert_with_candidate(self, task: Task, slot: slotlib.Slot, ws, verdict: Verdict) -> Path | None:
        """The task's ONNX model through the workspace's converter (the candidate's code runs here); None on failure."""
        from mkb_tui.bench.export import onnx_path
        from mkb_tui.engine import converter
        from mkb_tui.engine.convert import DEFAULT_FLAGS

        exe = converter.converter_exe(ws.converter_dir)
        out = ws.root / "models" / f"{task.slug}-candidate.mnn"
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
        pristine = converter.converter_exe(converter.pristine_converter_dir(self.mnn))
        if not pristine.exists():
            # the candidate's own converter would be the witness of its own run (it writes the op list read back)
            verdict.kind = VerdictKind.DEVICE_ERROR
            verdict.message = ("a combiner's proof of run needs MNN's pristine converter, which is not built here "
                               "(mkb-tui setup mnn --build converter)")  # fmt: skip
            return None
        ops = await converter.dump_ops(pristine, out)
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

    async def _push_case(self, task: Task, candidate_model: Path | None = None) -> tuple[TimedModels, list[InputSet]]:
        """Push the model(s) and the inputs of every fixed seed and of the task's secret pool; returns the models and
        the input sets (their references stay on the host)."""
        import hashlib

        from mkb_tui.bench.pool import domain_seeds, pool_seeds
        from mkb_tui.bench.references import case_stem, reference_cases
        from mkb_tui.engine.convert import convert_to_mnn

        model = convert_to_mnn(task)
        keep = cache_dir() / "runs" / ".keep"
        keep.parent.mkdir(parents=True, exist_ok=True)
        keep.touch()
        files: dict[str, Path] = {f"models/{model.name}": model, "out/.keep": keep}
        models = TimedModels(f"models/{model.name}", f"models/{model.name}", _runner_api(model), _runner_api(model))
        if candidate_model is not None:
            digest = hashlib.sha256(candidate_model.read_bytes()).hexdigest()[:12]
            models.candidate, models.candidate_api = f"models/{task.slug}-candidate-{digest}.mnn", _runner_api(candidate_model)
            files[models.candidate] = candidate_model
        sets = []
        sealed = self.device.sealed_root() if self.device.channel else None
        draws = [*((s, True, "") for s in task.seeds), *((s, False, "") for s in pool_seeds(task)),
                 *((s, False, kind) for kind, s in domain_seeds(task))]  # fmt: skip
        cases = reference_cases(task, [s for s, _, _ in draws], [d for _, _, d in draws])  # computed once, then cached
        for (seed, fixed, domain), case in zip(draws, cases):
            # device names say nothing of the seed (nor of a domain draw's kind); the references are never pushed
            secret = f"{seed}" if not domain else f"{seed}:{case_stem(seed, domain)}"  # a new draw table, new names
            name = f"seed{seed}" if fixed else hashlib.sha256(secret.encode()).hexdigest()[:16]
            remote = f"inputs/{task.slug}-{task.content_hash}/{name}.mkbt"
            label = f"seed {seed}" if fixed else f"secret input {len(sets) - len(task.seeds) + 1}"
            if domain:
                label += f" (a draw over the op's domain: {domain})"
            if sealed is not None:  # never pushed: the supervisor hands each run its input when the run starts
                inside = str(Path(case.inputs_path).resolve().relative_to(Path(sealed).resolve()))
                sets.append(InputSet(label, remote, case.outputs_path, fixed, domain, inputs=case.inputs_path, sealed=inside))
                continue
            files[remote] = case.inputs_path
            sets.append(InputSet(label, remote, case.outputs_path, fixed, domain))
        await self.device.push(files)
        return models, sets

    async def _runner(self, base: Baseline, lib_dir: Path, timeout: float, stdin: str, channel: tuple | None = None,
                      plugin: tuple[Path, str, str] | None = None, side: str = "") -> ProcResult:
        """One runner process on the library in lib_dir; its plan goes on stdin, so every process has the same argv.
        The runner and its library are pushed into the device first: a contained run sees nothing else. `channel`:
        (input set per run, runs kept, most output bytes) of a plan-2 process."""
        side = side or ("baseline" if lib_dir == base.build_dir else "candidate")

        async def run(argv: list[str], env: dict[str, str] | None = None) -> ProcResult:
            if channel is None:
                return await self.device.run(argv, timeout=timeout, env=env, stdin=stdin.encode())
            sealed, keep, max_out = channel
            return await self.device.run_channel(argv, timeout=timeout, stdin=stdin.encode(), sets=sealed, keep=keep,
                                                 max_out=max_out, env=env)  # fmt: skip

        if plugin is not None:  # both sides on the slot-able library; the candidate's side with its plug-in
            files = {"bin/mkb_runner": base.runner, "lib/slotable/libMNN.so": self.slotable.library}
            env = {"LD_LIBRARY_PATH": "lib/slotable"}
            if side == "candidate":
                files["lib/plugin/mkb_plugin.so"] = plugin[0]
                env |= {"MKB_PLUGIN": "lib/plugin/mkb_plugin.so", "MKB_SLOT": plugin[1]}
                if plugin[2]:
                    env["MKB_TRAP"] = plugin[2]
            await self.device.push(files)
            return await run(["bin/mkb_runner"], env)
        if not self.target.static:  # one runner; the library under test comes from LD_LIBRARY_PATH
            await self.device.push({"bin/mkb_runner": base.runner, f"lib/{side}/libMNN.so": lib_dir / "libMNN.so"})
            return await run(["bin/mkb_runner"], {"LD_LIBRARY_PATH": f"lib/{side}"})
        exe = base.runner if side == "baseline" else _candidate_runner(lib_dir)
        if side == "candidate":
            failed = await self._link_candidate_runner(lib_dir)
            if failed:
                return ProcResult(1, json.dumps({"ok": False, "error": "linking the static runner failed: " + failed[-500:]}), failed, 0.0)
        await self.device.push({f"bin/{side}_mkb_runner": exe})
        return await run([f"bin/{side}_mkb_runner"])

    async def _link_candidate_runner(self, lib_dir: Path) -> str | None:
        """The static runner with the candidate's libMNN.a (static targets), when it is older than the library."""
        exe = _candidate_runner(lib_dir)
        if not exe.exists() or exe.stat().st_mtime < (lib_dir / "libMNN.a").stat().st_mtime:
            return await link_static_runner(self.mnn, self.target, lib_dir, exe)
        return None

    async def _run(self, task: Task, slot: slotlib.Slot, base: Baseline, lib_dir: Path, verdict: Verdict, say: Progress,
                   candidate_model: Path | None = None, plugin: tuple[Path, str, str] | None = None) -> None:
        """Verify and time (mkb_tui.engine.measure). A cpu/geometry candidate is a library (lib_dir) running the task's
        model; a combiner candidate is a model (candidate_model) running on the pristine library."""
        say("verifying")
        with verdict.phase("push"):
            models, sets = await self._push_case(task, candidate_model)

        async def run(side: str, plan: str) -> ProcResult:
            if plugin is not None:
                return await self._runner(base, lib_dir, self.run_timeout, plan, plugin=plugin, side=side)
            return await self._runner(base, base.build_dir if side == "baseline" else lib_dir, self.run_timeout, plan)

        async def run_channel(side: str, plan: str, sealed: list[str], keep: list[int], max_out: int) -> ProcResult:
            if plugin is not None:
                return await self._runner(base, lib_dir, self.run_timeout, plan, (sealed, keep, max_out), plugin=plugin, side=side)
            return await self._runner(base, base.build_dir if side == "baseline" else lib_dir, self.run_timeout, plan,
                                      (sealed, keep, max_out))  # fmt: skip

        scratch = _scratch_dir()
        judge = Judge(task_id=task.slug, tolerance=task.tolerance, sets=sets, models=models, run=run, pull=self.device.pull,
                      timing=self.timing, threads=self.threads, precision=self.precision, emulated=self.device.emulated,
                      lenient=bool(task.native_incorrect_for(self.target.name)), plausible=task.plausible_speedup, scratch=scratch,
                      remove=self.device.remove, channel=run_channel if self.device.channel else None,
                      roofline=await self._roofline(task))  # fmt: skip
        judge.native_trapped = bool(plugin and plugin[2])
        if judge.roofline is not None and slot.mechanism == "cpu":  # ---- the rest of the model joins the floor
            profile = await self._native_profile(task, judge)
            if profile:
                judge.roofline.set_profile(profile, slot.op_type)
        if not judge.lenient:  # ---- the precision bound (mkb_tui.bench.precision) from MNN's own error
            fair, judge.bound, judge.set_bounds, dropped = await self._native_precision(task, judge)
            if len(fair) < len(judge.sets):
                verdict.timing_check["secret_sets_native_misses"] = len(judge.sets) - len(fair)
            if dropped:
                verdict.timing_check["domain_draws_native_misses"] = dropped
            judge.sets = fair
            verdict.accuracy.update(tolerance=task.tolerance, bound=judge.limit, native_error=judge.bound.native_error)
        with verdict.phase("verify"):
            timed = await judge.verify(verdict, require_proof=slot.mechanism in ("cpu", "geometry"), timeout=self.run_timeout,
                                       geometry_op=slot.op_type if slot.mechanism == "geometry" else None)  # fmt: skip
        if not timed:
            return
        # native_incorrect tasks are timed whatever the outputs, so reports can show them apart
        say("timing")
        with verdict.phase("time"):
            await judge.time(verdict, self.run_timeout)


    async def _native_profile(self, task: Task, judge: Judge) -> dict[str, float] | None:
        """MNN's own time per op type for the task's model (engine/roofline.py: the rest of the model), measured once per
        task, MNN release and target by the baseline's process and kept on the host beside the native record."""
        # per device (the caps' key: one phone's times are not another's), threads and precision
        device = re.sub(r"[^A-Za-z0-9_.-]", "_", judge.roofline.caps.device)[:80]
        record = (cache_dir() / "refs" / f"{task.slug}-{task.content_hash}"
                  / f"profile-{self.mnn.ref}-{device}-t{self.threads}-{self.precision}.json")  # fmt: skip
        try:
            known = json.loads(record.read_text())
            if isinstance(known, dict) and all(isinstance(v, (int, float)) for v in known.values()):
                return {str(k): float(v) for k, v in known.items()}
        except (OSError, ValueError):
            pass
        found = await judge.native_profile()
        if found:
            _write_record(record, found)
        return found

    async def _roofline(self, task: Task):
        """The task's least possible time on this device (mkb_tui.engine.roofline), or None: an emulated device, or
        caps that cannot be measured. The device's caps are measured once (in the device turn) and cached."""
        from mkb_tui.engine import roofline

        if self.device.emulated:
            return None
        if self._caps is None:
            restored = getattr(self.device, "restored", None)
            before = len(restored) if restored is not None else 0
            try:
                self._caps = await roofline.measure_caps(self.device, self.target)
            except (MkbError, OSError, ValueError):
                self._caps = False  # asked once: an evaluation never fails for it
            if restored is not None:
                del restored[before:]  # what its run swept is the harness's doing, not the candidate's (pushed again)
        return await asyncio.to_thread(roofline.bound_for, task, self._caps or None, threads=self.threads, precision=self.precision)

    async def _native_precision(self, task: Task, judge: Judge) -> tuple[list[InputSet], Bound, dict[str, Bound], list[str]]:
        """The input sets that judge candidates, the precision bound, the bounds of domain draws on which MNN's error
        is larger than on the task's own distribution, and the domain draws dropped. MNN's own kernel is
        run once per task, MNN release and target on every input set (kept on the host, native-{ref}-{target}.json:
        per set its error, max abs and rel error and whether it is within the task's tolerance). Every fixed seed
        judges; a secret set (a domain draw too) only where MNN's kernel is within the tolerance. If too few secret
        sets remain for a long runner process, all are kept: the task's tolerance is then wrong, and the oracle says
        so. The bound is error_bound(tolerance, MNN's worst error over the fixed seeds and the pool's own draws); a
        domain draw's is error_bound(tolerance, the larger of that and MNN's error on the draw)."""
        record = cache_dir() / "refs" / f"{task.slug}-{task.content_hash}" / f"native-{self.mnn.ref}-{self.target.name}.json"
        try:
            known = {k: v for k, v in json.loads(record.read_text()).items() if isinstance(v, dict)}  # booleans: measured before errors were
        except (OSError, ValueError, AttributeError):
            known = {}
        missing = {s.remote for s in judge.sets} - set(known)
        if missing:
            found = await judge.native_errors(missing)
            if found:
                known.update(found)
                _write_record(record, known)
        kept = [s for s in judge.sets if s.fixed or (known.get(s.remote) or {}).get("ok", True)]
        dropped = sorted({s.domain for s in judge.sets if s.domain and s not in kept})
        need = judge.shape.distinct(judge.shape.long)
        if len(kept) < need:
            kept = judge.sets
        errors = [(known.get(s.remote) or {}).get("error") for s in kept if not s.domain]
        measured = [e for e in errors if e is not None]
        native = max(measured) if measured and len(measured) == len(errors) else None
        bound = error_bound(task.tolerance, native)
        own: dict[str, Bound] = {}
        for s in kept:
            there = (known.get(s.remote) or {}).get("error")
            if s.domain and native is not None and there is not None and there > native:
                own[s.remote] = error_bound(task.tolerance, there)
            elif s.domain and native is not None and there is None:
                own[s.remote] = error_bound(task.tolerance, None)
        return kept, bound, own, dropped


CANDIDATE_PHASES = ("verify", "time", "convert")  # phases in which the candidate's code has run


def unexpected(verdict: Verdict, exc: Exception) -> None:
    """An exception no part of the judge handled, as a classified verdict: `runtime_error` once the candidate's code
    has run (what it left behind is the likely cause), `device_error` before (it says nothing about the kernel). The
    log names the exception's type and where the judge raised it, never its text (it may quote data read back)."""
    import logging
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno} ({frames[-1].name})" if frames else "unknown"
    ran = any(p in verdict.phases for p in CANDIDATE_PHASES)
    verdict.kind = VerdictKind.RUNTIME_ERROR if ran else VerdictKind.DEVICE_ERROR
    verdict.speedup = None
    verdict.message = (f"the judge could not handle what the candidate's run left ({type(exc).__name__}): classified as a runtime error"
                       if ran else f"the judge failed before the candidate's code ran ({type(exc).__name__}): nothing is said of the kernel")  # fmt: skip
    verdict.log = (verdict.log + f"\n--- judge: unexpected {type(exc).__name__} at {where} ---")[-20000:]
    logging.getLogger(__name__).debug("unexpected error in an evaluation of %s", verdict.task_id, exc_info=exc)


def reject(verdict: Verdict, findings: list[Finding]) -> None:
    """A `rejected` verdict that says which rules were broken and where, as diagnostics like a compiler's."""
    verdict.kind = VerdictKind.REJECTED
    verdict.message = "; ".join(str(f) for f in findings[:8]) + (f" (and {len(findings) - 8} more)" if len(findings) > 8 else "")
    verdict.diagnostics = [f.diagnostic() for f in findings[:40]]
    verdict.log = ""


def _runner_api(mnn_file: Path) -> str:
    from mkb_tui.engine.convert import has_subgraphs

    return "module" if has_subgraphs(mnn_file) else "session"


def _candidate_runner(lib_dir: Path) -> Path:
    """The static runner linked with a workspace's library (named by the runner source it was built from)."""
    from mkb_tui.engine.baseline import runner_tag

    return lib_dir / f"mkb_runner-{runner_tag()}"


def _scratch_dir() -> Path:
    """Where kept outputs are pulled to and read once: memory-backed when the host has it (a file overwritten on a
    disk mounted with `discard` can take 10 ms)."""
    import os
    import tempfile

    shm = Path("/dev/shm")
    base = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    folder = base / f"mkb-runs-{os.getuid()}-{os.environ.get('MKB_SCRATCH_TAG', '')}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _first_error(built) -> str:
    for d in built.diagnostics:
        if d.severity in ("error", "fatal error"):
            return f"{d.file}:{d.line}:{d.column}: {d.message}"
    lines = [l for l in built.log.splitlines() if "error" in l.lower()]
    return lines[0][:300] if lines else "the build failed"


class PipelinePool:
    """Several devices (e.g. phones): each evaluation goes to the least busy one. Each device runs one candidate at a
    time (timing needs a quiet device) while the next candidates build in its workspaces."""

    def __init__(self, devices: list[Device], **kw) -> None:
        if not devices:
            raise DeviceError("no device to run on")
        self.pipelines = [Pipeline(d, workspace_name=f"d{i}-", **kw) for i, d in enumerate(devices)]
        first = self.pipelines[0]
        self.mnn, self.target, self.device = first.mnn, first.target, first.device
        if len({p.target.name for p in self.pipelines}) != 1:
            raise DeviceError("a device pool must share one build target (all phones, or all qemu)")

    def slot(self, task: Task) -> slotlib.Slot:
        return self.pipelines[0].slot(task)

    def describe(self) -> EvaluatorInfo:
        names = tuple(p.device.name for p in self.pipelines)
        return EvaluatorInfo(self.target.name, ", ".join(names), self.mnn.version, self.mnn.root, self.device.emulated, names,
                             capacity=min(p.pool.size for p in self.pipelines))  # fmt: skip

    async def evaluate(self, task: Task, candidate: KernelCandidate, **kw) -> Verdict:
        pipeline = min(self.pipelines, key=lambda p: p.in_flight)
        return await pipeline.evaluate(task, candidate, **kw)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
