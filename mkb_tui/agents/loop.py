"""The MoKA loop for one task: Coder drafts; every candidate goes through the real pipeline; a failure goes to the
Debugger, a correct kernel to the Accelerator, whose one-change plan passes the approval hook before the Coder
applies it. Shared reflective memory keeps every plan with its measured outcome. Every step is an Event."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from mkb_tui.agents.prompts import Template, load_templates
from mkb_tui.agents.resume import AFTER_VERDICT, EVALUATE, PendingStep, ResumePoint
from mkb_tui.agents.task_prompts import coder_prompt, system_prompt
from mkb_tui.agents.tools.error_extractor import extract
from mkb_tui.agents.tools.perf_parser import describe as describe_performance
from mkb_tui.agents.tools.repo_tree import symbol_index
from mkb_tui.bench.metrics import doubts
from mkb_tui.bench.tasks import Task
from mkb_tui.engine.answer import AnswerFormatError, parse_answer
from mkb_tui.engine.evaluator import Evaluator
from mkb_tui.errors import ProviderError
from mkb_tui.llm.base import Message, Provider
from mkb_tui.llm.budget import UsageMeter
from mkb_tui.llm.errors import AgentAnswerError
from mkb_tui.untrusted import redact
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event
from mkb_tui.vocabulary.verdicts import KernelCandidate, Verdict, VerdictKind

EventSink = Callable[[Event], Awaitable[None]]
JSON_BLOCK = re.compile(r"```(?:json)?\s*\n(\{.*?\})\s*\n```", re.S)


@dataclass
class Plan:
    bottleneck: str
    method: str
    plan: str


@dataclass
class ApprovalDecision:
    decision: str  # approve | edit | reject | auto
    plan: Plan | None = None
    reason: str = ""


ApprovalHook = Callable[[Task, int, Plan], Awaitable[ApprovalDecision]]


async def auto_approve(task: Task, iteration: int, plan: Plan) -> ApprovalDecision:
    return ApprovalDecision("auto", plan)


class HumanKernels:
    """Kernels a person edited while a session runs, per task: the task's loop takes one as its next iteration."""

    def __init__(self) -> None:
        self._waiting: dict[str, list[dict[str, str]]] = {}

    def put(self, task_id: str, files: dict[str, str]) -> None:
        self._waiting.setdefault(task_id, []).append(dict(files))

    def take(self, task_id: str) -> dict[str, str] | None:
        waiting = self._waiting.get(task_id)
        return waiting.pop(0) if waiting else None

    def waiting(self, task_id: str) -> bool:
        return bool(self._waiting.get(task_id))


@dataclass
class LoopConfig:
    iterations: int = 10
    format_retries: int = 2  # re-asks with a format reminder per answer
    plan_rejections: int = 2  # new plans asked after rejections, per iteration
    wall_seconds: float | None = None
    max_tokens: int = 8192


@dataclass
class MemoryEntry:
    iteration: int
    plan: Plan
    outcome: str


@dataclass
class TaskOutcome:
    task_id: str
    best_iteration: int | None = None
    best_speedup: float | None = None
    best_files: dict[str, str] | None = None
    verdicts: list[str] = field(default_factory=list)
    compiled: bool = False
    correct: bool = False
    stopped: str = "iterations"


def extract_json(text: str) -> dict | None:
    for candidate in [m.group(1) for m in JSON_BLOCK.finditer(text)] + [text.strip()]:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def files_block(files: dict[str, str]) -> str:
    return "\n".join(f"```cpp\n// {path}\n{text.rstrip()}\n```" for path, text in files.items())


