"""Runner plans (pure): which input set each run of a runner process uses, and which runs' outputs are checked.

Verification and timing are one kind of process. Every runner process is started the same way (no arguments; the
plan comes on stdin) and runs a sequence of runs, each on a different input set, drawn at random from the task's
fixed seeds and its secret pool (mkb_tui.bench.pool). The first candidate process of an evaluation writes the outputs
of all its runs (it holds every fixed seed, at random positions) and is compared in full; later processes write the
outputs of a random sample of their runs, compared too. So a kernel cannot tell a checked run from an unchecked one:
not by argv, not by counting executions, not by the input's address or content (no content repeats in a process).
Processes come in two lengths (short, long = short + `extra`): the host's wall time of long minus short processes
gives a per-run time the runner's clock cannot touch (mkb_tui.engine.timing.host_crosscheck).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.bench.tensorfile import MalformedRecord


@dataclass(frozen=True)
class InputSet:
    label: str  # "seed 3" (a fixed seed) or "pool 7" (a secret one): what a message names
    remote: str  # device path of its MKBT inputs
    reference: Path  # host path of its reference outputs: never pushed
    fixed: bool = True
    domain: str = ""  # a secret draw over the op's domain (mkb_tui.bench.domain): its kind
    # a channel device (plan 2): the host file of its inputs and its path under the supervisor's sealed folder; the
    # inputs are then never pushed, the supervisor hands them to the run that consumes them
    inputs: Path | None = None
    sealed: str | None = None


@dataclass(frozen=True)
class ProcessPlan:
    """One runner process: `sets[i]` is the input set (index into the evaluation's sets) of run i; the outputs of the
    runs in `record` are kept. Both sides of a round run the same plan."""

    sets: tuple[int, ...]
    record: tuple[int, ...] = ()
    poison: int = 0x7FC0DEAD

    @property
    def runs(self) -> int:
        return len(self.sets)


@dataclass
class Shape:
    """Process lengths: `warmup` runs on one input set (not counted), then `runs` counted runs, or `runs + extra` in
    a long process, each on its own set. Warm-up repeats a set because warming up is what it is for; the counted runs
    never see a content twice, so nothing memoised from an earlier run is ever the answer."""

    warmup: int = 8
    runs: int = 4
    extra: int = 4
    check_runs: int = 16  # counted runs whose outputs are compared, per timing (a cheat skipping work in most runs is seen)
    check_bytes: int = 32 << 20  # but fewer when the outputs are large

    @property
    def short(self) -> int:
        return self.warmup + self.runs

    @property
    def long(self) -> int:
        return self.warmup + self.runs + self.extra

    def distinct(self, length: int) -> int:
        """Input sets a process of `length` runs uses."""
        return length - self.warmup + (1 if self.warmup else 0)


def _layout(shape: Shape, chosen: list[int]) -> tuple[int, ...]:
    """Warm-up on the first chosen set, then one run on each of the others."""
    if not shape.warmup:
        return tuple(chosen)
    return (chosen[0],) * shape.warmup + tuple(chosen[1:])


def verification_plan(sets: list[InputSet], shape: Shape, rng: random.Random) -> ProcessPlan:
    """A long process whose sets hold every fixed seed, the domain draws (as many as fit beside one pool set) and
    random pool sets, in random order; the outputs of every counted run and of the first and last warm-up run are
    kept."""
    fixed = [i for i, s in enumerate(sets) if s.fixed]
    distinct = max(shape.distinct(shape.long), len(fixed))
    if distinct > len(sets):
        raise ValueError(f"a process on {distinct} input sets needs that many, the task has {len(sets)}")
    domain = [i for i, s in enumerate(sets) if not s.fixed and s.domain]
    fixed += rng.sample(domain, min(len(domain), max(distinct - len(fixed) - 1, 0)))
    pool = [i for i, s in enumerate(sets) if i not in fixed]
    chosen = fixed + rng.sample(pool, distinct - len(fixed))
    rng.shuffle(chosen)
    layout = _layout(shape, chosen)
    keep = sorted({0, max(shape.warmup - 1, 0), *range(shape.warmup, len(layout))})
    return ProcessPlan(layout, tuple(keep), _poison(rng))


def timing_plans(sets: list[InputSet], shape: Shape, rounds: int, output_bytes: int, rng: random.Random, *,
                 first_long: bool = False, check_all: bool = False, secret_only: bool = False) -> list[ProcessPlan]:
    """Plans for `rounds` rounds, alternating short and long (long first when `first_long`), each a random draw of
    distinct sets in random order. A random sample of all their counted runs is kept for checking: `check_runs`, fewer
    when that would exceed `check_bytes` of outputs (at least 4); every counted run when `check_all`. `secret_only`:
    timed runs draw from the secret pool alone (a fixed seed's inputs are public: its answer could be built in), when
    the pool is large enough."""
    lengths = [shape.long if (r % 2 == 0) == first_long else shape.short for r in range(rounds)]
    need = max((shape.distinct(n) for n in lengths), default=0)
    eligible = list(range(len(sets)))
    if secret_only and sum(1 for s in sets if not s.fixed) >= need:
        eligible = [i for i, s in enumerate(sets) if not s.fixed]
    if need > len(sets):
        raise ValueError(f"a process on {need} input sets needs that many, the task has {len(sets)}")
    positions = [(p, run) for p, n in enumerate(lengths) for run in range(shape.warmup, n)]
    budget = max(4, min(shape.check_runs, shape.check_bytes // max(output_bytes, 1)))
    checked = set(positions if check_all else rng.sample(positions, min(len(positions), budget)))
    plans = []
    for p, n in enumerate(lengths):
        layout = _layout(shape, rng.sample(eligible, shape.distinct(n)))
        plans.append(ProcessPlan(layout, tuple(run for run in range(n) if (p, run) in checked), _poison(rng)))
    return plans


def _poison(rng: random.Random) -> int:
    return 0x7FC00000 | rng.getrandbits(22)


@dataclass
class PlanText:
    """The runner's stdin for one process, and the device path of its record file (None when nothing is kept)."""

    text: str
    record: str | None = None


def plan_text(plan: ProcessPlan, sets: list[InputSet], *, model: str, api: str, threads: int, precision: str,
              record: str) -> PlanText:
    """The plan as the runner reads it: only the sets this process uses are listed (numbered in order of first use)."""
    lines = ["mkbplan 1", f"model {model}", f"api {api}", f"threads {threads}", f"precision {precision}", f"poison {plan.poison:08x}"]
    order = list(dict.fromkeys(plan.sets))
    lines += [f"input {sets[s].remote}" for s in order]
    if plan.record:
        lines.append(f"record {record}")
    kept = set(plan.record)
    lines += [f"run {order.index(s)}{' keep' if run in kept else ''}" for run, s in enumerate(plan.sets)]
    return PlanText("\n".join(lines) + "\n", record if plan.record else None)


def kept_outputs(tensors: list[tuple[str, object]]) -> dict[int, list]:
    """The record file's tensors ("RUN:NAME") grouped by run, in order; MalformedRecord for a name that does not
    start with a run number (the record is written by a process the candidate's code ran in)."""
    runs: dict[int, list] = {}
    for i, (name, array) in enumerate(tensors):
        run, colon, _ = name.partition(":")
        if not colon or not run.isascii() or not run.isdigit() or len(run) > 6:
            raise MalformedRecord(f"tensor {i}: its name does not start with a run number")
        runs.setdefault(int(run), []).append(array)
    return runs
