"""Plausibility from physics: the least time any honest kernel needs for a task on a device.

Per task (from its one-node ONNX export, cached): `Work`, the bytes a kernel must move (every input it depends on read
once, every output written once, at their dtypes; weights included) and the arithmetic it must do, counted per op
family and on the low side (a conv as one multiply-add per input channel and output, whatever its taps, since
Winograd and FFT save most of them; a transcendental as a few operations; a pure view as nothing).

Per device (measured once by a small program built with the device's compiler and run through the Device protocol,
cached in the user cache per device): `Caps`, the best bandwidth of one core by footprint (read, write, memset, copy,
triad; the best of them at each size) and its vector FMA peak.

    roofline_ns = max(bytes / bandwidth(footprint), ops / peak)      (one core; divided by the threads)
    floor_ns    = SAFETY * roofline_ns

The model around the op: a task's model may hold other ops (Reshapes, Casts, a layout conversion, helper nodes). They
run MNN's own kernels in the candidate's process too, so their time is part of any honest total. The trusted
baseline's process times each op type once per task (the runner's `profile`, MNN's per-op callbacks), and REST_SHARE
of the other ops' time joins the floor: a candidate that made them cost nothing (a swapped function pointer of
another op's execution, data only) is timing_impossible however it did it.

A candidate timed below the floor is impossible (`timing_impossible`: never credited, not even re-verified); one at
NEAR_FRACTION of the roofline or more is near it (`near_roofline`, said, not doubted). `fraction` is roofline_ns over
the measured time: how much of the device's limit a kernel reaches. Emulated devices (qemu) have caps recorded as
emulated and no floor: their timings never count anyway.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mkb_tui.paths import cache_dir
from mkb_tui.vocabulary.verdicts import IMPOSSIBLE, NEAR_ROOFLINE, Roofline, Verdict

CAPS_SRC = Path(__file__).resolve().parent / "caps_src" / "mkb_caps.cpp"
SAFETY = 0.5  # the floor is half the roofline: the caps are one program's best, an honest kernel may do a bit better
REST_SHARE = 0.5  # of the other ops' profiled time: callbacks and cache warmth make the profile a little high
NEAR_FRACTION = 0.5  # at half the roofline or more a timing is near the device's limit (said so)
WORK_VERSION = 1  # bump when the counting rules change (cached counts are keyed by it)

# ---- work: bytes and operations a task needs ---------------------------------------------------------------------

SIMPLE = {  # about one operation per output element
    "Abs", "Neg", "Relu", "Ceil", "Floor", "Round", "Sign", "Add", "Sub", "Mul", "Div", "Max", "Min", "Clip",
    "LeakyRelu", "PRelu", "HardSwish", "HardSigmoid", "Reciprocal", "Sqrt", "Where", "And", "Or", "Xor", "Not",
    "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Cast", "BatchNormalization", "Mod", "Sum", "Mean",
}  # fmt: skip
TRANSCENDENTAL = {  # a polynomial after range reduction: a few operations per output element, counted as 3
    "Exp", "Log", "Erf", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Tanh", "Asinh", "Acosh",
    "Atanh", "Sigmoid", "Gelu", "Pow", "Softplus", "Softsign", "Elu", "Celu", "Selu", "Softmax", "LogSoftmax",
    "LayerNormalization", "InstanceNormalization", "LRN",
}  # fmt: skip
TRANSCENDENTAL_OPS = 3
REDUCE = {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1", "ReduceSumSquare",
          "ArgMax", "ArgMin", "CumSum", "TopK", "GlobalAveragePool", "GlobalMaxPool", "Det"}  # one per input element
REDUCE_TRANSCENDENTAL = {"ReduceLogSumExp"}
VIEW = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}  # may alias their input: no floor at all
MOVE = {"Transpose", "Concat", "Split", "DepthToSpace", "SpaceToDepth", "Pad", "Tile", "Expand", "OneHot", "ScatterElements"}
# reads at most what they write of their data input (the rest of it is never needed)
SUBSET = {"Gather", "GatherElements", "Slice", "Resize", "RoiAlign"}


@dataclass(frozen=True)
class Tensor:
    shape: tuple[int, ...]
    itemsize: int

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.elements * self.itemsize


@dataclass(frozen=True)
class Work:
    """The least a kernel for one task must do: bytes read + written, arithmetic operations (an FMA counts 2)."""

    op: str
    bytes: int
    ops: int
    rule: str  # which counting rule gave it, e.g. "elementwise", "matmul", "view"
    bounded: bool = True  # False: no floor can be given (a view may cost nothing)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_work(op: str, inputs: list[Tensor | None], outputs: list[Tensor], attrs: dict[str, Any],
               weights: list[Tensor] = ()) -> Work:  # fmt: skip
    """Pure: the bytes and operations of one ONNX node of type `op` with these inputs in the node's order (None: an
    absent or constant input, not counted), outputs, attributes and extra weights (read once)."""
    present = [t for t in inputs if t is not None]
    read_all = sum(t.nbytes for t in present) + sum(w.nbytes for w in weights)
    written = sum(t.nbytes for t in outputs)
    out_elems = sum(t.elements for t in outputs)
    first = present[0] if present else None
    in_elems = first.elements if first else 0
    if op in VIEW:
        return Work(op, 0, 0, "view", bounded=False)
    if op in SIMPLE or op in TRANSCENDENTAL:
        per = TRANSCENDENTAL_OPS if op in TRANSCENDENTAL else 1
        read = read_all
        if op == "Where" and len(present) == 3:  # a lane needs only one of the two sources (counted: the larger)
            read = present[0].nbytes + max(present[1].nbytes, present[2].nbytes)
        return Work(op, read + written, per * out_elems, "transcendental" if per > 1 else "elementwise")
    if op in REDUCE or op in REDUCE_TRANSCENDENTAL:
        per = TRANSCENDENTAL_OPS if op in REDUCE_TRANSCENDENTAL else 1
        if op == "Det" and first is not None and len(first.shape) >= 2:
            n = first.shape[-1]
            ops = (first.elements // (n * n)) * (n**3) // 3  # LU elimination: n^3/3 multiply-adds, counted as n^3/3 ops
            return Work(op, read_all + written, ops, "det")
        return Work(op, read_all + written, per * in_elems, "reduction")
    if op in ("MatMul", "Gemm", "Einsum"):
        return Work(op, read_all + written, _matmul_ops(op, present, outputs, attrs), "matmul")
    if op in ("Conv", "ConvTranspose"):
        return _conv(op, present, outputs, attrs, weights, written)
    if op in ("MaxPool", "AveragePool", "LpPool"):
        kernel = math.prod(attrs.get("kernel_shape") or [1])
        read = min(first.nbytes, out_elems * kernel * first.itemsize) if first else 0  # stride > kernel skips inputs
        return Work(op, read + written, out_elems, "pool")
    if op in MOVE:
        return Work(op, read_all + written, 0, "move")
    if op in SUBSET:
        data = first.nbytes if first else 0
        # the data input read at most once per output element; indices and boxes read whole
        read = min(data, out_elems * (first.itemsize if first else 0)) + sum(t.nbytes for t in present[1:])
        return Work(op, read + written, out_elems if op in ("Resize", "RoiAlign") else 0, "subset")
    if op in ("LSTM", "RNN", "GRU"):
        return _recurrent(op, present, attrs, weights, read_all + written)
    if op == "STFT":
        shape = outputs[0].shape if outputs else ()
        if len(shape) < 3:
            return Work(op, read_all + written, 0, "fft")
        batch, frames, bins = shape[0], shape[1], shape[2]
        frame = int(attrs.get("frame_length") or 0) or (2 * (bins - 1) if attrs.get("onesided", 1) else bins)
        ops = int(batch * frames * frame * max(1.0, math.log2(frame)))  # an FFT per frame, counted low
        return Work(op, read_all + written, ops, "fft")
    # an op no rule knows: its outputs must be written, nothing else is assumed
    return Work(op, written, 0, "unknown")


def _matmul_ops(op: str, inputs: list[Tensor], outputs: list[Tensor], attrs: dict[str, Any]) -> int:
    if not outputs or len(inputs) < 2:
        return 0
    out = outputs[0].elements
    if op == "Einsum":
        equation = str(attrs.get("equation", "")).replace(" ", "")
        lhs, _, rhs = equation.partition("->")
        sizes: dict[str, int] = {}
        for term, tensor in zip(lhs.split(","), inputs):
            for letter, dim in zip(term, tensor.shape):
                sizes[letter] = dim
        contracted = math.prod(sizes[c] for c in set(sizes) - set(rhs))
        return 2 * out * contracted if contracted > 1 else out
    a = inputs[0].shape
    if op == "Gemm":
        k = a[0] if attrs.get("transA") else a[-1]
    else:
        k = a[-1]
    return 2 * out * k


def _conv(op: str, inputs: list[Tensor], outputs: list[Tensor], attrs: dict[str, Any], weights: list[Tensor], written: int) -> Work:
    x = inputs[0] if inputs else None
    if x is None or not outputs:
        return Work(op, written, 0, "conv")
    group = int(attrs.get("group", 1) or 1)
    kernel = math.prod(attrs.get("kernel_shape") or [1])
    out = outputs[0]
    n, cin = x.shape[0], x.shape[1]
    cout = out.shape[1]
    spatial_out = math.prod(out.shape[2:])
    spatial_in = math.prod(x.shape[2:])
    rest = sum(t.nbytes for t in inputs[1:]) + sum(w.nbytes for w in weights)
    if op == "Conv":
        # one multiply-add per input channel of its group per output: the taps are not counted (Winograd, FFT)
        ops = 2 * n * cout * (cin // group) * spatial_out
        read = min(x.nbytes, n * cin * spatial_out * kernel * x.itemsize) + rest  # a stride above the kernel skips inputs
    else:
        ops = 2 * n * cin * (cout // group) * spatial_in
        read = x.nbytes + rest
    return Work(op, read + written, ops, "conv")


def _recurrent(op: str, inputs: list[Tensor], attrs: dict[str, Any], weights: list[Tensor], moved: int) -> Work:
    x = inputs[0]
    hidden = int(attrs.get("hidden_size") or 0)
    gates = {"LSTM": 4, "GRU": 3}.get(op, 1)
    seq, batch, features = (x.shape + (1, 1, 1))[:3]
    ops = 2 * seq * batch * gates * hidden * (features + hidden)
    return Work(op, moved, ops, "recurrent")


def work_from_onnx(path: Path) -> Work:
    """The Work of a one-node ONNX model (the task's export): shapes by ONNX shape inference."""
    import onnx
    from onnx import helper, shape_inference

    model = shape_inference.infer_shapes(onnx.load(str(path)))
    graph = model.graph

    def tensor(vi) -> Tensor | None:
        kind = vi.type.tensor_type
        dims = tuple(int(d.dim_value) for d in kind.shape.dim)
        if any(d <= 0 for d in dims) and dims:
            return None
        return Tensor(dims, helper.tensor_dtype_to_np_dtype(kind.elem_type).itemsize)

    runtime = {vi.name: tensor(vi) for vi in graph.input}
    inits = {i.name: Tensor(tuple(int(d) for d in i.dims), helper.tensor_dtype_to_np_dtype(i.data_type).itemsize)
             for i in graph.initializer}  # fmt: skip
    nodes = [n for n in graph.node if n.op_type != "Constant"]
    if len(nodes) != 1:
        raise ValueError(f"{path.name}: {len(nodes)} compute nodes, the roofline counts one")
    node = nodes[0]
    attrs = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        attrs[a.name] = value.decode() if isinstance(value, bytes) else value
    # initializers (weights, an embedding table) in their place among the inputs: they are read like the others
    inputs = [runtime.get(name) or inits.get(name) for name in node.input]
    outputs = [t for t in (tensor(vi) for vi in graph.output) if t is not None]
    return count_work(node.op_type, inputs, outputs, attrs)


def task_work(task) -> Work:
    """A task's Work, counted once per task file version and cached (onnx takes 0.7 s to import)."""
    record = cache_dir() / "roofline" / f"work-{task.slug}-{task.content_hash}-v{WORK_VERSION}.json"
    try:
        return Work(**json.loads(record.read_text()))
    except (OSError, ValueError, TypeError):
        pass
    from mkb_tui.bench.export import onnx_path

    work = work_from_onnx(onnx_path(task))
    _write_json(record, work.as_dict())
    return work


# ---- caps: what a device can do ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caps:
    """One core's best bandwidth by footprint (GB/s at each measured size in bytes) and vector FMA peak (GFLOP/s)."""

    device: str
    bandwidth: tuple[tuple[int, float], ...]  # (footprint bytes, best GB/s of the kernels there), by size
    peak_gflops: float
    emulated: bool = False
    vector_bytes: int = 0
    measured: str = ""  # UTC time of the measurement
    kernels: dict[str, dict[str, float]] = field(default_factory=dict, compare=False)  # size -> kernel -> GB/s

    def bandwidth_gbs(self, footprint: int) -> float:
        """An upper bound of the bandwidth at this footprint: the best measured at any size not above it (a smaller
        footprint sits in a faster cache), or the best of all when it is below every measured size."""
        below = [gbs for size, gbs in self.bandwidth if size <= footprint]
        return max(below) if below else max(gbs for _, gbs in self.bandwidth)

    @property
    def peak_bandwidth_gbs(self) -> float:
        return max(gbs for _, gbs in self.bandwidth)

    @property
    def dram_bandwidth_gbs(self) -> float:
        return self.bandwidth[-1][1]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bandwidth"] = [list(p) for p in self.bandwidth]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Caps:
        values = dict(data)
        values["bandwidth"] = tuple((int(s), float(g)) for s, g in data["bandwidth"])
        return cls(**values)


def parse_caps(stdout: str, device: str, *, emulated: bool) -> Caps:
    """The caps program's JSON line (ValueError when it is not a sane report)."""
    lines = [line for line in stdout.splitlines() if line.strip().startswith("{")]
    if not lines:
        raise ValueError("the caps program printed no report")
    report = json.loads(lines[-1])
    if not report.get("ok"):
        raise ValueError(f"the caps program failed: {report.get('error')}")
    points, kernels = [], {}
    for row in report["bandwidth"]:
        size = int(row["bytes"])
        figures = {k: float(v) for k, v in row.items() if k != "bytes"}
        if not figures or not all(math.isfinite(v) and v > 0 for v in figures.values()):
            raise ValueError(f"the caps program's bandwidth at {size} bytes is not a figure")
        points.append((size, max(figures.values())))
        kernels[str(size)] = figures
    peak = float(report["peak_gflops"])
    if not (math.isfinite(peak) and peak > 0) or not points:
        raise ValueError("the caps program's peak is not a figure")
    return Caps(device, tuple(sorted(points)), peak, emulated, int(report.get("vector_bytes", 0)),
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), kernels)  # fmt: skip


