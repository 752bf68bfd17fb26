"""Where MNN's CPU function table points, in the slot-able library: read once per build by a trusted probe.

The native code of some ops is reached only through the table (`CoreFunctions`, filled at start-up): CPUPool calls
`core->MNNPoolingMax`, which holds `poolingMax<float, Vec8, 8, ...>`, a template instantiation no member's name
matches. A kernel that reads the member out of the table (by its offset, past every name check) ran MNN's pooling as
its own and was `correct` at 1.0x. Names cannot find those functions; the table itself can. The probe is the harness's
own program: it starts MNN's CPU backend the way a session does (which fills the table for this machine's ISA: the
AVX2, AVX512 or SSE variants), and prints, per member, the offset in the library of the function it holds. The traps
(engine/native_trap.py) then cover the function around each offset of the members the native files use. Nothing here
runs a candidate's code.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

from mkb_tui.engine.cpp_templates import render
from mkb_tui.engine.static_check import CORE_FUNCTIONS_HEADER

TABLE_FILE = "mkb_core_table.json"  # beside the library, newer than it when current
_STRUCT = re.compile(r"struct\s+CoreFunctions\s*\{(.*?)\n\s*\}\s*;", re.S)
_MEMBER = re.compile(r"\(\s*\*\s*(\w+)\s*\)\s*\(")
_LINE = re.compile(r"^(\w+) ([0-9a-f]+)$")


def members_in(preprocessed: str) -> list[str]:
    """The function-pointer members of CoreFunctions in a preprocessed header: only those the build's own defines
    keep (MNN_USE_SPARSE_COMPUTE, MNN_LOW_MEMORY... guard some), so the probe compiles for any configuration."""
    match = _STRUCT.search(preprocessed)
    if not match:
        return []
    statements = (part.strip() for part in match.group(1).split(";"))  # a member's declaration has no inner `;`
    return sorted({name for part in statements if not part.startswith("typedef") for name in _MEMBER.findall(part)[:1]})


# the tables besides MNNGetCoreFunctions() that a backend may use instead (a copy of it with an ISA's variants): found
# by their mangled getters, absent from builds without that ISA
OTHER_TABLES = ("_ZN3MNN13AVX2Functions3getEv", "_ZN3MNN14Arm82Functions3getEv", "_ZN3MNN13BF16Functions3getEv")


def probe_source(members: list[str]) -> str:
    """The probe's C++ (cpp_templates/core_table_probe.cpp): start the CPU backend (registerBackend fills the tables),
    then, for each table, one line per member that holds a function of libMNN: its name and the function's offset
    from the library's load address."""
    reports = "\n".join(f'    report("{name}", reinterpret_cast<const void*>(core->{name}));' for name in members)
    return render("core_table_probe.cpp", reports=reports, getters=", ".join(f'"{name}"' for name in OTHER_TABLES))


def parse_report(text: str) -> dict[str, list[int]]:
    """member -> the offsets it holds across the tables, from the probe's output (pure)."""
    table: dict[str, set[int]] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            table.setdefault(match.group(1), set()).add(int(match.group(2), 16))
    return {name: sorted(offsets) for name, offsets in table.items()}


def current(build_dir: Path, library: Path) -> dict[str, list[int]] | None:
    """The table read for this build of the library, or None when it is missing or older than the library."""
    path = build_dir / TABLE_FILE
    try:
        if path.stat().st_mtime_ns < library.stat().st_mtime_ns:
            return None
        data = json.loads(path.read_text())
        return {str(k): [int(x) for x in v] for k, v in data.items()}
    except (OSError, AttributeError, TypeError, ValueError):
        return None


async def read_core_table(flags: list[str], src: Path, build_dir: Path, library: Path, *, timeout: float = 300) -> dict[str, list[int]]:
    """Build and run the probe against the slot-able library (host only: the probe runs where the build runs), and
    keep its table beside the library; the caller asks only when `current` has none (SlotableLibrary.ensure). Raises
    RuntimeError with the compiler's or the probe's words on failure."""
    from mkb_tui.device.local import run_limited
    from mkb_tui.engine.build import BUILD_LIMITS

    work = build_dir / "mkb_core_table"
    work.mkdir(exist_ok=True)
    compiler, rest = flags[0], flags[1:]
    pre = await run_limited([compiler, *rest, "-E", "-x", "c++", str(src / CORE_FUNCTIONS_HEADER)], cwd=work, timeout=timeout,
                            limits=BUILD_LIMITS)  # fmt: skip
    members = members_in(pre.stdout) if pre.returncode == 0 else []
    if not members:
        raise RuntimeError(f"cannot read CoreFunctions from {CORE_FUNCTIONS_HEADER}: {pre.stderr[-500:]}")
    source = work / "probe.cpp"
    source.write_text(probe_source(members))
    exe = work / "probe"
    argv = [compiler, *rest, str(source), "-o", str(exe), f"-L{build_dir}", "-lMNN", "-ldl", f"-Wl,-rpath,{build_dir}"]
    built = await run_limited(argv, cwd=work, timeout=timeout, limits=BUILD_LIMITS)
    if built.returncode != 0:
        raise RuntimeError(f"the function-table probe did not build ({shlex.join(argv[:1])}): {built.stderr[-1500:]}")
    ran = await run_limited([str(exe)], cwd=work, timeout=60, limits=BUILD_LIMITS)
    table = parse_report(ran.stdout) if ran.returncode == 0 else {}
    if not table:
        raise RuntimeError(f"the function-table probe failed (exit {ran.returncode}): {ran.stderr[-500:]}")
    tmp = build_dir / f".{TABLE_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(table, sort_keys=True))
    os.replace(tmp, build_dir / TABLE_FILE)
    return table
