"""What a runner process says about itself, read as untrusted text: its report line (the last line it writes), the
per-run lines it streams as each run ends (plan 1), and the hash it computes of a run's outputs. Pure functions: a
malformed report is a failed run, never an exception where a field is used."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np


def output_hash(arrays: list) -> str:
    """The runner's hash of a run's outputs (outputHash in mkb_runner.cpp), as 16 hex digits: per tensor the sum of its
    little-endian 64-bit words times 1, 3, 5, ... (mod 2^64), folded with the byte count."""
    h = 0
    for a in arrays:
        raw = np.ascontiguousarray(a).tobytes()
        words = np.frombuffer(raw + b"\0" * (-len(raw) % 8), dtype="<u8")
        with np.errstate(over="ignore"):
            total = int((words * np.arange(1, 2 * len(words), 2, dtype=np.uint64)).sum(dtype=np.uint64))
        h = (h * 1000003 + total + len(raw)) % (1 << 64)
    return f"{h:016x}"


def _digest(arrays: list) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(str(a.dtype).encode() + str(a.shape).encode() + a.tobytes())
    return h.hexdigest()


_STREAMED = re.compile(r"^mkbrun (\d+) (-?\d+) (-?\d+)$", re.M)


def streamed_disagreement(stdout: str, report: dict) -> str | None:
    """The runner writes each run's times (ns) on a line of its own the moment the run ends, before any candidate
    code runs again; its report must say the same. A report whose times differ was rewritten in the runner's memory
    after the fact (pure)."""
    lines = [(int(r), int(t), int(w)) for r, t, w in _STREAMED.findall(stdout)]
    times, raw = report.get("times_ms") or [], report.get("raw_ms") or []
    if [r for r, _, _ in lines] != list(range(len(times))) or len(raw) != len(times):
        return f"the runner's per-run lines ({len(lines)}) do not match its report ({len(times)} runs)"
    for (run, t, w), tm, wm in zip(lines, times, raw):
        if round(float(tm) * 1e6) != t or round(float(wm) * 1e6) != w:
            return f"run {run}'s times in the runner's report differ from those it sent when the run ended (rewritten in memory)"
    return None


def parse_runner_output(stdout: str, *, streamed: bool = True) -> dict | None:
    """The runner's report: its last line (it writes nothing after it, and exits). A JSON line a kernel printed
    earlier is never taken for it, and a report whose times differ from the lines the runner streamed as each run
    ended is a failed run (plan 1; on the channel, `streamed=False`, the runner streams nothing: its times decide
    nothing there)."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith("{"):
        return None
    try:
        report = json.loads(lines[-1])
    except ValueError:
        return None
    if not isinstance(report, dict):
        return None
    bad = malformed_report(report)
    if bad:
        return {"ok": False, "error": f"the runner's report is malformed ({bad})"}
    why = streamed_disagreement(stdout, report) if report.get("ok") and streamed else None
    return {"ok": False, "error": why} if why else report


_LISTS = ("times_ms", "raw_ms", "io_ms")
_MAX_LIST = 1 << 16


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) != float("inf")


def malformed_report(report: dict) -> str | None:
    """What is wrong with the types of a runner's report, or None (pure). The report is the last line of a process
    the candidate's code ran in, so it may be anything JSON can say: each field the judge reads must have the type the
    judge reads it as, or the process failed (never an exception later, where the field is used)."""
    if not isinstance(report.get("ok"), bool):
        return "ok"
    for key in _LISTS:
        value = report.get(key)
        if value is not None and not (isinstance(value, list) and len(value) <= _MAX_LIST and all(_number(v) for v in value)):
            return key
    hashes = report.get("hashes")
    if hashes is not None and not (isinstance(hashes, list) and len(hashes) <= _MAX_LIST
                                   and all(isinstance(h, str) and len(h) <= 64 for h in hashes)):  # fmt: skip
        return "hashes"
    proof = report.get("candidate_proof")
    if proof is not None and not (isinstance(proof, dict) and all(_number(v) for v in proof.values())):
        return "candidate_proof"
    for key, longest in (("error", 1 << 16), ("clock", 64), ("api", 64), ("precision", 64)):  # clock: kept in the verdict
        if report.get(key) is not None and not (isinstance(report[key], str) and len(report[key]) <= longest):
            return key
    if report.get("timed_ms") is not None and not _number(report["timed_ms"]):
        return "timed_ms"
    return None