def caps_tag() -> str:
    return hashlib.sha256(CAPS_SRC.read_bytes()).hexdigest()[:12]


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor()
    found = re.search(r"^(model name|Hardware|CPU part)\s*:\s*(.+)$", text, re.M)
    return found.group(2).strip() if found else ""


def device_key(device, details: dict[str, str]) -> str:
    """The cache key of a device's caps: its name, what it reports of itself (model, SoC...), the host's CPU where the
    device is this machine, and the caps program's version."""
    ident = json.dumps({"name": device.name, "target": device.target, "details": details, "emulated": device.emulated,
                        "cpu": _cpu_model() if device.target == "host" or device.emulated else ""}, sort_keys=True)  # fmt: skip
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", device.name)[:60]
    return f"{safe}-{hashlib.sha256((ident + caps_tag()).encode()).hexdigest()[:12]}"


def caps_path(key: str) -> Path:
    return cache_dir() / "roofline" / f"caps-{key}.json"


def compile_flags(target) -> list[str]:
    """The caps program's flags: the widest vectors the device takes (a candidate may use them through target
    attributes), FMAs contracted."""
    flags = ["-O3", "-std=gnu++11", "-ffp-contract=fast"]
    if target.name == "host" and platform.machine() in ("x86_64", "AMD64", "aarch64", "arm64"):
        flags.append("-march=native" if platform.machine() in ("x86_64", "AMD64") else "-mcpu=native")
    if target.static:
        flags.append("-static")
    return flags