class MokaLoop:
    def __init__(self, task: Task, provider: Provider, evaluator: Evaluator, *, config: LoopConfig | None = None, approval: ApprovalHook = auto_approve,
                 sink: EventSink | None = None, meter: UsageMeter | None = None, start_iteration: int = 0,
                 resume: ResumePoint | None = None, human: HumanKernels | None = None) -> None:  # fmt: skip
        self.task = task
        self.provider = provider
        self.evaluator = evaluator
        self.info = evaluator.describe()
        self.config = config or LoopConfig()
        self.approval = approval
        self.sink = sink
        self.meter = meter or UsageMeter()
        self.templates: dict[str, Template] = load_templates()
        self.slot = evaluator.slot(task)
        self.memory: list[MemoryEntry] = []
        self.start_iteration = start_iteration
        self.outcome = TaskOutcome(task.id)
        self.speedups: list[float | None] = []
        self._iteration = start_iteration
        self.resume, self.human = resume, human
        if resume is not None:  # where the interrupted task stood: history, speedups, verdicts, best kernel
            self.memory = [MemoryEntry(i, Plan(p.get("bottleneck", ""), p.get("method", ""), p.get("plan", "")), o) for i, p, o in resume.memory]
            self.speedups = list(resume.speedups)
            self.outcome.verdicts = list(resume.verdicts)
            self.outcome.compiled, self.outcome.correct = resume.compiled, resume.correct
            if resume.best_files is not None:
                self.outcome.best_iteration, self.outcome.best_speedup, self.outcome.best_files = resume.best_iteration, resume.best_speedup, resume.best_files

    # ------------------------------------------------------------------ events and LLM calls
    async def emit(self, kind: str, payload: dict, iteration: int | None = None) -> None:
        if self.sink is not None:
            await self.sink(Event(kind, payload, self.task.id, self._iteration if iteration is None else iteration))

    def system(self, role: str) -> str:
        return system_prompt(self.templates, role, mnn_version=self.info.mnn_version, target=self.info.target)

    async def ask(self, role: str, prompt: str) -> str:
        # a second guard behind Verdict.make_safe: no known secret goes to the provider, whatever the prompt quotes
        prompt = redact(prompt)
        messages = [Message("user", prompt)]
        await self.emit(ev.MESSAGE, {"role": "user", "to": role, "text": prompt})
        for attempt in range(self.config.format_retries + 1):
            text = []
            try:
                stream = self.provider.stream(messages, system=redact(self.system(role)), max_tokens=self.config.max_tokens, role=role)
                async for chunk in stream:
                    if chunk.completion is not None:
                        completion = chunk.completion
                    else:
                        text.append(chunk.text)
                        await self.emit(ev.MESSAGE_DELTA, {"role": role, "text": chunk.text})
            except AgentAnswerError as exc:
                await self.emit(ev.MESSAGE, {"role": "pipeline", "text": f"{role} answer unusable ({exc}); asking again"})
                if attempt == self.config.format_retries:
                    raise
                continue
            self.meter.add(completion)
            await self.emit(ev.MESSAGE, {"role": role, "text": completion.text, "input_tokens": completion.usage.input_tokens,
                                         "output_tokens": completion.usage.output_tokens, "cost_usd": completion.cost_usd,
                                         "model": completion.model, "scripted": self.provider.scripted})  # fmt: skip
            await self.emit(ev.BUDGET, {"tokens": self.meter.usage.total, "cost_usd": self.meter.cost_usd,
                                        "max_usd": self.meter.budget.max_usd, "max_tokens": self.meter.budget.max_tokens})  # fmt: skip
            return completion.text
        raise ProviderError(f"{role}: no usable answer")

    async def ask_format(self, role: str, prompt: str, parse: Callable[[str], object], expected: str):
        """Ask; on an answer in the wrong format re-ask with a reminder (bounded)."""
        text = await self.ask(role, prompt)
        for attempt in range(self.config.format_retries + 1):
            try:
                return parse(text), text
            except (AnswerFormatError, ValueError) as exc:
                if attempt == self.config.format_retries:
                    raise AnswerFormatError(str(exc)) from exc
                reminder = self.templates["format_reminder"].render(problem=str(exc), expected=expected)
                text = await self.ask(role, prompt + "\n\n" + reminder)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ prompts
    def initial_prompt(self) -> str:
        from mkb_tui.agents.tools.model_parser import model_json

        return coder_prompt(self.templates, self.task, self.slot, self.info.mnn_root, model_json(self.task))

    def failure_text(self, verdict: Verdict) -> str:
        parts = [verdict.message]
        if verdict.first_mismatch:
            parts.append(f"First mismatch: {verdict.first_mismatch}; max abs error {verdict.max_abs_error}")
        return "\n".join(p for p in parts if p)

    async def debug(self, verdict: Verdict, files: dict[str, str], known_answer: str | None = None) -> str:
        """The Debugger's suggestions; `known_answer` is its stored answer when a resumed task already has one."""
        if known_answer is not None:
            try:
                return _advice(_suggestions(known_answer))
            except ValueError:
                pass  # the stored answer was not usable: ask again
        if verdict.kind is VerdictKind.COMPILE_ERROR or (verdict.kind is VerdictKind.REJECTED and verdict.diagnostics):
            # a rejection by the judge names the rule and where (file:line: rule: message): fixed like a compile error
            symbols = symbol_index(str(self.info.mnn_root), self.slot.headers)
            errors = extract(verdict.diagnostics, files, symbols)
            await self.emit(ev.ERRORS, {"errors": [e.to_dict() for e in errors]})
            nearby = sorted({s for e in errors for s in e.did_you_mean})
            prompt = self.templates["debugger_compile"].render(
                task_id=self.task.id, op=self.task.op, mnn_version=self.info.mnn_version,
                problem="does not compile" if verdict.kind is VerdictKind.COMPILE_ERROR else
                "was rejected by the benchmark's judge (each error names the rule it broke; a kernel may not do this at all)",
                errors=json.dumps([e.to_dict() for e in errors][:12], indent=1), kernel=files_block(files),
                symbols="\n".join(nearby) or "(see the headers in the first prompt)",
            )  # fmt: skip
        else:
            from mkb_tui.agents.tools.model_parser import model_json

            prompt = self.templates["debugger_correctness"].render(
                task_id=self.task.id, op=self.task.op, verdict=verdict.kind.value, failure=self.failure_text(verdict),
                model=model_json(self.task), kernel=files_block(files),
            )  # fmt: skip
        try:
            advice, _ = await self.ask_format("debugger", prompt, _suggestions, '{"local_error_suggestion": "...", "crossfile_error_suggestion": "..."}')
        except AnswerFormatError:
            return "(the Debugger gave no usable suggestion)"
        return _advice(advice)

    async def accelerate_plan(self, verdict: Verdict, files: dict[str, str], known_plan: dict | None = None,
                              known_approval: dict | None = None) -> Plan | None:  # fmt: skip
        """The Accelerator's plan through the approval hook. A resumed task passes its stored plan (shown for approval
        again, not asked anew) and the stored decision on it, if any."""
        if known_plan and known_approval and known_approval.get("decision") != "reject":
            return Plan(known_plan["bottleneck"], known_plan["method"], known_plan["plan"])
        history = "\n".join(f"- iteration {m.iteration}: {m.plan.method}: {m.plan.plan} -> {m.outcome}" for m in self.memory) or "(none yet)"
        simd = "SSE/AVX2 (with target attributes)" if self.info.target == "host" else "NEON"
        reason = ""
        for _ in range(self.config.plan_rejections + 1):
            if known_plan:  # the plan that was waiting for a decision when the session stopped
                plan, known_plan = Plan(known_plan["bottleneck"], known_plan["method"], known_plan["plan"]), None
                await self.emit(ev.MESSAGE, {"role": "pipeline", "text": "resumed: the Accelerator's pending plan waits for approval again"})
            else:
                prompt = self.templates["accelerator"].render(
                    task_id=self.task.id, op=self.task.op, device=verdict.device, threads=verdict.threads,
                    performance=describe_performance(verdict, self.speedups), history=history + reason, kernel=files_block(files), simd=simd,
                )  # fmt: skip
                try:
                    plan, _ = await self.ask_format("accelerator", prompt, _plan, '{"bottleneck": "...", "method": "...", "plan": "..."}')
                except AnswerFormatError:
                    return None
                await self.emit(ev.PLAN, {"bottleneck": plan.bottleneck, "method": plan.method, "plan": plan.plan})
            decision = await self.approval(self.task, self._iteration, plan)
            final = decision.plan or plan
            await self.emit(ev.APPROVAL, {"decision": decision.decision, "plan": final.plan, "method": final.method,
                                          "bottleneck": final.bottleneck, "reason": decision.reason})  # fmt: skip
            if decision.decision != "reject":
                return final
            reason = f"\n- REJECTED by the user: {plan.method}: {plan.plan} (reason: {decision.reason})"
            self.memory.append(MemoryEntry(self._iteration, plan, f"rejected by the user: {decision.reason}"))
        return None

    # ------------------------------------------------------------------ the loop
    async def run(self) -> TaskOutcome:
        started = time.monotonic()
        point = self.resume
        pending = point.pending if point is not None else None
        first = pending.iteration if pending is not None else (point.next_iteration if point is not None else self.start_iteration)
        await self.emit(ev.TASK_STARTED, {"op": self.task.op, "category": self.task.category, "start_iteration": first,
                                          "resumed_step": pending.kind if pending else None}, iteration=None)  # fmt: skip
        # (mode, prompt) for the next iteration; a fresh task starts with a draft
        next_prompt: tuple[str, str] | None = None
        for iteration in range(first, max(self.config.iterations, first + 1 if pending else 0)):
            self._iteration = iteration
            why = self.meter.exceeded()
            if why:
                self.outcome.stopped = why
                break
            if self.config.wall_seconds and time.monotonic() - started > self.config.wall_seconds:
                self.outcome.stopped = "wall time budget reached"
                break
            step, pending = pending, None
            human = self.human.take(self.task.id) if self.human is not None and step is None else None
            if human is not None:
                step = PendingStep(EVALUATE, iteration, "human", files=human)
            if step is not None and step.kind == AFTER_VERDICT:
                mode, files, verdict = step.mode, step.files or {}, Verdict.from_dict(step.verdict)
            else:
                if step is not None and step.kind == EVALUATE:
                    mode, candidate = step.mode, KernelCandidate(dict(step.files or {}))
                    await self.emit(ev.ITERATION_STARTED, {"mode": mode})
                    if mode == "human":
                        await self.emit(ev.MESSAGE, {"role": "human", "text": "an edited kernel, evaluated as this iteration\n\n" + files_block(candidate.files)})
                    else:
                        await self.emit(ev.MESSAGE, {"role": "pipeline", "text": "resumed: evaluating the kernel that was in flight"})
                else:
                    if step is not None:  # the Coder's answer was in flight: the same prompt again
                        mode, prompt = step.mode, step.prompt or (next_prompt or ("draft", self.initial_prompt()))[1]
                    else:
                        mode, prompt = next_prompt or ("draft", self.initial_prompt())
                    await self.emit(ev.ITERATION_STARTED, {"mode": mode})
                    await self.emit(ev.STAGE, {"stage": "drafting"})
                    try:
                        candidate = self._parse_stored(step.answer) if step is not None and step.answer else None
                        if candidate is None:
                            candidate, _ = await self.ask_format("coder", prompt, lambda text: parse_answer(text, self.slot),
                                                                 f"One fenced block per file, the first line of each the path as a comment: {', '.join(self.slot.files)}")  # fmt: skip
                    except AnswerFormatError as exc:
                        verdict = Verdict(self.task.id, VerdictKind.FORMAT_ERROR, str(exc))
                        await self.emit(ev.VERDICT, verdict.to_dict())
                        self.outcome.verdicts.append(verdict.kind.value)
                        next_prompt = (mode, prompt)
                        continue
                    except ProviderError as exc:
                        self.outcome.stopped = f"{ev.PROVIDER_STOP}: {exc}"
                        break
                files = candidate.files
                await self.emit(ev.KERNEL, {"files": files})
                verdict = await self.evaluator.evaluate(self.task, candidate, progress=self._stage_sink())
                await self.emit(ev.BUILD, {"ok": verdict.kind.compiled, "seconds": verdict.seconds,
                                           "diagnostics": [d.__dict__ for d in verdict.diagnostics]})  # fmt: skip
                await self.emit(ev.VERDICT, verdict.to_dict())
                self.outcome.verdicts.append(verdict.kind.value)
                self.outcome.compiled |= verdict.compiled
                self.speedups.append(verdict.speedup)
                if mode == "accelerate" and self.memory:
                    self.memory[-1].outcome = f"{verdict.kind.value}" + (f", speedup {verdict.speedup:.3f}x" if verdict.speedup else "")
            last = iteration + 1 >= self.config.iterations
            try:
                next_prompt = await self._after_verdict(iteration, verdict, files, step if step is not None and step.kind == AFTER_VERDICT else None, last)
            except ProviderError as exc:
                self.outcome.stopped = f"{ev.PROVIDER_STOP}: {exc}"
                break
            if next_prompt is None:
                break
        await self.emit(ev.TASK_FINISHED, {"best_iteration": self.outcome.best_iteration, "best_speedup": self.outcome.best_speedup,
                                           "verdict": "correct" if self.outcome.correct else (self.outcome.verdicts[-1] if self.outcome.verdicts else "none"),
                                           "stopped": self.outcome.stopped}, iteration=None)  # fmt: skip
        return self.outcome

    async def _after_verdict(self, iteration: int, verdict: Verdict, files: dict[str, str], stored: PendingStep | None, last: bool):
        """Best kernel bookkeeping, then the Debugger (failure) or the Accelerator and approval (correct): the next
        iteration's (mode, prompt), or None when the task stops here. `stored`: what a resumed task already has."""
        if verdict.correct:
            self.outcome.correct = True
            # a speedup under doubt (suspicious, unstable, contradicted clock) until re-verified does not make a best
            counted = None if doubts(verdict.flags) else verdict.speedup
            better = self.outcome.best_speedup is None or (counted or 0) > self.outcome.best_speedup
            if better:
                self.outcome.best_iteration, self.outcome.best_speedup, self.outcome.best_files = iteration, counted, files
                await self.emit(ev.BEST, {"speedup": counted})
            base = self.outcome.best_files or files
            if last:
                return None
            decided = stored is not None and stored.plan and stored.approval and stored.approval.get("decision") != "reject"
            plan = await self.accelerate_plan(verdict, base, stored.plan if stored else None, stored.approval if stored else None)
            if plan is None:
                self.outcome.stopped = "no acceptable optimisation plan"
                return None
            if not decided:  # a stored decision's history entry was rebuilt with the rest of the memory
                self.memory.append(MemoryEntry(iteration + 1, plan, "(pending)"))
            return ("accelerate", self.templates["coder_accelerate"].render(
                task_id=self.task.id, op=self.task.op, device=verdict.device, performance=describe_performance(verdict, self.speedups),
                bottleneck=plan.bottleneck, method=plan.method, plan=plan.plan, kernel=files_block(base), tolerance=self.task.tolerance))  # fmt: skip
        if last:
            return None
        suggestions = await self.debug(verdict, files, stored.debugger if stored else None)
        return ("repair", self.templates["coder_repair"].render(
            task_id=self.task.id, op=self.task.op, verdict=verdict.kind.value, failure=self.failure_text(verdict),
            suggestions=suggestions, kernel=files_block(files)))  # fmt: skip

    def _parse_stored(self, answer: str) -> KernelCandidate | None:
        try:
            return parse_answer(answer, self.slot)
        except AnswerFormatError:
            return None

    def _stage_sink(self):
        loop_self = self

        def progress(stage: str) -> None:
            import asyncio

            if loop_self.sink is not None:
                asyncio.get_event_loop().create_task(loop_self.emit(ev.STAGE, {"stage": stage}))

        return progress


def _advice(advice: dict) -> str:
    return f"- local: {advice.get('local_error_suggestion', '')}\n- cross-file: {advice.get('crossfile_error_suggestion', '')}"


def _suggestions(text: str) -> dict:
    data = extract_json(text)
    if data is None or not ({"local_error_suggestion", "crossfile_error_suggestion"} & data.keys()):
        raise ValueError("expected a JSON object with local_error_suggestion and crossfile_error_suggestion")
    return data


def _plan(text: str) -> Plan:
    data = extract_json(text)
    if data is None or not all(isinstance(data.get(k), str) and data.get(k) for k in ("bottleneck", "method", "plan")):
        raise ValueError('expected a JSON object {"bottleneck": ..., "method": ..., "plan": ...}')
    return Plan(data["bottleneck"][:800], data["method"][:800], data["plan"][:800])
