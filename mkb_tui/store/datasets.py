"""Training data from stored sessions: every evaluated kernel with the prompt that produced it, as SFT records
(prompt, completion) or preference pairs (chosen, rejected) for the same prompt. Text is passed through
`redact_text`: no key, path or machine detail leaves in an export."""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mkb_tui.store.redact import redact_record, redact_text
from mkb_tui.store.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.flags import read_flags
from mkb_tui.vocabulary.verdicts import doubts

# how good a verdict is, for preference pairs (a device error says nothing about the kernel: never paired)
TIERS = {"correct": 3, "wrong_output": 2, "runtime_error": 2, "timeout": 2, "compile_error": 1, "rejected": 1, "format_error": 0}


@dataclass(frozen=True)
class ExportFilter:
    models: tuple[str, ...] = ()  # globs over the session's model (anthropic:claude-*)
    categories: tuple[str, ...] = ()  # task categories, any case
    verdicts: tuple[str, ...] = ()  # sft: the records'; preference: the chosen side's
    min_speedup: float | None = None  # sft: the records'; preference: the chosen side's

    def pool(self, c: Candidate) -> bool:
        """Whether a candidate is in the pool at all (model and category)."""
        if self.models and not any(fnmatch.fnmatch(c.model, m) for m in self.models):
            return False
        return not self.categories or c.category.lower() in {x.lower() for x in self.categories}

    def selects(self, c: Candidate) -> bool:
        """Whether a candidate qualifies as an SFT record or the chosen side of a pair."""
        if self.verdicts and c.verdict not in self.verdicts:
            return False
        # the trusted speedup only: a flagged timing (suspicious, unverified, dispersed...) is never "fast" (issue 18)
        return self.min_speedup is None or (c.trusted_speedup is not None and c.trusted_speedup >= self.min_speedup)


@dataclass
class Candidate:
    """One evaluated kernel and the context that produced it."""

    session_id: str
    model: str
    mnn_version: str
    task_id: str
    category: str
    op: str
    iteration: int
    mode: str
    prompt: str
    answer: str
    verdict: str
    speedup: float | None
    flags: list[str] = field(default_factory=list)

    @property
    def trusted_speedup(self) -> float | None:
        return None if doubts(self.flags) else self.speedup

    def score(self) -> tuple[int, float]:
        return TIERS.get(self.verdict, -1), self.trusted_speedup or 0.0

    def meta(self) -> dict[str, Any]:
        return {"task": self.task_id, "op": self.op, "category": self.category, "model": self.model, "mnn_version": self.mnn_version,
                "session": self.session_id, "iteration": self.iteration, "mode": self.mode}  # fmt: skip


async def session_candidates(store: Store, session_id: str) -> list[Candidate]:
    """Walk a session's events: the last prompt to the Coder and the Coder's last answer before each verdict."""
    info = await store.session(session_id)
    model, mnn_version = info.get("model") or "", info.get("mnn_version") or ""
    prompt: dict[str | None, tuple[int | None, str]] = {}  # task -> (iteration, the last prompt to the Coder)
    answer: dict[str | None, tuple[int | None, str]] = {}  # task -> (iteration, the Coder's last answer)
    mode: dict[tuple, str] = {}
    meta: dict[str | None, dict[str, Any]] = {}
    out: list[Candidate] = []
    async for e in store.iter_events(session_id):
        p, task = e.payload, e.task_id
        if e.kind == ev.TASK_STARTED:
            meta[task] = p
        elif e.kind == ev.ITERATION_STARTED:
            mode[(task, e.iteration)] = p.get("mode") or ""
        elif e.kind == ev.MESSAGE and p.get("role") == "user" and p.get("to") == "coder":
            prompt[task] = (e.iteration, p.get("text") or "")
        elif e.kind == ev.MESSAGE and p.get("role") == "coder":
            answer[task] = (e.iteration, p.get("text") or "")
        elif e.kind == ev.VERDICT:
            # only a kernel the Coder wrote in this iteration: a human's edited kernel, or one judged again on resume
            # without a new answer, has no prompt and completion of its own
            (asked, text), (answered, reply) = prompt.get(task, (None, "")), answer.get(task, (None, ""))
            if mode.get((task, e.iteration)) == "human" or asked != e.iteration or answered != e.iteration:
                continue
            speedup = p.get("speedup")
            out.append(Candidate(session_id, model, mnn_version, task, (meta.get(task) or {}).get("category") or "",
                                 (meta.get(task) or {}).get("op") or "", e.iteration or 0, mode.get((task, e.iteration), ""),
                                 redact_text(text), redact_text(reply), p.get("verdict") or p.get("kind") or "",
                                 speedup if isinstance(speedup, (int, float)) else None, [str(f) for f in read_flags(p.get("flags"))[0]]))  # fmt: skip
    return out


def sft_records(candidates: Iterable[Candidate], selection: ExportFilter) -> Iterator[dict[str, Any]]:
    """Prompt and completion of each selected kernel (an identical pair once), with verdict, speedup and task facts."""
    seen: set[str] = set()
    for c in candidates:
        if not (selection.pool(c) and selection.selects(c)):
            continue
        digest = hashlib.sha256(f"{c.prompt}\0{c.answer}".encode()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        yield redact_record({"prompt": c.prompt, "completion": c.answer, "verdict": c.verdict, "speedup": c.trusted_speedup,
                             "measured_speedup": c.speedup, "flags": c.flags, **c.meta()})  # fmt: skip


def preference_records(candidates: Iterable[Candidate], selection: ExportFilter, *, max_pairs: int = 16,
                       min_ratio: float = 1.1) -> Iterator[dict[str, Any]]:  # fmt: skip
    """Better/worse pairs of kernels written for the same prompt (the same task and prompt text): a better verdict
    tier wins; between correct kernels, a trusted speedup at least `min_ratio` times the other's."""
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in candidates:
        if selection.pool(c) and c.verdict in TIERS:
            groups.setdefault((c.task_id, hashlib.sha256(c.prompt.encode()).hexdigest()), []).append(c)
    for members in groups.values():
        members.sort(key=Candidate.score, reverse=True)
        pairs = 0
        for i, chosen in enumerate(members):
            if pairs >= max_pairs or not selection.selects(chosen):
                continue
            for rejected in members[i + 1 :]:
                if pairs >= max_pairs:
                    break
                if chosen.answer == rejected.answer or not _better(chosen, rejected, min_ratio):
                    continue
                pairs += 1
                yield redact_record({"prompt": chosen.prompt, "chosen": chosen.answer, "rejected": rejected.answer,
                       "chosen_verdict": chosen.verdict, "chosen_speedup": chosen.trusted_speedup, "chosen_model": chosen.model,
                       "rejected_verdict": rejected.verdict, "rejected_speedup": rejected.trusted_speedup, "rejected_model": rejected.model,
                       "task": chosen.task_id, "op": chosen.op, "category": chosen.category, "mnn_version": chosen.mnn_version})  # fmt: skip


def _better(a: Candidate, b: Candidate, min_ratio: float) -> bool:
    (tier_a, speed_a), (tier_b, speed_b) = a.score(), b.score()
    if tier_a != tier_b:
        return tier_a > tier_b
    return tier_a == TIERS["correct"] and speed_a > 0 and speed_b > 0 and speed_a >= min_ratio * speed_b