async def build_caps_program(target) -> Path:
    """The caps program for a build target, compiled once per source version (kept in the cache)."""
    from mkb_tui.device.local import run_limited
    from mkb_tui.engine.build import BUILD_LIMITS
    from mkb_tui.errors import MkbError

    exe = cache_dir() / "roofline" / f"mkb_caps-{target.name}-{caps_tag()}"
    if exe.exists():
        return exe
    exe.parent.mkdir(parents=True, exist_ok=True)
    tmp = exe.with_name(f".{exe.name}.{os.getpid()}.tmp")
    proc = await run_limited([target.compiler, *compile_flags(target), str(CAPS_SRC), "-o", str(tmp)], cwd=exe.parent,
                             timeout=300, limits=BUILD_LIMITS)  # fmt: skip
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise MkbError(f"building the caps program failed: {proc.stderr.strip()[-500:]}")
    tmp.replace(exe)
    return exe


async def measure_caps(device, target=None, *, again: bool = False, timeout: float = 120.0) -> Caps:
    """The device's caps: from the cache, or measured now on the device (about a second on a host core) and cached.
    Run through the device like the runner (pushed, contained, pinned to the timing core)."""
    from mkb_tui.engine.toolchain import get_target

    target = target or get_target(device.target)
    info = await device.info()
    key = device_key(device, info.details)
    path = caps_path(key)
    if not again:
        cached = load_caps(path)
        if cached is not None:
            return cached
    exe = await build_caps_program(target)
    await device.push({"bin/mkb_caps": exe})
    proc = await device.run(["bin/mkb_caps"], timeout=timeout)
    if proc.timed_out or proc.returncode != 0:
        from mkb_tui.errors import DeviceError

        raise DeviceError(f"the caps program failed on {device.name}: {proc.stderr.strip()[-300:] or proc.stdout.strip()[-300:]}")
    caps = parse_caps(proc.stdout, device.name, emulated=device.emulated)
    previous = load_caps(path)
    if previous is not None:
        caps = merge_caps(previous, caps)  # measured again: a figure only ever goes up (a busy moment lowers it)
    _write_json(path, caps.to_dict())
    return caps


