"""Where an interrupted MoKA task stands, read from its stored events (pure), so a resumed loop continues the step that
was in flight instead of starting the iteration over as a fresh draft:

- the Coder's answer was in flight: ask again with the same stored prompt (same mode);
- the kernel was stored but not judged: evaluate that stored kernel (nobody is asked anything);
- the verdict was stored: go on from it, with the Debugger's stored advice, or the Accelerator's stored plan (still
  pending: shown for approval again; decided: its Coder prompt follows), or ask the role whose answer was in flight.

Also rebuilt: the Accelerator's history (every plan with its measured outcome or rejection), the speedups so far, the
verdicts, and the best correct kernel. A human's edited kernel is the same kind of pending step (`human_step`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event
from mkb_tui.vocabulary.verdicts import VerdictKind

ASK, EVALUATE, AFTER_VERDICT = "ask", "evaluate", "after_verdict"


@dataclass
class PendingStep:
    kind: str  # ask | evaluate | after_verdict
    iteration: int
    mode: str  # draft | repair | accelerate | human
    prompt: str | None = None  # ask: the Coder's prompt, as stored
    answer: str | None = None  # ask: the Coder's stored answer whose kernel never got stored (parsed again first)
    files: dict[str, str] | None = None  # evaluate / after_verdict: the iteration's kernel
    verdict: dict | None = None  # after_verdict: the stored verdict payload
    debugger: str | None = None  # after a failure: the Debugger's stored answer
    plan: dict | None = None  # after a correct kernel: the Accelerator's last plan (bottleneck, method, plan)
    approval: dict | None = None  # ... and the decision on it, when one was stored


@dataclass
class ResumePoint:
    pending: PendingStep | None  # None: the next iteration starts afresh (e.g. nothing of it was stored)
    next_iteration: int  # where the loop goes on when nothing is pending
    memory: list[tuple[int, dict, str]] = field(default_factory=list)  # (iteration, plan, outcome): the Accelerator's history
    speedups: list[float | None] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    best_iteration: int | None = None
    best_speedup: float | None = None
    best_files: dict[str, str] | None = None
    compiled: bool = False
    correct: bool = False


def _outcome(verdict: dict) -> str:
    speed = verdict.get("speedup")
    return verdict.get("verdict", "?") + (f", speedup {speed:.3f}x" if speed else "")


def resume_point(events: list[Event]) -> ResumePoint | None:
    """The state of one task's loop after its stored events (in order); None when nothing of it was stored."""
    modes: dict[int, str] = {}
    prompts: dict[int, str] = {}  # the first user -> coder prompt of each iteration (later ones add a format reminder)
    answers: dict[int, str] = {}
    kernels: dict[int, dict] = {}
    verdicts: dict[int, dict] = {}
    after: dict[int, dict] = {}  # per judged iteration: debugger, plan, approval seen after its verdict
    point = ResumePoint(None, 0)
    for e in events:
        i, p = e.iteration, e.payload
        if e.kind == ev.ITERATION_STARTED:
            modes[i] = p.get("mode", "draft")
        elif e.kind == ev.MESSAGE and i is not None:
            role = p.get("role")
            if role == "user" and p.get("to") == "coder" and i not in verdicts:
                prompts.setdefault(i, p.get("text", ""))
            elif role == "coder" and i not in verdicts:
                answers[i] = p.get("text", "")
            elif role == "debugger" and i in verdicts:
                after.setdefault(i, {})["debugger"] = p.get("text", "")
        elif e.kind == ev.KERNEL:
            kernels[i] = p.get("files", {})
        elif e.kind == ev.VERDICT:
            verdicts[i] = p
            kind = p.get("verdict", "")
            point.verdicts.append(kind)
            if kind != VerdictKind.FORMAT_ERROR.value:
                point.speedups.append(p.get("speedup"))
            try:
                point.compiled |= VerdictKind(kind).compiled
            except ValueError:
                pass
            point.correct |= kind == VerdictKind.CORRECT.value
            if modes.get(i) == "accelerate" and point.memory and point.memory[-1][2] == "(pending)":
                it, plan, _ = point.memory[-1]
                point.memory[-1] = (it, plan, _outcome(p))
        elif e.kind == ev.PLAN:
            slot = after.setdefault(i, {})
            slot["plan"], slot["approval"] = {k: p.get(k, "") for k in ("bottleneck", "method", "plan")}, None
        elif e.kind == ev.APPROVAL:
            slot = after.setdefault(i, {})
            slot["approval"] = p
            plan = slot.get("plan") or {}
            if p.get("decision") == "reject":
                point.memory.append((i, plan, f"rejected by the user: {p.get('reason', '')}"))
                slot["plan"], slot["approval"] = None, None  # a new plan is asked
            else:
                final = {"bottleneck": p.get("bottleneck") or plan.get("bottleneck", ""), "method": p.get("method") or plan.get("method", ""),
                         "plan": p.get("plan") or plan.get("plan", "")}  # fmt: skip
                slot["plan"] = final
                point.memory.append((i + 1, final, "(pending)"))
        elif e.kind == ev.BEST:
            point.best_iteration, point.best_speedup = i, p.get("speedup")
            point.best_files = kernels.get(i)
    started = [i for i in modes if i in prompts or i in verdicts or i in kernels]
    if not started:
        return None if not verdicts else point
    last = max(started)
    mode = modes.get(last, "draft")
    if last in verdicts:
        verdict = verdicts[last]
        point.next_iteration = last + 1
        if verdict.get("verdict") == VerdictKind.FORMAT_ERROR.value:  # the same prompt again, as the loop does
            point.pending = PendingStep(ASK, last + 1, mode, prompt=prompts.get(last))
            return point
        extra = after.get(last, {})
        point.pending = PendingStep(AFTER_VERDICT, last, mode, files=kernels.get(last), verdict=verdict, debugger=extra.get("debugger"),
                                    plan=extra.get("plan"), approval=extra.get("approval"))  # fmt: skip
        return point
    point.next_iteration = last
    if last in kernels:
        point.pending = PendingStep(EVALUATE, last, mode, files=kernels[last])
    else:
        point.pending = PendingStep(ASK, last, mode, prompt=prompts.get(last), answer=answers.get(last))
    return point


def human_step(point: ResumePoint | None, files: dict[str, str]) -> ResumePoint:
    """The point after a person's edited kernel: it is evaluated as the next iteration (mode human), and the loop goes
    on from its verdict like from the Coder's."""
    point = point or ResumePoint(None, 0)
    iteration = point.next_iteration
    if point.pending is not None and point.pending.kind != AFTER_VERDICT:
        iteration = point.pending.iteration  # the step in flight is replaced by the person's kernel
    point.pending = PendingStep(EVALUATE, iteration, "human", files=dict(files))
    point.next_iteration = iteration
    return point
