"""The channel (plan 2): runs whose inputs, clock and output hashes live with the supervisor, outside the runner.

A device whose runner processes a trusted supervisor starts (device/_supervisor_main.py) takes plan-2 runs. The
runner's plan names no input file: it lists the layout of one input set, and the supervisor hands each run its input
set in a memory file only when the run starts, after the previous run's clocks were read. So no input of an evaluation
exists in the candidate's reach before the run that consumes it is on the outside clock (class 17), and nothing the
candidate can write (the runner's stack, its clock, its report) decides a time or a verdict (class 18).

This module is pure: the plan text, and a defensive reading of what the supervisor measured and kept (the layout line
and the kept bytes come from the runner, so they are untrusted).
"""

from __future__ import annotations

import base64
import hashlib
import statistics
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mkb_tui.bench.tensorfile import CODE_DTYPES
from mkb_tui.engine.schedule import PlanText, ProcessPlan
from mkb_tui.engine.timing import summarize

MAX_OUTPUT_TENSORS = 64
MAX_NDIM = 16


class ChannelError(ValueError):
    """What a runner sent over the channel does not hold together (its doing: a `runtime_error`)."""


@dataclass(frozen=True)
class LayoutTensor:
    name: str
    code: int  # MKBT dtype code
    dims: tuple[int, ...]
    offset: int
    nbytes: int


def input_layout(path: Path) -> list[LayoutTensor]:
    """The tensors of a host-written MKBT input file, laid out one after another as the supervisor hands them over."""
    blob = Path(path).read_bytes()
    if blob[:4] != b"MKBT":
        raise ValueError(f"{path}: not an MKBT file")
    (count,) = struct.unpack_from("<I", blob, 8)
    pos, offset, out = 12, 0, []
    for _ in range(count):
        (name_len,) = struct.unpack_from("<I", blob, pos)
        name = blob[pos + 4 : pos + 4 + name_len].decode()
        pos += 4 + name_len
        code, ndim = struct.unpack_from("<II", blob, pos)
        pos += 8
        dims = struct.unpack_from(f"<{ndim}q", blob, pos)
        pos += 8 * ndim
        (nbytes,) = struct.unpack_from("<Q", blob, pos)
        pos += 8 + nbytes
        out.append(LayoutTensor(name, code, tuple(dims), offset, nbytes))
        offset += nbytes
    return out


def channel_plan_text(plan: ProcessPlan, layout: list[LayoutTensor], *, model: str, api: str, threads: int,
                      precision: str) -> PlanText:  # fmt: skip
    """The plan as a plan-2 runner reads it: the input layout and the number of runs; which set a run gets, and which
    runs are kept, only the supervisor knows."""
    lines = ["mkbplan 2", f"model {model}", f"api {api}", f"threads {threads}", f"precision {precision}", f"poison {plan.poison:08x}"]
    for t in layout:
        if not t.name or any(c.isspace() for c in t.name):
            raise ValueError(f"input tensor name {t.name!r} cannot go in a plan")
        lines.append(f"tensor {t.name} {t.code} {len(t.dims)} {' '.join(str(d) for d in t.dims)} {t.offset} {t.nbytes}".replace("  ", " "))
    lines.append(f"runs {plan.runs}")
    return PlanText("\n".join(lines) + "\n", None)


@dataclass(frozen=True)
class RunClock:
    """One run as the supervisor saw it: the runner's CPU time (all its threads, the kernel's accounting) from the
    moment its input was in place to its 'D', the wall time of the same span, the CPU it used after its 'D' until the
    next input (0 after the last run), and the sha256 of its outputs."""

    cpu_ns: int
    wall_ns: int
    gap_ns: int
    digest: str

    @property
    def cost_ms(self) -> float:
        """What the run is charged: every CPU nanosecond from its input to the next one."""
        return (self.cpu_ns + self.gap_ns) / 1e6


@dataclass
class ChannelRecord:
    runs: list[RunClock]
    kept: dict[int, list[np.ndarray]] = field(default_factory=dict)
    total_cpu_ns: int | None = None
    direct: bool = False  # the supervisor wrote the inputs into and read the outputs from the session's tensors itself

    def untimed_ms(self) -> float | None:
        """CPU time of the process outside its runs: start-up, loading, session creation, teardown."""
        if self.total_cpu_ns is None:
            return None
        return max(0.0, (self.total_cpu_ns - sum(r.cpu_ns + r.gap_ns for r in self.runs)) / 1e6)