def merge_caps(a: Caps, b: Caps) -> Caps:
    """The better of two measurements of one device, size by size (pure): each is a lower bound of what it can do."""
    sizes = dict(a.bandwidth)
    for size, gbs in b.bandwidth:
        sizes[size] = max(gbs, sizes.get(size, 0.0))
    return Caps(b.device, tuple(sorted(sizes.items())), max(a.peak_gflops, b.peak_gflops), b.emulated,
                max(a.vector_bytes, b.vector_bytes), b.measured, b.kernels)  # fmt: skip


def load_caps(path: Path) -> Caps | None:
    try:
        return Caps.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True))
    os.replace(tmp, path)


# ---- the judgment --------------------------------------------------------------------------------------------------


def roofline_ns(work: Work, caps: Caps, *, threads: int = 1, precision: str = "high") -> float:
    """The time at the device's roofline: max(bytes / bandwidth at the footprint, ops / peak), one core's figures
    shared by `threads` cores; a low precision may halve the bytes and double the lanes (fp16)."""
    scale = 1.0 if precision == "high" else 0.5
    moved = work.bytes * scale
    memory = moved / (caps.bandwidth_gbs(int(moved)) * 1e9) * 1e9 if moved else 0.0
    compute = work.ops * scale / (caps.peak_gflops * 1e9) * 1e9 if work.ops else 0.0
    return max(memory, compute) / max(1, threads)


