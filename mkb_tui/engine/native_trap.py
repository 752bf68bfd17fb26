"""MNN's own implementation of the slot's op, unusable in the candidate's process.

The slot-able library exports MNN's internals, and any library's code is in the candidate's address space: a kernel
that reaches MNN's native creator of its own op (the creator registry, a vtable, a walk of the dynamic symbol table, a
decode of `CPUBackend::onCreate`'s machine code, another op type served by the same native creator) returns MNN's
execution as its own, and was `correct` at 1.0x. Refusing names cannot stop reads of memory. So the code itself is
taken away: every function the native source's objects define and no other object calls (their strong and local
functions, and the weak ones no other object of the library defines: the op's own template instantiations; not its
registration, nor a function MNN hands to other ops), and the op's compute in other objects (the compute-library
functions the native code calls, every implementation of the function-table members it uses, and whatever those
members hold in MNN's tables at run time: engine/core_table.py), less what the model's other nodes need, is
overwritten with trapping instructions by the runner before the plug-in loads (runner_src: trapNative), in the
candidate's process only. Any route into it ends the process with SIGTRAP (x86) or SIGILL (arm64), which the judge
reads as a call of MNN's native implementation. The oracle (MNN's own code, copied through the slot) runs untrapped:
it is the harness's, not a candidate's.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path

from mkb_tui.engine.object_check import cached, nm_lines

TEXT_KINDS = frozenset("TtWi")  # nm kinds of functions (W: weak, possibly data; only .so text entries are kept)
TRAP_SIGNALS = (5, 4)  # SIGTRAP (int3), SIGILL (udf): how a trapped native function ends a process


def _nm(nm: str, paths: list[str], flags: tuple[str, ...] = ("--defined-only",)) -> list[tuple[str, str, list[str]]]:
    """(file, name, the rest) per nm line."""
    return [(head, parts[0], parts[1:]) for head, parts in nm_lines(nm, list(flags), paths) if len(parts) >= 2]


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].split(".")[0]


def native_functions(build_dir: Path, lib: Path, stems: frozenset[str], nm: str = "nm", *, helpers: frozenset[str] = frozenset(),
                     members: frozenset[str] = frozenset(), held: frozenset[int] = frozenset()) -> list[tuple[int, int]]:  # fmt: skip
    """(offset, size) in `lib` of each function to trap, merged where they touch: those the objects of the native
    sources `stems` define and no other object calls by that name, and the op's compute: `helpers` (the
    compute-library functions the native objects call: MNNNorm, MNNSigmoid...) and every implementation of the function-table `members` the native files use (MNNSoftmax,
    _AVX_MNNSoftmax, _SSE_MNNSoftmax...), which other code calls too but this model does not (the caller leaves out
    what its other nodes need), and the functions at the offsets `held` (what the members hold in MNN's function
    tables at run time, engine/core_table.py: the template instantiations no name matches). Cached per library build."""
    if not (stems or helpers or members or held) or not lib.exists():
        return []

    def compute() -> list[list[int]]:
        objects = [str(p) for p in build_dir.rglob("*.o")]
        own: dict[str, str] = {}  # name -> kind, in the native objects
        elsewhere_weak: set[str] = set()
        for head, name, rest in _nm(nm, objects):
            kind = rest[0]
            if _stem(head) in stems:
                if kind in TEXT_KINDS:
                    own.setdefault(name, kind)
            elif kind in ("W", "V"):
                elsewhere_weak.add(name)
        # what another object calls is MNN's shared code, not the op's alone (its registration, which MNN's op list
        # calls at start-up; CPUUnary::selectForFloat, which the core function table hands to other ops)
        called_elsewhere = {name for _, name, _ in _nm(nm, [o for o in objects if _stem(o) not in stems], ("--undefined-only",))}
        places: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for _, name, rest in _nm(nm, [str(lib)], ("--defined-only", "-S")):
            base = name.removesuffix(".localalias")
            if len(rest) >= 3 and rest[0] in TEXT_KINDS and int(rest[2], 16) > 0:
                places[base].add((int(rest[1], 16), int(rest[2], 16)))
        ranges: set[tuple[int, int]] = set()
        for name, kind in own.items():
            spots = places.get(name, set())
            # a name at several places (a static helper of the same name in another file) is not known to be the native's
            if len(spots) != 1 or (kind == "W" and name in elsewhere_weak):
                continue
            # by name, not address: a base constructor other objects call as C2 stays trapped under its C1 name, and
            # with it every class built on it (MNN's conv executors on CPUConvolution; a kernel may not name those
            # classes either, and no task's model runs them beside the slot)
            if name not in called_elsewhere:
                ranges.add(next(iter(spots)))
        for name, spots in places.items():
            if name in helpers or _implements(name, members):
                ranges |= spots
        every = sorted({spot for spots in places.values() for spot in spots})
        ranges |= {spot for offset in held for spot in _around(every, offset)}
        return [list(r) for r in _merged(sorted(ranges))]

    key = hashlib.sha256("\0".join(sorted(helpers) + ["|"] + sorted(members) + ["|"] + [f"{o:x}" for o in sorted(held)]).encode()).hexdigest()[:12]
    return [tuple(r) for r in cached(f"traps-{lib.parent.parent.name}-{'-'.join(sorted(stems))}-{key}", lib, compute)]  # type: ignore[misc]


def _around(functions: list[tuple[int, int]], offset: int) -> list[tuple[int, int]]:
    """The function (start, size) that holds `offset`, from a sorted list; none when no symbol covers it."""
    import bisect

    at = bisect.bisect_right(functions, (offset, float("inf"))) - 1
    return [functions[at]] if at >= 0 and functions[at][0] <= offset < functions[at][0] + functions[at][1] else []


_VARIANT = re.compile(r"^(?:_AVX512_|_AVX_FMA_|_AVX_|_SSE_|_NEON_)?")


def _implements(name: str, members: frozenset[str]) -> bool:
    """Whether a symbol is an implementation of one of the function table's members: the plain C function or an ISA
    variant (_AVX_, _SSE_, ...), mangled or not."""
    if not members:
        return False
    ident = name
    m = re.match(r"^_Z(\d+)", name)
    if m:
        ident = name[m.end() : m.end() + int(m.group(1))]
    return _VARIANT.sub("", ident, count=1) in members


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for start, size in ranges:
        if out and start <= out[-1][0] + out[-1][1]:
            out[-1][1] = max(out[-1][1], start + size - out[-1][0])
        else:
            out.append([start, size])
    return [(a, b) for a, b in out]


def trap_env(ranges: list[tuple[int, int]]) -> str:
    """MKB_TRAP for the runner."""
    return ",".join(f"{start:x}+{size:x}" for start, size in ranges)


SUBTYPE_FIELD = {"UnaryOp": "opType", "BinaryOp": "opType", "Reduction": "operation", "Pooling": "type"}  # in a model's JSON


def model_needs_native(op_type: str, subtype: str | None, native_file: str, ops: list[dict], registrations: dict[str, tuple[str, str]]) -> bool:
    """Whether the model itself would run MNN's code for the slot's op in the candidate's process: a node of another
    op type that the same native file serves (CPURelu.cpp: ReLU and PReLU), or a node of the slot's type with another
    sub-type (which the slot leaves to MNN). Then nothing is trapped (the name checks still hold): an honest kernel
    must never fail for the harness's defence. No task of either suite is such a model."""
    for op in ops:
        kind = op.get("type")
        if kind != op_type and registrations.get(kind, ("",))[0] == native_file:
            return True
        if kind == op_type and subtype and op_type in SUBTYPE_FIELD:
            main = op.get("main") if isinstance(op.get("main"), dict) else {}
            if str(main.get(SUBTYPE_FIELD[op_type], subtype)) != subtype:
                return True
    return False