def _output_layout(line: str) -> list[tuple[str, np.dtype, tuple[int, ...], int, int]]:
    """`R OUTBYTES COUNT (NAME DTYPE NDIM DIMS...)*` -> (name, dtype, shape, offset, nbytes) per output."""
    words = line.split()
    try:
        if not words or words[0] != "R":
            raise ChannelError("the runner's output layout is malformed")
        total, count = int(words[1]), int(words[2])
        if not 0 <= count <= MAX_OUTPUT_TENSORS:
            raise ChannelError(f"the runner announced {count} outputs")
        at, offset, out = 3, 0, []
        for _ in range(count):
            name, code, ndim = words[at], int(words[at + 1]), int(words[at + 2])
            if code not in CODE_DTYPES or not 0 <= ndim <= MAX_NDIM:
                raise ChannelError("the runner's output layout names an unknown element type or rank")
            dims = tuple(int(w) for w in words[at + 3 : at + 3 + ndim])
            if len(dims) != ndim or any(d < 0 for d in dims):
                raise ChannelError("the runner's output layout has malformed dimensions")
            at += 3 + ndim
            dtype = CODE_DTYPES[code]
            nbytes = int(np.prod(dims, dtype=object)) * dtype.itemsize if dims else dtype.itemsize
            out.append((name, dtype, dims, offset, nbytes))
            offset += nbytes
        if at != len(words) or offset != total:
            raise ChannelError("the runner's output layout does not add up")
    except (IndexError, ValueError) as exc:
        if isinstance(exc, ChannelError):
            raise
        raise ChannelError("the runner's output layout is malformed") from None
    return out


def parse_channel(answer: dict | None, *, runs: int, keep: tuple[int, ...]) -> ChannelRecord:
    """What the supervisor answered for one plan-2 process, checked whole. Raises ChannelError (a short message that
    quotes nothing the runner wrote) when the runner broke the protocol or its outputs do not match their layout."""
    if not isinstance(answer, dict):
        raise ChannelError("the supervisor measured nothing (the runner never opened the channel)")
    if answer.get("error"):
        raise ChannelError(f"the runner broke the channel: {str(answer['error'])[:200]}")
    clocks = answer.get("runs") or []
    if len(clocks) != runs:
        raise ChannelError(f"the runner completed {len(clocks)} of {runs} runs over the channel")
    record = ChannelRecord([RunClock(int(c[0]), int(c[1]), int(c[2]), str(c[3])) for c in clocks],
                           total_cpu_ns=answer.get("total_cpu_ns"), direct=answer.get("direct") is True)  # fmt: skip
    if not keep:
        return record
    layout = _output_layout(str(answer.get("layout") or ""))
    kept = answer.get("kept") or {}
    for run in keep:
        raw = kept.get(str(run), kept.get(run))
        if raw is None:
            raise ChannelError(f"the supervisor kept no outputs of run {run}")
        data = base64.b64decode(raw)
        if hashlib.sha256(data).hexdigest() != record.runs[run].digest:
            raise ChannelError(f"the outputs kept of run {run} are not those hashed")  # the supervisor's own: never
        arrays = []
        for name, dtype, dims, offset, nbytes in layout:
            arrays.append(np.frombuffer(data[offset : offset + nbytes], dtype=dtype.newbyteorder("<")).astype(dtype).reshape(dims))
        record.kept[run] = arrays
    return record


# ---- outside times ----------------------------------------------------------------------------------------------------

SETUP_NOISE_MS = 3.0  # start-up CPU a candidate library may differ by without a charge (dynamic loading, page faults)
SETUP_NOISE_REL = 0.25


def overhead_ms(baseline: list[tuple[list[float], list[float]]]) -> float:
    """The runner's own cost per run outside MNN's session run (feeding, copying outputs out, the handshake): the
    baseline's outside charge minus its in-process time. The baseline process holds no candidate code, so its
    in-process clock is MNN's and the runner's only; both sides run the same runner, on the same layouts."""
    diffs = [cost - inside for costs, insides in baseline for cost, inside in zip(costs, insides)]
    return max(0.0, statistics.median(diffs)) if diffs else 0.0


def setup_charge_ms(base_untimed: list[float], cand_untimed: list[float], counted_runs: int) -> float:
    """What a candidate process's CPU outside its runs (start-up, warm-up setup) exceeds the baseline's by, beyond
    start-up noise, charged per counted run: work moved out of the timed runs is paid for by them. The candidate's
    side is read at its lower quartile: work a kernel does in its untimed phases is there in every process, while a
    busy machine's page faults and preemptions come in some (one such process doubled an honest gelu's time)."""
    if not base_untimed or not cand_untimed or counted_runs <= 0:
        return 0.0
    base, cand = statistics.median(base_untimed), _lower_quartile(cand_untimed)
    excess = cand - base - (SETUP_NOISE_MS + SETUP_NOISE_REL * base)
    return max(0.0, excess) / counted_runs