def floor_ns(work: Work, caps: Caps, *, threads: int = 1, precision: str = "high") -> float:
    """The least time an honest kernel can take: SAFETY times the roofline (0 for a view: no floor)."""
    if not work.bounded:
        return 0.0
    return SAFETY * roofline_ns(work, caps, threads=threads, precision=precision)


def judge_time(work: Work, caps: Caps, measured_ms: float, *, threads: int = 1, precision: str = "high",
               rest_ns: float = 0.0) -> Roofline:  # fmt: skip
    """Pure: how a measured time stands against the device's roofline (`rest_ns`: the floor of the model's other ops,
    already at REST_SHARE)."""
    roof = roofline_ns(work, caps, threads=threads, precision=precision)
    scale = 1.0 if precision == "high" else 0.5
    memory = work.bytes * scale / (caps.bandwidth_gbs(int(work.bytes * scale)) * 1e9) * 1e9 if work.bytes else 0.0
    bound = "memory" if memory >= roof * max(1, threads) else "compute"
    floor = floor_ns(work, caps, threads=threads, precision=precision) + (rest_ns if not caps.emulated else 0.0)
    measured_ns = measured_ms * 1e6
    fraction = roof / measured_ns if measured_ns > 0 and roof > 0 else None
    applies = not caps.emulated and ((work.bounded and roof > 0) or rest_ns > 0)
    return Roofline(
        floor_ns=round(floor, 3),
        roofline_ns=round(roof, 3),
        fraction=None if fraction is None else round(fraction, 4),
        bandwidth_gbs=round(caps.bandwidth_gbs(int(work.bytes * scale)), 3),
        peak_gflops=round(caps.peak_gflops, 3),
        bytes=work.bytes,
        ops=work.ops,
        bound=bound if work.bounded else "none",
        applies=applies,
        impossible=applies and measured_ns > 0 and measured_ns < floor,
        near=applies and fraction is not None and fraction >= NEAR_FRACTION and measured_ns >= floor,
        rest_ns=round(rest_ns, 3),
    )