def _lower_quartile(values: list[float]) -> float:
    ordered = sorted(values)
    return statistics.quantiles(ordered, n=4, method="inclusive")[0] if len(ordered) >= 4 else ordered[0]


# One side of one round as the outside clock sees it: the supervisor's record and the process's own in-process times
# (its claim: shown, and a floor on its charge, never deciding).
Side = tuple[ChannelRecord, list]


def charged_ms(runs: list[RunClock], inside: list, overhead: float, extra_ms: float) -> list[float]:
    """Each counted run's charge (ms): its outside cost less the runner's own overhead, never less than what the
    process's own clock says (a claim that is not a number of the right count is no claim)."""
    claims = [t if isinstance(t, (int, float)) and t == t else 0.0 for t in inside] if len(inside) == len(runs) else [0.0] * len(runs)
    return [max(r.cost_ms - overhead, min(float(claim), r.cost_ms), 1e-6) + extra_ms for r, claim in zip(runs, claims)]


def untimed_ms(record: ChannelRecord, warmup: int) -> float:
    """A process's CPU outside its counted runs that its counted runs did not need: start-up and teardown, and
    warm-up runs beyond what as many counted runs cost."""
    counted = [r.cost_ms for r in record.runs[warmup:]]
    warm = sum(r.cost_ms for r in record.runs[:warmup])
    extra_warm = max(0.0, warm - warmup * statistics.median(counted)) if counted else warm
    return (record.untimed_ms() or 0.0) + extra_warm


def cost_dispersion(rounds: list[tuple[Side, Side]], warmup: int) -> float:
    """The wider of the two sides' IQR / median of each counted run's whole outside cost."""
    worst = 0.0
    for side in (0, 1):
        costs = summarize([r.cost_ms for pair in rounds for r in pair[side][0].runs[warmup:]])
        if costs.median_ms > 0:
            worst = max(worst, costs.iqr_ms / costs.median_ms)
    return worst


def outside_rounds(rounds: list[tuple[Side, Side]], warmup: int) -> tuple[list[tuple[list[float], list[float]]], dict]:
    """Both sides by the supervisor's clock (the kernel's accounting of the runner's CPU from its input to the next).
    The runner's own cost per run (feeding, copying out, the handshake) is seen on each round's baseline process,
    which holds no candidate code: its outside cost minus its in-process time. It moves with the machine's load (the
    copies share the caches), so each round's figure is taken out of that round's two processes. A run is charged
    max(outside cost - that overhead, its own in-process time): a process's own clock can only make it slower, and it
    keeps a tiny op's figure from dropping to the noise of the subtraction. The same rule on both sides; what a
    candidate process spent outside its runs beyond the baseline's is charged to its runs. Returns each round's
    charges (baseline, candidate) and what the verdict shows of them."""
    counted = statistics.median(len(c.runs) - warmup for _, (c, _) in rounds)
    base_untimed = [untimed_ms(b, warmup) for (b, _), _ in rounds]
    cand_untimed = [untimed_ms(c, warmup) for _, (c, _) in rounds]
    charge = setup_charge_ms(base_untimed, cand_untimed, int(counted))
    charges, overheads = [], []
    for (b, b_inside), (c, c_inside) in rounds:
        over = overhead_ms([([r.cost_ms for r in b.runs[warmup:]], b_inside[warmup:])])
        overheads.append(over)
        charges.append((charged_ms(b.runs[warmup:], b_inside[warmup:], over, 0.0),
                        charged_ms(c.runs[warmup:], c_inside[warmup:], over, charge)))  # fmt: skip
    claimed = [t for _, (_, c_inside) in rounds for t in c_inside[warmup:]]
    base_inside = [t for (_, b_inside), _ in rounds for t in b_inside[warmup:]]
    direct = all(b.direct and c.direct for (b, _), (c, _) in rounds)
    info = {"clock": "outside", "copies": "supervisor" if direct else "runner", "overhead_ms": round(statistics.median(overheads), 6), "setup_charge_ms": round(charge, 6),
            "untimed_ms": {"baseline": round(statistics.median(base_untimed), 3), "candidate": round(statistics.median(cand_untimed), 3)},
            "baseline_inside_ms": round(statistics.median(base_inside), 6) if base_inside else None,
            # what the candidate's own process claimed (its clock is in its reach: shown, never deciding)
            "inside_claim_ms": round(statistics.median(claimed), 6) if claimed else None}  # fmt: skip
    return charges, info