@dataclass
class RooflineBound:
    """A task's work on a device, handed to the Judge: `apply` rules on the candidate's measured time."""

    work: Work
    caps: Caps
    threads: int = 1
    precision: str = "high"
    profiled_ns: float = 0.0  # the whole model's time in the profile (its callbacks make it a little high)
    profiled_rest_ns: float = 0.0  # of which the model's other ops (set_profile)

    def set_profile(self, op_ns: dict[str, float], slot_op: str) -> None:
        """The trusted baseline's per-op-type times (ns per run): every type but the slot's is the rest of the model.
        Nothing when the slot's own type is not among them (a lowered op: the profile cannot tell its work apart)."""
        mine = sum(ns for op, ns in op_ns.items() if op == slot_op)
        rest = sum(ns for op, ns in op_ns.items() if op != slot_op)
        if mine > 0:
            self.profiled_ns, self.profiled_rest_ns = mine + rest, rest

    @property
    def rest_ns(self) -> float:
        """The model's other ops at REST_SHARE (0: no profile)."""
        return REST_SHARE * self.profiled_rest_ns

    @property
    def op_share(self) -> float | None:
        """The slot's op's share of MNN's time for the model (None: no profile)."""
        return 1.0 - self.profiled_rest_ns / self.profiled_ns if self.profiled_ns > 0 else None

    def rest_floor_ns(self, baseline_ms: float | None) -> float:
        """rest_ns, never more than the same share of this evaluation's own baseline time: a profile whose callbacks
        cost more than its ops (many tiny ones) must not raise the floor above what MNN's model actually takes."""
        if not self.rest_ns or not baseline_ms or baseline_ms <= 0 or self.profiled_ns <= 0:
            return self.rest_ns
        return self.rest_ns * min(1.0, baseline_ms * 1e6 / self.profiled_ns)

    def max_speedup(self, baseline_ms: float) -> float | None:
        """The largest speedup over this baseline that physics allows (None: unbounded)."""
        floor = floor_ns(self.work, self.caps, threads=self.threads, precision=self.precision) + self.rest_floor_ns(baseline_ms)
        return baseline_ms * 1e6 / floor if floor > 0 and not self.caps.emulated else None

    def apply(self, verdict: Verdict, ratio: float | None) -> None:
        """Record the roofline figures on the verdict; below the floor: `timing_impossible`, no speedup credited;
        near the roofline: `near_roofline`."""
        if verdict.candidate is None or not verdict.candidate.median_ms > 0:
            return
        baseline_ms = verdict.baseline.median_ms if verdict.baseline is not None else None
        judged = judge_time(self.work, self.caps, verdict.candidate.median_ms, threads=self.threads, precision=self.precision,
                            rest_ns=self.rest_floor_ns(baseline_ms))  # fmt: skip
        judged.op_share = None if self.op_share is None else round(self.op_share, 4)
        if verdict.baseline is not None and verdict.baseline.median_ms > 0:
            if judged.roofline_ns > 0:
                judged.native_fraction = round(judged.roofline_ns / (verdict.baseline.median_ms * 1e6), 4)
            if verdict.baseline.median_ms * 1e6 < judged.floor_ns:
                # MNN's own kernel is honest: a floor above its time means the caps came out low (measured on a busy
                # moment) or the profile high, never that MNN is impossible. No judgment then (`mkb-tui caps --again`)
                judged.applies = judged.impossible = judged.near = False
        verdict.roofline = judged
        if judged.impossible:
            verdict.flags.append(IMPOSSIBLE)
            if ratio is not None and verdict.correct:  # (the Judge records it for the other kinds)
                verdict.timed_speedup = round(ratio, 3)
            verdict.speedup = None
        elif judged.near:
            verdict.flags.append(NEAR_ROOFLINE)


def bound_for(task, caps: Caps | None, *, threads: int = 1, precision: str = "high") -> RooflineBound | None:
    """The Judge's bound for a task, or None when the device's caps are not known."""
    if caps is None:
        return None
    try:
        work = task_work(task)
    except Exception:  # a task the counter cannot read (several compute nodes): no floor of its own, but the rest
        work = Work(task.op, 0, 0, "uncounted", bounded=False)  # of the model's may still give one (set_profile)
    return RooflineBound(work, caps, threads, precision)
